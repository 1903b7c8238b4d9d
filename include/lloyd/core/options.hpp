#pragma once
#include <concepts>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "lloyd/shard.hpp"

namespace lloyd {

enum class InitMethod { KMeansPlusPlus, Forgy, RandomPartition, Explicit, KMeansParallel };

/// "k-means++", "k-means||", "forgy" (alias "random"), "random-partition"; anything else
/// is Explicit.
InitMethod parse_init_method(const std::string& name);
const char* to_string(InitMethod method);

/// How the rows are assigned in each iteration. All of them give the same labels, and so
/// the same centroids, from the same start: the pruned ones only skip distances that
/// provably cannot change a label.
enum class Algorithm {
  Lloyd,    ///< every distance, GEMM form (the reference)
  Hamerly,  ///< one upper and one lower bound per row (Hamerly 2010)
  Yinyang,  ///< one upper bound and one lower bound per group of ~10 centres (Ding et al. 2015)
  Auto,     ///< chosen from k and d (choose_algorithm)
};

/// "lloyd", "hamerly", "yinyang", "auto"; throws std::invalid_argument otherwise.
Algorithm parse_algorithm(const std::string& name);
const char* to_string(Algorithm algorithm);
/// What `Auto` runs for k centres in d dimensions.
Algorithm choose_algorithm(Algorithm requested, Eigen::Index k, Eigen::Index d);

/// K-medoids: how medoids are improved (kmeans/kmedoids.hpp).
enum class MedoidMethod { Alternate, Pam };
/// "alternate" or "pam"; anything else is an Error.
MedoidMethod parse_medoid_method(const std::string& name);
const char* to_string(MedoidMethod method);

/// Everything that determines a fit besides the data: results depend on these and the data
/// only, never on the number of ranks.
struct KMeansOptions {
  int k = 8;
  InitMethod init = InitMethod::KMeansPlusPlus;
  int n_init = 1;        ///< seeded restarts; the lowest inertia wins (ties: first restart)
  int max_iter = 300;
  double tol = 1e-4;     ///< relative to the mean feature variance, as in scikit-learn
  std::uint64_t seed = 0;
  /// k-means||: expected candidates per round (ℓ; 0 means 2k) and the number of rounds.
  double oversampling = 0;
  int init_rounds = 5;
  /// When ≥ 0, the absolute tolerance instead of tol × the data's mean variance (bisecting
  /// K-Means: each 2-means uses the tolerance of the whole data set, as scikit-learn).
  double tol_absolute = -1;
  /// How rows are assigned: never changes the result, only the time it takes.
  Algorithm algorithm = Algorithm::Lloyd;
};

/// One Lloyd iteration, for progress lines and the model's history.
struct IterationStats {
  int restart = 0;
  int iteration = 0;        ///< 1-based
  double inertia = 0;       ///< of this iteration's assignment
  double center_shift = 0;  ///< squared centre shift, summed over centres
  std::int64_t changed = 0; ///< labels that changed
  double seconds = 0;       ///< since the fit started
  int restarts = 1;         ///< n_init
  int max_iter = 0;
};
using IterationObserver = std::function<void(const IterationStats&)>;

/// Seconds spent per phase on this rank (the CLI reports the maximum over ranks).
struct PhaseTimes {
  double io = 0;          ///< reading the input
  double init = 0;        ///< data summary and seeding
  double assign = 0;      ///< distance kernel and local partial sums
  double reduce = 0;      ///< allreduce of sums, counts, inertia; empty-cluster relocation
  double update = 0;      ///< new centroids, shift, convergence test
  double checkpoint = 0;  ///< writing checkpoints
  double write = 0;       ///< writing the model
};

/// The work a pruned assignment (Hamerly, Yinyang) did: what --json reports of its pruning.
struct PruningWork {
  std::int64_t distances = 0;      ///< row-to-centre distances computed
  std::int64_t rows_rescored = 0;  ///< of them, rows scored against every centre (k distances
                                   ///< each; the rest: one per row whose bound was tightened)
  PruningWork& operator+=(const PruningWork& other) {
    distances += other.distances;
    rows_rescored += other.rows_rescored;
    return *this;
  }
};

/// Calls visit(name, seconds) for every phase of `phases` in one fixed order, the seconds as
/// a reference into it (const or not, as `phases` is): the one list of the phases by name that
/// the model file's /timings, --json and the gathering over ranks share.
template <class Phases, class Visit>
  requires std::same_as<std::remove_const_t<Phases>, PhaseTimes>
void for_each_phase(Phases& phases, Visit&& visit) {
  visit("io", phases.io);
  visit("init", phases.init);
  visit("assign", phases.assign);
  visit("reduce", phases.reduce);
  visit("update", phases.update);
  visit("checkpoint", phases.checkpoint);
  visit("write", phases.write);
}

template <class T>
struct KMeansResult {
  RowMatrix<T> centroids;            ///< k × d, identical on every rank
  std::vector<std::int32_t> labels;  ///< this rank's rows only
  double inertia = 0;                ///< for the final centroids and labels
  double init_inertia = 0;           ///< seeding cost: inertia of the best restart's initial centres
  int n_iter = 0;
  bool converged = false;
  int best_restart = 0;
  double tol_absolute = 0;           ///< tol × mean feature variance
  std::vector<double> inertia_history, center_shift_history;  ///< of the best restart
  std::vector<double> restart_inertia;                         ///< final inertia of each restart
  PhaseTimes phases;
  Algorithm algorithm = Algorithm::Lloyd;  ///< what ran (Auto resolved)
  std::size_t bound_bytes = 0;             ///< this rank's memory for the bounds (pruned algorithms)
  PruningWork pruning;                     ///< this rank's, all iterations (pruned algorithms)
  int relocation_passes = 0;               ///< passes over the rows to relocate empty clusters
  bool interrupted = false;  ///< stopped on request after saving a checkpoint; no result
};

}  // namespace lloyd
