#include "lloyd/kmeans/fit_model.hpp"

#include <cstdio>

#include "lloyd/kmeans/driver.hpp"
#include "lloyd/kmeans/kmedians.hpp"
#include "lloyd/kmeans/nearest.hpp"
#include "lloyd/kmeans/spherical.hpp"

namespace lloyd {

namespace {

std::string exact_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

// The options a fit runs with: explicit centres fix k and mean one restart.
template <class T>
KMeansOptions options_as_run(const FitSettings& settings, const RowMatrix<T>* initial) {
  KMeansOptions options = settings.options;
  if (initial) {
    options.k = static_cast<int>(initial->rows());
    options.n_init = 1;
  }
  return options;
}

template <class T>
FitControl<T> control_of(const FitHooks<T>& hooks, const FitSettings& settings,
                         const std::function<std::uint64_t()>& fingerprint) {
  return hooks.control ? hooks.control(checkpoint_method(settings), fingerprint) : FitControl<T>{};
}

// The model's fields every mode has, from the result and the settings (this rank's labels:
// rows from `first_row` of `rows`), run with `options`; each mode adds its own.
template <class T>
FitOutcome<T> outcome_of(KMeansResult<T>&& result, const FitSettings& settings, std::uint64_t rows,
                         std::uint64_t first_row, const KMeansOptions& options) {
  FitOutcome<T> fit;
  fit.options = options;
  fit.interrupted = result.interrupted;
  fit.bound_bytes = result.bound_bytes;
  fit.pruning = result.pruning;
  fit.relocation_passes = result.relocation_passes;
  Model<T>& model = fit.model;
  model.algorithm = settings.mode;
  model.cosine = settings.cosine;
  model.label_rows = rows;
  model.first_row = first_row;
  model.centroids = std::move(result.centroids);
  model.labels = std::move(result.labels);
  FitRecord& r = model.record;
  r.inertia = result.inertia;
  r.init_inertia = result.init_inertia;
  r.n_iter = result.n_iter;
  r.converged = result.converged;
  r.seed = settings.options.seed;
  r.init = settings.init_text;
  r.n_init = settings.options.n_init;
  r.max_iter = settings.options.max_iter;
  r.tol = settings.options.tol;
  r.tol_absolute = result.tol_absolute;
  r.n_samples = rows;
  r.best_restart = result.best_restart;
  r.assignment = result.algorithm;
  if (settings.options.init == InitMethod::KMeansParallel) {
    r.oversampling = effective_oversampling(settings.options);
    r.init_rounds = settings.options.init_rounds;
  }
  r.bisecting_strategy = settings.strategy;
  model.history.inertia = std::move(result.inertia_history);
  model.history.center_shift = std::move(result.center_shift_history);
  model.history.restart_inertia = std::move(result.restart_inertia);
  model.timings.phases = result.phases;
  return fit;
}

// Mode Bisecting: k − 1 splits by distributed 2-means; the model keeps the tree.
template <class T>
FitOutcome<T> fit_bisecting_model(const Comm& comm, const FitSettings& settings, const DenseShard<T>& shard,
                                  const FitHooks<T>& hooks) {
  const KMeansOptions& options = settings.options;
  BisectingResult<T> bisected =
      fit_bisecting(comm, shard, options, settings.strategy, hooks.split,
                    control_of(hooks, settings, [&] { return data_fingerprint(comm, shard); }));
  if (bisected.interrupted) {
    FitOutcome<T> stopped;
    stopped.interrupted = true;
    return stopped;
  }
  // The model's usual fields: the leaves are the clusters, one "iteration" per split, and
  // the history the total inertia before the first and after every split.
  KMeansResult<T> result;
  result.centroids = std::move(bisected.centroids);
  result.labels = std::move(bisected.labels);
  result.inertia = bisected.inertia;
  result.init_inertia = bisected.inertia_history.front();  // one cluster: the starting point
  result.n_iter = options.k - 1;
  result.converged = true;
  result.tol_absolute = bisected.tol_absolute;
  result.inertia_history = bisected.inertia_history;
  result.phases = bisected.phases;
  FitOutcome<T> fit = outcome_of(std::move(result), settings, shard.global_rows, shard.first_row, options);
  fit.model.tree = std::move(bisected.tree);
  return fit;
}

// Mode MiniBatch from any row source (the in-memory shard, or the file block by block).
template <class T>
FitOutcome<T> fit_minibatch_model(const Comm& comm, const FitSettings& settings, RowSource<T>& source,
                                  const FitHooks<T>& hooks, const LabelSink& sink) {
  const KMeansOptions& options = settings.options;
  const FitControl<T> control = control_of(hooks, settings, [&] {
    std::uint64_t sum = 0;  // mod 2^64, block by block
    source.for_each_block([&](const DenseShard<T>& block) { sum += data_fingerprint(comm, block); });
    return sum;
  });
  // Without a sink fit_minibatch keeps the labels, which the model then holds.
  MiniBatchResult<T> result = fit_minibatch(comm, source, options, settings.batch, sink, hooks.iteration, control);
  FitOutcome<T> fit =
      outcome_of<T>(std::move(result), settings, source.global_rows(), source.local_range().begin, options);
  fit.model.counts = std::move(result.counts);
  fit.model.history.ewa_inertia = std::move(result.ewa_inertia_history);
  MiniBatchRecord& record = fit.model.record.minibatch;
  record.batch_size = static_cast<std::int64_t>(settings.batch.batch_size);
  record.max_no_improvement = settings.batch.max_no_improvement;
  record.reassignment_ratio = settings.batch.reassignment_ratio;
  record.init_size = static_cast<std::int64_t>(result.init_size);
  record.n_steps = static_cast<std::int64_t>(result.n_steps);
  return fit;
}

}  // namespace

std::string checkpoint_method(const FitSettings& settings) {
  if (settings.cosine) return "cosine";
  switch (settings.mode) {
    case ModelAlgorithm::Lloyd:
      return "lloyd";
    case ModelAlgorithm::Bisecting:
      return std::string("bisecting ") + to_string(settings.strategy);
    case ModelAlgorithm::MiniBatch:
      return "minibatch batch_size=" + std::to_string(settings.batch.batch_size) +
             " max_no_improvement=" + std::to_string(settings.batch.max_no_improvement) +
             " reassignment_ratio=" + exact_number(settings.batch.reassignment_ratio) +
             " init_size=" + std::to_string(settings.batch.init_size);
    case ModelAlgorithm::KMedoids:
      return std::string("kmedoids method=") + to_string(settings.medoids.method) +
             " distance=" + to_string(settings.medoids.distance) + " sample=" + std::to_string(settings.medoids.sample);
    case ModelAlgorithm::KMedians:
      break;
  }
  return to_string(settings.mode);
}

template <class T>
FitOutcome<T> fit_model(const Comm& comm, const FitSettings& settings, const DenseShard<T>& shard,
                        const RowMatrix<T>* initial, const FitHooks<T>& hooks, const LabelSink& sink) {
  const KMeansOptions options = options_as_run(settings, initial);
  const auto fingerprint = [&] { return data_fingerprint(comm, shard); };
  switch (settings.mode) {
    case ModelAlgorithm::Lloyd:
      return outcome_of(
          fit_kmeans(comm, shard, options, initial, hooks.iteration, control_of(hooks, settings, fingerprint)),
          settings, shard.global_rows, shard.first_row, options);
    case ModelAlgorithm::Bisecting:
      return fit_bisecting_model(comm, settings, shard, hooks);
    case ModelAlgorithm::MiniBatch: {
      const std::unique_ptr<RowSource<T>> source = shard_source(shard);
      return fit_minibatch_model(comm, settings, *source, hooks, sink);
    }
    case ModelAlgorithm::KMedians: {
      FitOutcome<T> fit = outcome_of(
          fit_kmedians(comm, shard, options, initial, hooks.iteration, control_of(hooks, settings, fingerprint)),
          settings, shard.global_rows, shard.first_row, options);
      fit.model.distance = Distance::Manhattan;
      return fit;
    }
    case ModelAlgorithm::KMedoids: {
      KMedoidsResult<T> result =
          fit_kmedoids(comm, shard, options, settings.medoids, hooks.iteration, control_of(hooks, settings, fingerprint));
      FitOutcome<T> fit = outcome_of<T>(std::move(result), settings, shard.global_rows, shard.first_row, options);
      fit.model.record.init = "build";
      fit.model.distance = settings.medoids.distance;
      fit.model.medoid_indices.assign(result.medoid_indices.begin(), result.medoid_indices.end());
      fit.model.record.medoid_method = settings.medoids.method;
      fit.model.record.sample = static_cast<std::int64_t>(result.fitted_rows);
      return fit;
    }
  }
  throw Error("fit_model: unknown mode");
}

template <class T>
FitOutcome<T> fit_model(const Comm& comm, const FitSettings& settings, RowSource<T>& source,
                        const FitHooks<T>& hooks, const LabelSink& sink, const RowMatrix<T>* initial) {
  if (settings.mode == ModelAlgorithm::MiniBatch) return fit_minibatch_model(comm, settings, source, hooks, sink);
  if (settings.mode != ModelAlgorithm::Lloyd || settings.cosine)
    throw Error("fit_model: rows from a source fit modes minibatch and lloyd (Euclidean) only");
  const KMeansOptions options = options_as_run(settings, initial);
  const FitControl<T> control = control_of(hooks, settings, [&] {
    std::uint64_t sum = 0;  // mod 2^64, block by block: the fingerprint of the rows in memory
    source.for_each_block([&](const DenseShard<T>& block) { sum += data_fingerprint(comm, block); });
    return sum;
  });
  StreamStats stats;
  FitOutcome<T> fit = outcome_of(fit_kmeans(comm, source, options, initial, hooks.iteration, control, &stats),
                                 settings, source.global_rows(), source.local_range().begin, options);
  fit.stream = stats;
  return fit;
}

template <class T>
FitOutcome<T> fit_model(const Comm& comm, const FitSettings& settings, const CsrShard<T>& unit_rows,
                        const RowMatrix<T>* initial, const FitHooks<T>& hooks) {
  KMeansOptions options = options_as_run(settings, initial);
  options.tol_absolute = options.tol;  // unit centres: the shift needs no data scale
  KMeansResult<T> result =
      fit_spherical(comm, unit_rows, options, initial, hooks.iteration,
                    control_of(hooks, settings, [&] { return data_fingerprint(comm, unit_rows); }));
  return outcome_of(std::move(result), settings, unit_rows.global_rows, unit_rows.first_row, options);
}

template <class T>
double predict_model(const Comm& comm, const Model<T>& model, const DenseShard<T>& shard,
                     std::vector<std::int32_t>& labels) {
  if (model.cosine) throw Error("predict_model: a cosine model labels unit rows (CSR)");
  if (model.tree) return predict_tree(comm, shard, *model.tree, labels);
  if (model.algorithm == ModelAlgorithm::KMedians || model.algorithm == ModelAlgorithm::KMedoids)
    return predict_nearest(comm, shard, model.centroids, model.distance, labels);
  return predict_labels(comm, shard, model.centroids, labels);
}

template <class T>
double predict_model(const Comm& comm, const Model<T>& model, const CsrShard<T>& unit_rows,
                     std::vector<std::int32_t>& labels) {
  if (!model.cosine) throw Error("predict_model: only a cosine model labels unit rows");
  return predict_spherical(comm, unit_rows, model.centroids, labels);
}

#define LLOYD_INSTANTIATE(T)                                                                                     \
  template FitOutcome<T> fit_model(const Comm&, const FitSettings&, const DenseShard<T>&, const RowMatrix<T>*, \
                                   const FitHooks<T>&, const LabelSink&);                                      \
  template FitOutcome<T> fit_model(const Comm&, const FitSettings&, RowSource<T>&, const FitHooks<T>&,         \
                                   const LabelSink&, const RowMatrix<T>*);                                     \
  template FitOutcome<T> fit_model(const Comm&, const FitSettings&, const CsrShard<T>&, const RowMatrix<T>*,   \
                                   const FitHooks<T>&);                                                        \
  template double predict_model(const Comm&, const Model<T>&, const DenseShard<T>&, std::vector<std::int32_t>&); \
  template double predict_model(const Comm&, const Model<T>&, const CsrShard<T>&, std::vector<std::int32_t>&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)
#undef LLOYD_INSTANTIATE

}  // namespace lloyd
