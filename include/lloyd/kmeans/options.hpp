#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lloyd/shard.hpp"

namespace lloyd {

enum class InitMethod { KMeansPlusPlus, Forgy, RandomPartition, Explicit };

/// "k-means++", "forgy" (alias "random"), "random-partition"; anything else is Explicit.
InitMethod parse_init_method(const std::string& name);
const char* to_string(InitMethod method);

/// Everything that determines a fit besides the data: results depend on these and the data
/// only, never on the number of ranks.
struct KMeansOptions {
  int k = 8;
  InitMethod init = InitMethod::KMeansPlusPlus;
  int n_init = 1;        ///< seeded restarts; the lowest inertia wins (ties: first restart)
  int max_iter = 300;
  double tol = 1e-4;     ///< relative to the mean feature variance, as in scikit-learn
  std::uint64_t seed = 0;
};

/// One Lloyd iteration, for progress lines and the model's history.
struct IterationStats {
  int restart = 0;
  int iteration = 0;        ///< 1-based
  double inertia = 0;       ///< of this iteration's assignment
  double center_shift = 0;  ///< squared centre shift, summed over centres
  std::int64_t changed = 0; ///< labels that changed
  double seconds = 0;       ///< since the fit started
};
using IterationObserver = std::function<void(const IterationStats&)>;

template <class T>
struct KMeansResult {
  RowMatrix<T> centroids;            ///< k × d, identical on every rank
  std::vector<std::int32_t> labels;  ///< this rank's rows only
  double inertia = 0;                ///< for the final centroids and labels
  int n_iter = 0;
  bool converged = false;
  int best_restart = 0;
  double tol_absolute = 0;           ///< tol × mean feature variance
  std::vector<double> inertia_history, center_shift_history;  ///< of the best restart
  std::vector<double> restart_inertia;                         ///< final inertia of each restart
};

}  // namespace lloyd
