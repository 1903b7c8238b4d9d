#pragma once
// `lloyd fit`: the request every mode shares. fit.cpp parses the command line, reads the rows,
// runs the library's fit (kmeans/fit_model.hpp) and writes and reports the model (one writer,
// io/model.hpp); fit_variants.cpp holds the mini-batch, K-medians and K-medoids options.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/io/model.hpp"
#include "lloyd/io/output_path.hpp"
#include "lloyd/kmeans/bisecting.hpp"
#include "lloyd/io/checkpoint.hpp"
#include "lloyd/kmeans/engine.hpp"
#include "lloyd/kmeans/fit_model.hpp"
#include "lloyd/kmeans/kmedoids.hpp"
#include "lloyd/kmeans/minibatch.hpp"
#include "lloyd/kmeans/row_distances.hpp"
#include "lloyd/core/scaling.hpp"
#include "lloyd/core/options.hpp"

namespace lloyd::cli {

/// --checkpoint FILE, --checkpoint-every N and --resume as parsed (the path is checked at
/// the start of `fit`, before any work).
struct CheckpointRequest {
  std::string path;
  int every = 0;
  bool resume = false;
};

/// What `lloyd fit` was asked, parsed and validated: the fit's settings (the library's, as
/// kmeans/fit_model.hpp runs them) and where its data comes from and goes.
struct FitRequest : FitSettings {
  DatasetRef input;
  std::string output;
  bool k_given = false;  ///< else k is the rows of an --init file
  std::optional<DatasetRef> init_file;
  std::optional<DatasetRef> sample_weight;  ///< --sample-weight FILE.h5:/w
  bool json = false, verbose = false, force = false;
  CheckpointRequest checkpoint;
  int threads = 1;           ///< --threads as applied
  bool stream = false;       ///< minibatch: rows read from the file batch by batch
  bool distances = false;    ///< --distances: the model gets /distance (needs --output)
  bool standardize = false;  ///< --standardize: z-scores of the features, kept in the model
  std::optional<MemoryLimit> memory_limit;  ///< --max-memory-per-rank (or the cgroup's share)
  bool estimate_only = false;          ///< --estimate-only: print the estimate, read nothing
  MemoryEstimate memory;               ///< the estimate at this run's ranks, from the file's shape
  std::optional<int> ranks_needed;     ///< the fewest ranks within memory_limit
};

/// The variants' own options.
void add_variant_options(po::options_description& description);
/// Reads and checks the variants' options into request.batch, .medoids and .stream (a
/// UsageError naming the option), and applies their defaults to the shared ones (mini-batch: tol 0 unless given).
void parse_variant_options(const po::variables_map& vm, FitRequest& request);

/// Rank 0's progress line of the variants (stderr): every iteration, or every 100th
/// mini-batch step; nothing without --verbose.
IterationObserver variant_progress(const Comm& comm, const FitRequest& request);
/// Rank 0's warning before a k-medoids fit on so many rows that its quadratic cost shows.
void warn_if_costly_medoids(const Comm& comm, const FitRequest& request, const MatrixShape& shape);

/// Collective over comm, --standardize: the scaling of the in-memory shard, applied to it and
/// to explicit initial centres (given in data units); nothing without --standardize.
template <class T>
std::optional<Scaling> standardize_shard(const Comm& comm, const FitRequest& request, DenseShard<T>& shard,
                                         std::optional<RowMatrix<T>>& initial);

/// --distances: each of the shard's rows' distance to its centre in the model (the model's
/// distance, its labels), kept in the model for the writer. Nothing without --distances.
template <class T, class Shard>
void attach_distances(const FitRequest& request, const Shard& shard, Model<T>& model) {
  if (!request.distances) return;
  model.has_distances = true;
  model.distances.resize(model.labels.size());
  distances_to_labels(shard, model.centroids, model.cosine ? Distance::Cosine : model.distance, model.labels,
                      model.distances);
}

/// The checkpoint of one fit, for every mode: the library's FitControl (stop on
/// SIGTERM/SIGUSR1, save every N iterations, resume from the file), and which file this fit
/// wrote or resumed from — only that file, unchanged, is removed once the model is committed.
template <class T>
class FitCheckpoint {
 public:
  /// Collective over comm. What a checkpoint must match: the common options, the input and its
  /// shape, `method` (the mode and its own options) and the data's fingerprint, which
  /// `fingerprint` computes (collectively) only when a checkpoint is asked for.
  FitCheckpoint(const Comm& comm, const FitRequest& request, const KMeansOptions& options, const MatrixShape& shape,
                std::string method, const std::function<std::uint64_t()>& fingerprint);
  FitCheckpoint(const FitCheckpoint&) = delete;
  FitCheckpoint& operator=(const FitCheckpoint&) = delete;
  bool active() const { return !request_.path.empty(); }
  const FitControl<T>& control() const { return control_; }
  /// Rank 0's view of the checkpoint file as this fit last wrote or resumed from it.
  const std::optional<FileIdentity>& own() const { return own_; }

 private:
  const Comm& comm_;
  CheckpointRequest request_;
  CheckpointIdentity identity_;
  FitControl<T> control_;
  std::optional<FileIdentity> own_;
};

/// Collective over comm: the centres of --init FILE.h5:/dataset, checked against k (the
/// rows of the file when --k is not given, which sets `options.k`) and d; explicit centres
/// mean one restart. Nothing when --init names a method.
template <class T>
std::optional<RowMatrix<T>> load_initial_centres(const Comm& comm, const FitRequest& request,
                                                 std::uint64_t features, KMeansOptions& options);

}  // namespace lloyd::cli
