// `lloyd fit --mode minibatch|kmedians|kmedoids`: the variants' options and fits. fit.cpp
// writes and reports their models like every other mode's.
#include <cstdio>

#include "fit.hpp"
#include "lloyd/io/scaled_source.hpp"
#include "lloyd/io/sample_weights.hpp"
#include "lloyd/kmeans/kmedians.hpp"

namespace lloyd::cli {

namespace {

std::string exact_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

// What a checkpoint of this variant must match besides the common options.
std::string method_identity(const FitRequest& request) {
  const VariantSettings& settings = request.variant;
  if (request.mode == ModelAlgorithm::MiniBatch)
    return "minibatch batch_size=" + std::to_string(settings.batch.batch_size) +
           " max_no_improvement=" + std::to_string(settings.batch.max_no_improvement) +
           " reassignment_ratio=" + exact_number(settings.batch.reassignment_ratio) +
           " init_size=" + std::to_string(settings.batch.init_size);
  if (request.mode == ModelAlgorithm::KMedoids)
    return std::string("kmedoids method=") + to_string(settings.medoids.method) +
           " distance=" + to_string(settings.medoids.distance) + " sample=" + std::to_string(settings.medoids.sample);
  return to_string(request.mode);
}

// Rows above which a k-medoids fit on all rows gets a warning about its quadratic cost.
constexpr std::uint64_t kLargeMedoidFit = 50000;

// Rank 0's progress line (stderr): every iteration, or every 100th mini-batch step.
IterationObserver progress(const FitRequest& request, const Comm& comm) {
  if (!request.verbose || comm.rank() != 0) return {};
  const bool steps = request.mode == ModelAlgorithm::MiniBatch;
  return [steps](const IterationStats& s) {
    if (steps && s.iteration % 100 != 0) return;
    std::fprintf(stderr, "%s %5d  %s %.10g  %.3f s\n", steps ? "step" : "iter", s.iteration,
                 steps ? "batch inertia" : "inertia", s.inertia, s.seconds);
  };
}

}  // namespace

void add_variant_options(po::options_description& description) {
  description.add_options()
      ("batch-size", po::value<std::int64_t>()->default_value(1024), "minibatch: rows per step")
      ("max-no-improvement", po::value<int>()->default_value(10),
       "minibatch: stop after N steps without improvement of the smoothed batch inertia (0: never)")
      ("reassignment-ratio", po::value<double>()->default_value(0.01),
       "minibatch: move centres with fewer rows than this fraction of the largest count to random batch rows (0: never)")
      ("init-size", po::value<std::int64_t>()->default_value(0),
       "minibatch: rows the centres are seeded from (0: 3 x batch size)")
      ("stream", po::bool_switch(),
       "minibatch: read rows from the file batch by batch instead of loading the shard (out of core)")
      ("medoid-method", po::value<std::string>()->default_value("alternate"),
       "kmedoids: alternate (Voronoi iteration) | pam (best swaps)")
      ("distance", po::value<std::string>()->default_value("euclidean"),
       "kmedoids: euclidean | manhattan | cosine")
      ("sample", po::value<std::int64_t>()->default_value(0),
       "kmedoids: choose the medoids on this many random rows, then assign all (CLARA; 0: all rows)");
}

void parse_variant_options(const po::variables_map& vm, FitRequest& request) {
  VariantSettings& settings = request.variant;
  const std::string mode = to_string(request.mode);
  const auto batch_size = vm["batch-size"].as<std::int64_t>();
  const auto init_size = vm["init-size"].as<std::int64_t>();
  const auto sample = vm["sample"].as<std::int64_t>();
  settings.batch.max_no_improvement = vm["max-no-improvement"].as<int>();
  settings.batch.reassignment_ratio = vm["reassignment-ratio"].as<double>();
  if (!(settings.batch.reassignment_ratio >= 0 && settings.batch.reassignment_ratio <= 1))
    throw UsageError("lloyd fit: --reassignment-ratio must be between 0 and 1");
  if (batch_size < 1) throw UsageError("lloyd fit: --batch-size must be at least 1");
  if (init_size < 0) throw UsageError("lloyd fit: --init-size must be >= 0 (0: 3 x batch size)");
  if (settings.batch.max_no_improvement < 0)
    throw UsageError("lloyd fit: --max-no-improvement must be >= 0 (0: never stop early)");
  if (sample < 0) throw UsageError("lloyd fit: --sample must be >= 0 (0: all rows)");
  settings.batch.batch_size = static_cast<std::uint64_t>(batch_size);
  settings.batch.init_size = static_cast<std::uint64_t>(init_size);
  settings.stream = vm["stream"].as<bool>();
  settings.medoids.sample = static_cast<std::uint64_t>(sample);
  try {
    settings.medoids.method = parse_medoid_method(vm["medoid-method"].as<std::string>());
    settings.medoids.distance = parse_distance(vm["distance"].as<std::string>());
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(std::string("lloyd fit: ") + e.what());
  }
  if (request.mode == ModelAlgorithm::MiniBatch && request.init_file)
    throw UsageError("lloyd fit: --mode minibatch seeds from a sample of rows: --init must be a method");
  if (request.mode == ModelAlgorithm::KMedoids && !vm["init"].defaulted())
    throw UsageError("lloyd fit: --mode kmedoids seeds with BUILD: --init does not apply");
  // scikit-learn's MiniBatchKMeans does not test the centre change unless asked (tol = 0).
  if (request.mode == ModelAlgorithm::MiniBatch && vm["tol"].defaulted()) request.options.tol = 0;
  if (request.mode == ModelAlgorithm::KMedoids && request.options.n_init > 1)
    throw UsageError("lloyd fit: --mode kmedoids is deterministic (BUILD): --n-init does not apply");
}

template <class T>
FitOutcome<T> fit_variant(const Comm& comm, const FitRequest& request, const MatrixShape& shape,
                          const LabelSink& sink, const DistanceSink& distance_sink) {
  const VariantSettings& settings = request.variant;
  const bool all_rows = !settings.medoids.sample || settings.medoids.sample >= shape.rows;
  if (request.mode == ModelAlgorithm::KMedoids && all_rows && shape.rows > kLargeMedoidFit && comm.rank() == 0)
    std::fprintf(stderr,
                 "lloyd fit: warning: k-medoids on all %llu rows costs O(k n^2 d) distance "
                 "evaluations per pass; consider --sample M\n",
                 static_cast<unsigned long long>(shape.rows));
  KMeansOptions options = request.options;
  std::optional<RowMatrix<T>> initial = load_initial_centres<T>(comm, request, shape.cols, options);
  check_cluster_count(options.k, shape.rows, request.input.text());
  const double read_start = MPI_Wtime();
  DenseShard<T> shard;
  std::optional<Scaling> scaling;
  if (!settings.stream) {
    shard = read_shard<T>(comm, request.input, shape);
    scaling = standardize_shard(comm, request, shard, initial);
  }
  if (request.sample_weight && !settings.stream) attach_sample_weights(comm, *request.sample_weight, shard);
  const double io_seconds = MPI_Wtime() - read_start;

  const IterationObserver observer = progress(request, comm);
  std::unique_ptr<RowSource<T>> source;
  if (request.mode == ModelAlgorithm::MiniBatch)
    source = settings.stream ? streamed_source<T>(comm, request.input, shape) : shard_source(shard);
  if (settings.stream && request.standardize) {
    // Out of core: the scaling from two passes over the file, then every block read is scaled.
    scaling = fit_standard_scaling<T>(
        comm, [&](const auto& visit) { source->for_each_block(visit); }, shape.rows,
        static_cast<Eigen::Index>(shape.cols));
    source = std::make_unique<ScaledRowSource<T>>(std::move(source), *scaling);
  }
  // Streamed rows: the rank's weights in memory, on the source the fit reads (a scaled one
  // attaches them to its blocks).
  if (request.sample_weight && settings.stream) {
    std::vector<double> weights = read_sample_weights(comm, *request.sample_weight, shape.rows, source->local_range());
    if (!every_weight_is_one(comm, weights)) source->set_weights(std::move(weights));
  }
  const FitCheckpoint<T> checkpoint(comm, request, options, shape, method_identity(request), [&] {
    if (!source) return data_fingerprint(comm, shard);
    std::uint64_t sum = 0;  // mod 2^64, block by block
    source->for_each_block([&](const DenseShard<T>& block) { sum += data_fingerprint(comm, block); });
    return sum;
  });
  FitOutcome<T> fit;
  switch (request.mode) {
    case ModelAlgorithm::MiniBatch: {
      MiniBatchResult<T> result =
          fit_minibatch(comm, *source, options, settings.batch, sink, observer, checkpoint.control());
      fit = outcome_of<T>(std::move(result), request, shape, shard.first_row, options);
      fit.model.labels.clear();  // written through the sink
      fit.model.counts = std::move(result.counts);
      fit.model.history.ewa_inertia = std::move(result.ewa_inertia_history);
      MiniBatchRecord& record = fit.model.record.minibatch;
      record.batch_size = static_cast<std::int64_t>(settings.batch.batch_size);
      record.max_no_improvement = settings.batch.max_no_improvement;
      record.reassignment_ratio = settings.batch.reassignment_ratio;
      record.init_size = static_cast<std::int64_t>(result.init_size);
      record.n_steps = static_cast<std::int64_t>(result.n_steps);
      break;
    }
    case ModelAlgorithm::KMedians:
      fit = outcome_of(fit_kmedians(comm, shard, options, initial ? &*initial : nullptr, observer,
                                    checkpoint.control()),
                       request, shape, shard.first_row, options);
      fit.model.distance = Distance::Manhattan;
      break;
    case ModelAlgorithm::KMedoids: {
      KMedoidsResult<T> result =
          fit_kmedoids(comm, shard, options, settings.medoids, observer, checkpoint.control());
      fit = outcome_of<T>(std::move(result), request, shape, shard.first_row, options);
      fit.model.record.init = "build";
      fit.model.distance = settings.medoids.distance;
      fit.model.medoid_indices.assign(result.medoid_indices.begin(), result.medoid_indices.end());
      fit.model.record.medoid_method = settings.medoids.method;
      fit.model.record.sample = static_cast<std::int64_t>(result.fitted_rows);
      break;
    }
    default:
      throw Error("fit_variant: not a variant mode");  // not reached: run_fit dispatches
  }
  fit.model.scaling = scaling;
  if (request.mode == ModelAlgorithm::MiniBatch && request.distances) {
    // Its labels went block by block to the writer: the distances follow the same way.
    fit.model.has_distances = true;
    nearest_distances_by_block(*source, fit.model.centroids, distance_sink);
  } else {
    attach_distances(request, shard, fit.model);
  }
  fit.model.timings.phases.io += io_seconds;
  fit.own_checkpoint = checkpoint.own();
  return fit;
}

template FitOutcome<float> fit_variant(const Comm&, const FitRequest&, const MatrixShape&, const LabelSink&,
                                       const DistanceSink&);
template FitOutcome<double> fit_variant(const Comm&, const FitRequest&, const MatrixShape&, const LabelSink&,
                                        const DistanceSink&);

}  // namespace lloyd::cli
