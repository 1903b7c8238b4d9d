#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/core/options.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// What the loop can resume: the bounds a saved state must lie within (checked by
/// read_checkpoint, so that a damaged file is refused with its name and field).
struct FitLimits {
  int restarts = 1;
  std::int64_t max_iterations = 0;
  int history_lead = 0;  ///< history entries before the first iteration (the seeding's)
  Eigen::Index k = 0, d = 0;
  std::size_t step_integers = 0;  ///< length of FitState::step_integers mid-way through a run
};

/// Everything needed to continue a fit exactly where it stopped. Labels are not stored:
/// they are the assignment to a stored set of centres and are recomputed on resume, so a
/// checkpoint is O(k·d), written by rank 0 only. Random draws are counter-based (keyed by
/// restart and row), so the restart index is the whole "RNG position".
template <class T>
struct FitState {
  int restart = 0;    ///< restart in progress, or the next one to start when iteration == 0
  std::int64_t iteration = 0;  ///< iterations completed in that restart
  RowMatrix<T> centroids;           ///< after `iteration` iterations
  RowMatrix<T> previous_centroids;  ///< the centres of the last assignment (its labels)
  std::vector<double> inertia_history, shift_history;  ///< of the restart in progress
  double init_inertia = 0;                             ///< its seeding cost
  std::vector<double> restart_inertia;                 ///< of the finished restarts
  /// The step's own state of the restart in progress beyond its centres (mini-batch: the
  /// per-centre counts; k-medoids: the medoids' rows), as the step saves it.
  std::vector<std::int64_t> step_integers;

  bool has_best = false;  ///< best finished restart so far
  RowMatrix<T> best_centroids;
  double best_inertia = 0, best_init_inertia = 0;
  std::int64_t best_n_iter = 0;
  bool best_converged = false;
  int best_restart = 0;
  std::vector<double> best_inertia_history, best_shift_history;

  /// The state of a method that runs the loop several times (bisecting K-Means: the tree
  /// of the splits done; the state above is that of the split in progress). Empty otherwise.
  std::vector<std::int64_t> outer_integers;
  std::vector<double> outer_reals;
  RowMatrix<T> outer_centres;
};

/// What a checkpoint belongs to: resuming with other data or options is refused. The data
/// are recognised by their content (data_fingerprint), not by their path: the same rows
/// moved elsewhere resume, other rows at the same path do not.
struct CheckpointIdentity {
  KMeansOptions options;
  std::string init_name;  ///< "k-means++", … or the init file
  std::string input;      ///< FILE.h5:/dataset (recorded, not compared)
  std::uint64_t n_samples = 0, n_features = 0;
  std::string dtype;
  std::uint64_t data_fingerprint = 0;  ///< data_fingerprint() of the rows
  /// The method and its own options ("lloyd", "cosine", "kmedians", "minibatch batch=…",
  /// …): a checkpoint of one method is never resumed by another.
  std::string method = "lloyd";
};

/// Collective over comm: a 64-bit fingerprint of the data's content: the sum (mod 2^64) over
/// rows of a hash of (global row index, the row's bytes), so it is the same for any number of
/// ranks and changes with any value, the order of the rows or the dtype (and, for a shard with
/// sample weights, with any weight).
template <class T>
std::uint64_t data_fingerprint(const Comm& comm, const DenseShard<T>& shard);
/// The same for sparse rows (a row's hash covers its columns and values).
template <class T>
std::uint64_t data_fingerprint(const Comm& comm, const CsrShard<T>& shard);

/// Collective over comm: writes the state atomically (temporary file + rename), replacing
/// an older checkpoint.
template <class T>
void write_checkpoint(const Comm& comm, const std::string& path, const FitState<T>& state,
                      const CheckpointIdentity& identity);

/// Collective over comm: the state saved in `path`, or std::nullopt when there is no such
/// file (a first run). `limits` are those of the loop that resumes (FitLimits). Every problem is an AgreedError of one line naming the checkpoint and
/// the field: not a lloyd checkpoint or another format version; another fit (an option that
/// differs) or other data (another shape, dtype or fingerprint); a field missing, of another
/// type or shape (centroids k × d of this fit, histories as long as the iterations), out of
/// range (restart in [0, n_init), iteration in [0, max_iter), …), inconsistent (the best
/// restart's inertia) or not finite.
template <class T>
std::optional<FitState<T>> read_checkpoint(const Comm& comm, const std::string& path,
                                           const CheckpointIdentity& identity,
                                           const FitLimits& limits);
/// The same with the limits of fit_kmeans (n_init restarts of max_iter iterations, k × d).
template <class T>
std::optional<FitState<T>> read_checkpoint(const Comm& comm, const std::string& path,
                                           const CheckpointIdentity& identity) {
  const KMeansOptions& o = identity.options;
  return read_checkpoint<T>(comm, path, identity,
                            {o.n_init, o.max_iter, 0, o.k, static_cast<Eigen::Index>(identity.n_features), 0});
}

/// Whether `path` is a regular file holding a lloyd checkpoint of the fit `identity`: the
/// checkpoint format and every field of the identity, the data fingerprint included. False
/// for anything else (no file, another file, another fit); never throws. Not collective: a
/// finished fit asks it before it removes its checkpoint, so that it never removes a file
/// it did not write.
bool is_checkpoint_of(const std::string& path, const CheckpointIdentity& identity);

}  // namespace lloyd
