#pragma once
// `lloyd fit`: the request every mode shares, and the mode-specific fits that turn it into a
// model. fit.cpp parses the command line, runs the mode's fit and writes and reports the model
// (one writer, io/model.hpp); fit_variants.cpp holds the mini-batch, K-medians and K-medoids
// fits and their own options.
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
#include "lloyd/kmeans/kmedoids.hpp"
#include "lloyd/kmeans/minibatch.hpp"
#include "lloyd/kmeans/row_distances.hpp"
#include "lloyd/core/scaling.hpp"
#include "lloyd/core/options.hpp"

namespace lloyd::cli {

/// The options of --mode minibatch and kmedoids (ignored by the other modes).
struct VariantSettings {
  MiniBatchOptions batch;
  bool stream = false;  ///< minibatch: rows read from the file batch by batch
  KMedoidsOptions medoids;
};

/// --checkpoint FILE, --checkpoint-every N and --resume as parsed (the path is checked at
/// the start of `fit`, before any work).
struct CheckpointRequest {
  std::string path;
  int every = 0;
  bool resume = false;
};

/// What `lloyd fit` was asked, parsed and validated.
struct FitRequest {
  ModelAlgorithm mode = ModelAlgorithm::Lloyd;  ///< --mode
  DatasetRef input;
  std::string output;
  KMeansOptions options;
  bool k_given = false;  ///< else k is the rows of an --init file
  std::string init_text;
  std::optional<DatasetRef> init_file;
  std::optional<DatasetRef> sample_weight;  ///< --sample-weight FILE.h5:/w
  bool json = false, verbose = false, force = false;
  CheckpointRequest checkpoint;
  BisectingStrategy strategy = BisectingStrategy::BiggestInertia;
  int threads = 1;      ///< --threads as applied
  bool cosine = false;  ///< --metric cosine: spherical K-Means (kmeans/spherical.hpp)
  VariantSettings variant;
  bool distances = false;    ///< --distances: the model gets /distance (needs --output)
  bool standardize = false;  ///< --standardize: z-scores of the features, kept in the model
};

/// ℓ of k-means|| as used: --oversampling, or 2k by default.
inline double effective_oversampling(const KMeansOptions& options) {
  return options.oversampling > 0 ? options.oversampling : 2.0 * options.k;
}

inline bool is_variant(ModelAlgorithm mode) {
  return mode == ModelAlgorithm::MiniBatch || mode == ModelAlgorithm::KMedians || mode == ModelAlgorithm::KMedoids;
}

/// What a fit produced: the model, and what the report prints besides it.
template <class T>
struct FitOutcome {
  Model<T> model;
  KMeansOptions options;  ///< as run: k from an --init file, one restart from explicit centres
  std::size_t bound_bytes = 0;          ///< this rank's memory for the bounds (pruned algorithms)
  std::int64_t distances_computed = 0;  ///< this rank's row-to-centre distances
  bool interrupted = false;             ///< stopped on request after saving a checkpoint
  /// The checkpoint file as this fit last wrote or resumed from it (rank 0): removed, if still
  /// unchanged, once the model is committed.
  std::optional<FileIdentity> own_checkpoint;
};

/// The outcome of a fit's result, run with `options` (this rank's labels: rows from
/// `first_row`): the model's fields every mode has, from the result, the request and the data's
/// shape; each mode adds its own.
template <class T>
FitOutcome<T> outcome_of(KMeansResult<T>&& result, const FitRequest& request, const MatrixShape& shape,
                         std::uint64_t first_row, const KMeansOptions& options) {
  FitOutcome<T> fit;
  fit.options = options;
  fit.interrupted = result.interrupted;
  fit.bound_bytes = result.bound_bytes;
  fit.distances_computed = result.distances_computed;
  Model<T>& model = fit.model;
  model.algorithm = request.mode;
  model.cosine = request.cosine;
  model.label_rows = shape.rows;
  model.first_row = first_row;
  model.centroids = std::move(result.centroids);
  model.labels = std::move(result.labels);
  FitRecord& r = model.record;
  r.inertia = result.inertia;
  r.init_inertia = result.init_inertia;
  r.n_iter = result.n_iter;
  r.converged = result.converged;
  r.seed = request.options.seed;
  r.init = request.init_text;
  r.n_init = request.options.n_init;
  r.max_iter = request.options.max_iter;
  r.tol = request.options.tol;
  r.tol_absolute = result.tol_absolute;
  r.n_samples = shape.rows;
  r.input = request.input.text();
  if (request.sample_weight) r.sample_weight = request.sample_weight->text();
  r.best_restart = result.best_restart;
  r.assignment = result.algorithm;
  if (request.options.init == InitMethod::KMeansParallel) {
    r.oversampling = effective_oversampling(request.options);
    r.init_rounds = request.options.init_rounds;
  }
  r.bisecting_strategy = request.strategy;
  model.history.inertia = std::move(result.inertia_history);
  model.history.center_shift = std::move(result.center_shift_history);
  model.history.restart_inertia = std::move(result.restart_inertia);
  model.timings.phases = result.phases;
  return fit;
}

/// The variants' own options.
void add_variant_options(po::options_description& description);
/// Reads and checks the variants' options into request.variant (a UsageError naming the
/// option), and applies their defaults to the shared ones (mini-batch: tol 0 unless given).
void parse_variant_options(const po::variables_map& vm, FitRequest& request);

/// Collective over comm: the fit of --mode minibatch, kmedians or kmedoids. Mini-batch hands
/// its labels block by block to `sink` (with --stream they are never all in memory; the
/// model's labels stay empty), and with --distances its distances to `distance_sink`; the
/// others leave both in the model.
template <class T>
FitOutcome<T> fit_variant(const Comm& comm, const FitRequest& request, const MatrixShape& shape,
                          const LabelSink& sink, const DistanceSink& distance_sink = {});

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
