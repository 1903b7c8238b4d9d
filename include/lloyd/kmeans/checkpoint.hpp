#pragma once
#include <optional>
#include <string>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/kmeans/options.hpp"

namespace lloyd {

/// Everything needed to continue a fit exactly where it stopped. Labels are not stored:
/// they are the assignment to a stored set of centres and are recomputed on resume, so a
/// checkpoint is O(k·d), written by rank 0 only. Random draws are counter-based (keyed by
/// restart and row), so the restart index is the whole "RNG position".
template <class T>
struct FitState {
  int restart = 0;    ///< restart in progress, or the next one to start when iteration == 0
  int iteration = 0;  ///< iterations completed in that restart
  RowMatrix<T> centroids;           ///< after `iteration` iterations
  RowMatrix<T> previous_centroids;  ///< the centres of the last assignment (its labels)
  std::vector<double> inertia_history, shift_history;  ///< of the restart in progress
  std::vector<double> restart_inertia;                 ///< of the finished restarts

  bool has_best = false;  ///< best finished restart so far
  RowMatrix<T> best_centroids;
  double best_inertia = 0;
  int best_n_iter = 0;
  bool best_converged = false;
  int best_restart = 0;
  std::vector<double> best_inertia_history, best_shift_history;
};

/// What a checkpoint belongs to: resuming with other data or options is refused.
struct CheckpointIdentity {
  KMeansOptions options;
  std::string init_name;  ///< "k-means++", … or the init file
  std::string input;      ///< FILE.h5:/dataset
  std::uint64_t n_samples = 0, n_features = 0;
  std::string dtype;
};

/// Collective over comm: writes the state atomically (temporary file + rename), replacing
/// an older checkpoint.
template <class T>
void write_checkpoint(const Comm& comm, const std::string& path, const FitState<T>& state,
                      const CheckpointIdentity& identity);

/// Collective over comm: the state saved in `path`, or std::nullopt when there is no such
/// file (a first run). A checkpoint of another fit is an AgreedError naming the difference.
template <class T>
std::optional<FitState<T>> read_checkpoint(const Comm& comm, const std::string& path,
                                           const CheckpointIdentity& identity);

}  // namespace lloyd
