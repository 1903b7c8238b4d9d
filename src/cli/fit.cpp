#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <span>

#include "fit.hpp"
#include "lloyd/io/csr.hpp"
#include "lloyd/io/checkpoint.hpp"
#include "lloyd/io/sample_weights.hpp"
#include "lloyd/io/scaled_source.hpp"
#include "lloyd/kmeans/bounded.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/kmeans/row_distances.hpp"
#include "lloyd/kmeans/spherical.hpp"
#include "lloyd/simd/level.hpp"

namespace lloyd::cli {

namespace {

/// Exit status of a fit stopped by SIGTERM/SIGUSR1 after saving its checkpoint
/// (EX_TEMPFAIL: "try again later" — a job script requeues on it).
constexpr int kExitInterrupted = 75;

// What a checkpoint must match besides the options it records itself: k-means||'s ℓ and
// rounds change the seeding, so they are part of the init's name there.
std::string init_identity(const FitRequest& request, const KMeansOptions& options) {
  if (options.init != InitMethod::KMeansParallel) return request.init_text;
  return request.init_text + " oversampling=" + std::to_string(effective_oversampling(options)) +
         " rounds=" + std::to_string(options.init_rounds);
}

// Set by SIGTERM/SIGUSR1 when checkpointing is on; the loop polls it once per iteration.
volatile std::sig_atomic_t stop_signal = 0;
extern "C" void request_stop(int) { stop_signal = 1; }

// Rank 0's progress line: iteration, inertia, shift, elapsed time and a rough estimate of
// the time left for all restarts (from the iterations finished restarts needed).
class ProgressPrinter {
 public:
  void operator()(const IterationStats& s) {
    if (s.restart != restart_) {
      if (restart_ >= 0) finished_iterations_.push_back(last_iteration_);
      restart_ = s.restart;
      restart_started_ = last_seconds_;
    }
    last_iteration_ = s.iteration;
    last_seconds_ = s.seconds;
    const double per_iteration = (s.seconds - restart_started_) / std::max(1, s.iteration);
    double expected = s.max_iter;  // iterations a restart takes: max_iter until one finished
    if (!finished_iterations_.empty()) {
      expected = 0;
      for (int n : finished_iterations_) expected += n;
      expected /= static_cast<double>(finished_iterations_.size());
    }
    const double remaining =
        per_iteration * (std::max(0.0, expected - s.iteration) +
                         expected * static_cast<double>(s.restarts - s.restart - 1));
    std::fprintf(stderr,
                 "restart %d/%d iter %4d  inertia %.10g  center_shift %.4g  changed %lld  "
                 "%.3f s  eta ~%.1f s\n",
                 s.restart + 1, s.restarts, s.iteration, s.inertia, s.center_shift,
                 static_cast<long long>(s.changed), s.seconds, remaining);
  }

 private:
  int restart_ = -1, last_iteration_ = 0;
  double restart_started_ = 0, last_seconds_ = 0;
  std::vector<int> finished_iterations_;
};

// What the library's fit reports and how it checkpoints, for this request: rank 0's progress
// lines (--verbose), and the checkpoint (--checkpoint), created in `checkpoint` once the fit
// names its method, matching `options` (as run) and the data.
template <class T>
FitHooks<T> fit_hooks(const Comm& comm, const FitRequest& request, const KMeansOptions& options,
                      const MatrixShape& shape, std::optional<FitCheckpoint<T>>& checkpoint) {
  FitHooks<T> hooks;
  if (request.verbose && comm.rank() == 0) {
    if (is_variant(request.mode)) hooks.iteration = variant_progress(comm, request);
    else hooks.iteration = ProgressPrinter();
    hooks.split = [](const SplitStats& s) {
      std::fprintf(stderr, "split %d  node %lld (%lld rows)  inertia %.10g  n_iter %d  %.3f s\n", s.split,
                   static_cast<long long>(s.node), static_cast<long long>(s.size), s.inertia, s.n_iter, s.seconds);
    };
  }
  hooks.control = [&comm, &request, options, shape, &checkpoint](const std::string& method,
                                                                   const std::function<std::uint64_t()>& fingerprint) {
    checkpoint.emplace(comm, request, options, shape, method, fingerprint);
    return checkpoint->control();
  };
  return hooks;
}

// --metric cosine: spherical K-Means on the rows scaled to unit norm; sparse input stays
// sparse. The model has the usual layout (inertia: Σ 1 − cos). Collective over comm.
template <class T>
FitOutcome<T> fit_cosine_mode(const Comm& comm, const FitRequest& request, const MatrixShape& shape) {
  KMeansOptions options = request.options;
  const std::optional<RowMatrix<T>> initial = load_initial_centres<T>(comm, request, shape.cols, options);
  check_cluster_count(options.k, shape.rows, request.input.text());
  const double read_start = MPI_Wtime();
  CsrShard<T> rows = read_rows_as_csr<T>(comm, request.input, shape);
  normalize_rows(rows);
  if (request.sample_weight) attach_sample_weights(comm, *request.sample_weight, rows);
  const double io_seconds = MPI_Wtime() - read_start;
  std::optional<FitCheckpoint<T>> checkpoint;
  FitOutcome<T> fit = fit_model(comm, request, rows, initial ? &*initial : nullptr,
                                fit_hooks(comm, request, options, shape, checkpoint));
  fit.model.timings.phases.io = io_seconds;
  attach_distances(request, rows, fit.model);
  if (checkpoint) fit.own_checkpoint = checkpoint->own();
  return fit;
}

// Every other mode: the rows in memory (or, mini-batch --stream, read from the file batch by
// batch), the initial centres loaded and k checked. Mini-batch hands its labels to `sink` (and
// with --distances its distances to `distance_sink`) block by block. Collective over comm.
template <class T>
FitOutcome<T> fit_dense_mode(const Comm& comm, const FitRequest& request, const MatrixShape& shape,
                             const LabelSink& sink, const DistanceSink& distance_sink) {
  warn_if_costly_medoids(comm, request, shape);
  KMeansOptions options = request.options;
  std::optional<RowMatrix<T>> initial = load_initial_centres<T>(comm, request, shape.cols, options);
  check_cluster_count(options.k, shape.rows, request.input.text());
  std::optional<FitCheckpoint<T>> checkpoint;
  const FitHooks<T> hooks = fit_hooks(comm, request, options, shape, checkpoint);
  const bool minibatch = request.mode == ModelAlgorithm::MiniBatch;
  const double read_start = MPI_Wtime();
  DenseShard<T> shard;
  std::unique_ptr<RowSource<T>> source;
  std::optional<Scaling> scaling;
  if (request.stream) {
    source = streamed_source<T>(comm, request.input, shape);
    if (request.standardize) {
      // Out of core: the scaling from two passes over the file, then every block read is scaled.
      scaling = fit_standard_scaling<T>(
          comm, [&](const auto& visit) { source->for_each_block(visit); }, shape.rows,
          static_cast<Eigen::Index>(shape.cols));
      source = std::make_unique<ScaledRowSource<T>>(std::move(source), *scaling);
    }
    // The rank's weights in memory, on the source the fit reads (a scaled one attaches them to
    // its blocks).
    if (request.sample_weight) {
      std::vector<double> weights =
          read_sample_weights(comm, *request.sample_weight, shape.rows, source->local_range());
      if (!every_weight_is_one(comm, weights)) source->set_weights(std::move(weights));
    }
  } else {
    shard = read_shard<T>(comm, request.input, shape);
    scaling = standardize_shard(comm, request, shard, initial);
    if (request.sample_weight) attach_sample_weights(comm, *request.sample_weight, shard);
  }
  const double io_seconds = MPI_Wtime() - read_start;
  FitOutcome<T> fit = source ? fit_model(comm, request, *source, hooks, sink, initial ? &*initial : nullptr)
                             : fit_model(comm, request, shard, initial ? &*initial : nullptr, hooks,
                                         minibatch ? sink : LabelSink{});
  fit.model.timings.phases.io += io_seconds;
  fit.model.scaling = scaling;
  if (minibatch && request.distances) {
    // Its labels went block by block to the writer: the distances follow the same way.
    fit.model.has_distances = true;
    nearest_distances_by_block(source ? *source : *shard_source(shard), fit.model.centroids, distance_sink);
  } else if (source && request.distances) {
    // Streamed Lloyd: each block's distances to its labels (attach_distances' values), to the
    // writer as they are computed.
    fit.model.has_distances = true;
    const std::uint64_t first = source->local_range().begin;
    std::vector<double> distances;
    source->for_each_block([&](const DenseShard<T>& block) {
      distances.resize(static_cast<std::size_t>(block.local_rows()));
      distances_to_labels(block, fit.model.centroids, Distance::Euclidean,
                          std::span<const std::int32_t>(fit.model.labels).subspan(block.first_row - first, distances.size()),
                          distances);
      distance_sink(block.first_row, distances);
    });
  } else {
    attach_distances(request, shard, fit.model);
  }
  if (checkpoint) fit.own_checkpoint = checkpoint->own();
  return fit;
}

// What a streamed fit read, over all ranks: its passes over the data (one per iteration, and
// those of the summary, the seeding and the final labels), the bytes of one pass (one
// iteration's reads), all bytes read, and the slowest rank's seconds spent reading.
// Collective over comm.
JsonObject stream_json(const Comm& comm, const StreamStats& stats, const MatrixShape& shape) {
  const double value_bytes = shape.type == ElementType::Float32 ? 4 : 8;
  JsonObject json;
  json.add("passes", static_cast<std::int64_t>(comm.allreduce(stats.passes, MPI_MAX)))
      .add("bytes_per_iteration", static_cast<double>(shape.rows) * static_cast<double>(shape.cols) * value_bytes)
      .add("bytes_read", comm.allreduce(static_cast<double>(stats.bytes_read), MPI_SUM))
      .add("io_seconds", comm.allreduce(stats.io_seconds, MPI_MAX));
  return json;
}

// Prints the result on rank 0: one JSON object or one line. Collective over comm.
template <class T>
void report_fit(const Comm& comm, const FitRequest& request, const MatrixShape& shape, const FitOutcome<T>& fit,
                double start) {
  const Model<T>& model = fit.model;
  const FitRecord& record = model.record;
  const ModelLayout layout = layout_of(model.algorithm);
  const ModelTimings timings = gather_timings(comm, model.timings.phases);
  // The pruned algorithms' memory (largest rank) and work: distances computed over all
  // ranks, as a fraction of what Lloyd computes in as many iterations (n·k each), and of them
  // the rows scored against every centre, as a fraction of the rows in as many iterations.
  const double bounds_mb = comm.allreduce(static_cast<double>(fit.bound_bytes), MPI_MAX) / (1024.0 * 1024.0);
  const double row_iterations =
      static_cast<double>(shape.rows) * static_cast<double>(std::max<std::int64_t>(record.n_iter, 1));
  const double distances_fraction =
      comm.allreduce(static_cast<double>(fit.pruning.distances), MPI_SUM) / (row_iterations * fit.options.k);
  const double rescored_fraction = comm.allreduce(static_cast<double>(fit.pruning.rows_rescored), MPI_SUM) / row_iterations;
  const double seconds = elapsed_max(comm, start);
  const bool streamed_loop = request.stream && model.algorithm == ModelAlgorithm::Lloyd && !model.cosine;
  const JsonObject stream_io = streamed_loop ? stream_json(comm, fit.stream, shape) : JsonObject{};
  if (comm.rank() != 0) return;
  if (!request.json) {
    std::printf("lloyd fit: mode=%s k=%d n=%llu d=%llu ranks=%d  inertia=%.10g  n_iter=%lld  %s  %.3f s%s%s\n",
                to_string(model.algorithm), fit.options.k, static_cast<unsigned long long>(shape.rows),
                static_cast<unsigned long long>(shape.cols), comm.size(), record.inertia,
                static_cast<long long>(record.n_iter), record.converged ? "converged" : "not converged", seconds,
                request.output.empty() ? "" : "  -> ", request.output.c_str());
    return;
  }
  JsonObject json;
  json.add("command", "fit").add("mode", to_string(model.algorithm)).add("inertia", record.inertia)
      .add("init_inertia", record.init_inertia).add("n_iter", record.n_iter)
      .add("converged", record.converged).add("k", fit.options.k)
      .add("n_samples", shape.rows).add("n_features", shape.cols)
      .add("n_ranks", comm.size()).add("threads", request.threads)
      .add("simd", simd::to_string(simd::level())).add("seconds", seconds)
      .add("seed", fit.options.seed).add("init", record.init).add("n_init", fit.options.n_init)
      .add("dtype", to_string(shape.type)).add("output", request.output);
  if (layout.lloyd_attributes) {
    json.add("best_restart", record.best_restart).add("metric", model.cosine ? "cosine" : "euclidean");
    if (layout.tree) json.add("bisecting_strategy", to_string(record.bisecting_strategy));
    json.add("algorithm", to_string(record.assignment)).add("bounds_mb", bounds_mb)
        .add("distances_computed", distances_fraction);
    if (!layout.tree && !model.cosine)
      json.add("rows_rescored", rescored_fraction).add("relocation_passes", fit.relocation_passes)
          .add("algorithm_note", loop_memory_note(request.options.algorithm, fit.options.k,
                                                  static_cast<Eigen::Index>(shape.cols), shape.rows,
                                                  shape.type == ElementType::Float32 ? 4 : 8));
  }
  if (model.algorithm == ModelAlgorithm::Lloyd && !model.cosine) {
    json.add("stream", request.stream);
    if (streamed_loop) json.add("stream_io", stream_io);
  }
  if (layout.minibatch)
    json.add("batch_size", record.minibatch.batch_size).add("n_steps", record.minibatch.n_steps)
        .add("stream", request.stream);
  if (layout.medoids)
    json.add("medoid_method", to_string(record.medoid_method)).add("distance", to_string(model.distance))
        .add("fitted_rows", record.sample);
  json.add("phases", phase_json(timings.phases)).add("phases_min", phase_json(timings.phases_min))
      .add("peak_rss_mb", timings.peak_rss_mb)
      .add("memory_estimate_mb", memory_json(request.memory, request.memory_limit, request.ranks_needed));
  std::cout << json.str() << std::endl;
}

// scikit-learn warns when fewer distinct clusters than k were found (duplicate rows: fewer
// distinct rows than k). Its test: the labels in use; a fit whose labels went to the file as
// they were computed (mini-batch) is judged by its distinct centres. Collective over comm.
template <class T>
void warn_if_fewer_clusters(const Comm& comm, const Model<T>& model, std::uint64_t rows) {
  const RowMatrix<T>& centroids = model.centroids;
  const Eigen::Index k = centroids.rows();
  std::vector<std::int64_t> used(static_cast<std::size_t>(k), 0);
  for (const std::int32_t label : model.labels)
    if (label >= 0 && label < k) used[static_cast<std::size_t>(label)] = 1;
  comm.allreduce(std::span<std::int64_t>(used), MPI_MAX);
  const auto labelled = comm.allreduce(static_cast<std::uint64_t>(model.labels.size()), MPI_SUM);
  std::int64_t clusters = std::accumulate(used.begin(), used.end(), std::int64_t{0});
  if (labelled != rows) {
    const auto row = [&](Eigen::Index c) { return std::span<const T>(centroids.row(c).data(), centroids.cols()); };
    std::vector<Eigen::Index> order(static_cast<std::size_t>(k));
    std::iota(order.begin(), order.end(), Eigen::Index{0});
    std::sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) {
      return std::ranges::lexicographical_compare(row(a), row(b));
    });
    clusters = std::unique(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) {
                 return std::ranges::equal(row(a), row(b));
               }) - order.begin();
  }
  if (clusters < k && comm.rank() == 0)
    std::fprintf(stderr,
                 "lloyd fit: warning: only %lld distinct clusters found for k = %lld (the data may have "
                 "fewer than k distinct rows)\n",
                 static_cast<long long>(clusters), static_cast<long long>(k));
}

// Fits in the requested mode, writes the model (when asked) and reports. Collective over comm.
template <class T>
int fit_typed(const Comm& comm, const FitRequest& request, const MatrixShape& shape, double start) {
  // Mini-batch hands its labels to the writer block by block as it computes them: the output
  // exists (as a partial file) during that fit.
  std::optional<ModelWriter<T>> writer;
  LabelSink sink = [](std::uint64_t, std::span<const std::int32_t>) {};
  DistanceSink distance_sink;
  // So do the distances of a streamed fit (--stream --distances), block by block.
  if ((request.mode == ModelAlgorithm::MiniBatch || (request.stream && request.distances)) && !request.output.empty()) {
    writer.emplace(comm, request.output, request.force, shape.rows);
    sink = [&](std::uint64_t first, std::span<const std::int32_t> labels) { writer->write_labels(first, labels); };
    distance_sink = [&](std::uint64_t first, std::span<const double> distances) {
      writer->write_distances(first, distances);
    };
  }
  // Documents (CSR input) have more terms than documents as a rule: no warning there.
  if (shape.cols > shape.rows && !shape.sparse && comm.rank() == 0)
    std::fprintf(stderr,
                 "lloyd fit: warning: more features than rows (n = %llu rows, d = %llu features): the "
                 "rows of %s are the samples; is the data set transposed?\n",
                 static_cast<unsigned long long>(shape.rows), static_cast<unsigned long long>(shape.cols),
                 request.input.text().c_str());
  FitOutcome<T> fit = request.cosine ? fit_cosine_mode<T>(comm, request, shape)
                                     : fit_dense_mode<T>(comm, request, shape, sink, distance_sink);
  fit.model.record.input = request.input.text();
  if (request.sample_weight) fit.model.record.sample_weight = request.sample_weight->text();
  if (fit.interrupted) {
    if (comm.rank() == 0)
      std::fprintf(stderr,
                   "lloyd fit: stopped on request; state saved to %s; continue with --resume "
                   "(lloyd's ranks exit with status %d; a launcher that was signalled itself, "
                   "such as mpirun, may report its own status)\n",
                   request.checkpoint.path.c_str(), kExitInterrupted);
    return kExitInterrupted;
  }
  warn_if_fewer_clusters(comm, fit.model, shape.rows);
  if (!request.output.empty()) {
    const double write_start = MPI_Wtime();
    if (!writer) writer.emplace(comm, request.output, request.force, shape.rows);
    writer->commit(fit.model);
    fit.model.timings.phases.write = MPI_Wtime() - write_start;
  }
  report_fit(comm, request, shape, fit, start);
  // Only now that the model is committed: the checkpoint this fit wrote is no longer needed.
  if (fit.own_checkpoint && comm.rank() == 0) remove_if_unchanged(request.checkpoint.path, *fit.own_checkpoint);
  return 0;
}

// The memory the fit will need per rank, from the data's shape alone (before a row is read):
// printed with --verbose (and with --estimate-only), kept for --json, and refused up front
// when it exceeds the limit. Returns false when the fit is not to run (--estimate-only).
// Collective over comm.
bool plan_fit_memory(const Comm& comm, FitRequest& request, const MatrixShape& shape) {
  int k = request.options.k;
  if (!request.k_given) {
    // k is the rows of the --init file; a file that cannot be read is reported when the centres
    // are loaded, with its own message (every rank meets the same error here).
    try {
      k = static_cast<int>(std::min<std::uint64_t>(inspect_matrix(comm, *request.init_file).rows, 1u << 30));
    } catch (const AgreedError&) {
      k = 1;
    }
  }
  const auto estimate_for = [&](int ranks) {
    FitSettings settings = request;
    settings.options.k = k;
    return estimate_fit_memory(shape, ranks, request.threads, settings,
                               {.distances = request.distances, .stream = request.stream,
                                .collective_read = request.input.format == InputFormat::Hdf5,
                                .standardize = request.standardize});
  };
  MemoryPlan plan{.estimate = {}, .limit = request.memory_limit, .ranks_needed = {}};
  const bool run = plan_memory(comm, "fit", estimate_for, request.verbose, request.estimate_only, request.json,
                               [&](JsonObject& json) {
                                 json.add("mode", to_string(request.mode)).add("k", k).add("n_samples", shape.rows)
                                     .add("n_features", shape.cols).add("dtype", to_string(shape.type))
                                     .add("n_ranks", comm.size()).add("threads", request.threads);
                               },
                               plan);
  request.memory = plan.estimate;
  request.ranks_needed = plan.ranks_needed;
  return run;
}

// Every option that shapes only some modes, refused (naming it) when given to another one.
void refuse_inapplicable_fit_options(const po::variables_map& vm, const FitRequest& request) {
  const ModelAlgorithm mode = request.mode;
  refuse_unless(vm, "fit", {"batch-size", "max-no-improvement", "reassignment-ratio", "init-size"},
                mode == ModelAlgorithm::MiniBatch, "--mode minibatch");
  refuse_unless(vm, "fit", {"stream"}, mode == ModelAlgorithm::MiniBatch || (mode == ModelAlgorithm::Lloyd && !request.cosine),
                "--mode minibatch or lloyd with --metric euclidean");
  refuse_unless(vm, "fit", {"medoid-method", "sample", "distance"}, mode == ModelAlgorithm::KMedoids,
                "--mode kmedoids");
  refuse_unless(vm, "fit", {"bisecting-strategy"}, mode == ModelAlgorithm::Bisecting, "--mode bisecting");
  refuse_unless(vm, "fit", {"oversampling", "init-rounds"}, request.options.init == InitMethod::KMeansParallel,
                "--init k-means||");
  refuse_unless(vm, "fit", {"force", "distances"}, !request.output.empty(), "--output MODEL.h5");
  // Only the Euclidean Lloyd loop (also each split of bisecting) has assignment algorithms.
  refuse_unless(vm, "fit", {"algorithm"},
                (mode == ModelAlgorithm::Lloyd || mode == ModelAlgorithm::Bisecting) && !request.cosine,
                "--mode lloyd or bisecting with --metric euclidean (spherical fits have one loop)");
}

}  // namespace

template <class T>
FitCheckpoint<T>::FitCheckpoint(const Comm& comm, const FitRequest& request, const KMeansOptions& options,
                                const MatrixShape& shape, std::string method,
                                const std::function<std::uint64_t()>& fingerprint)
    : comm_(comm),
      request_(request.checkpoint),
      identity_{options, init_identity(request, options), request.input.text(), shape.rows, shape.cols,
                to_string(shape.type), 0} {
  identity_.method = std::move(method);
  if (!active()) return;
  identity_.data_fingerprint = fingerprint();
  control_.stop_requested = [] { return stop_signal != 0; };
  control_.checkpoint_every = request_.every;
  control_.save = [this](const FitState<T>& state) {
    write_checkpoint(comm_, request_.path, state, identity_);
    if (comm_.rank() == 0) own_ = identify(request_.path);
  };
  if (request_.resume)
    control_.load = [this](const FitLimits& limits) {
      std::optional<FitState<T>> state = read_checkpoint<T>(comm_, request_.path, identity_, limits);
      if (state && comm_.rank() == 0) {
        own_ = identify(request_.path);
        std::fprintf(stderr, "lloyd fit: resuming from %s at restart %d, iteration %lld\n", request_.path.c_str(),
                     state->restart + 1, static_cast<long long>(state->iteration));
      }
      return state;
    };
  // From here on SIGTERM/SIGUSR1 mean "checkpoint and stop", not "die".
  std::signal(SIGTERM, request_stop);
  std::signal(SIGUSR1, request_stop);
}

template class FitCheckpoint<float>;
template class FitCheckpoint<double>;

template <class T>
std::optional<Scaling> standardize_shard(const Comm& comm, const FitRequest& request, DenseShard<T>& shard,
                                         std::optional<RowMatrix<T>>& initial) {
  if (!request.standardize) return std::nullopt;
  Scaling scaling = fit_standard_scaling(comm, shard);
  standardize(scaling, shard);
  if (initial) standardize(scaling, *initial);
  return scaling;
}
template std::optional<Scaling> standardize_shard(const Comm&, const FitRequest&, DenseShard<float>&,
                                                  std::optional<RowMatrix<float>>&);
template std::optional<Scaling> standardize_shard(const Comm&, const FitRequest&, DenseShard<double>&,
                                                  std::optional<RowMatrix<double>>&);

template <class T>
std::optional<RowMatrix<T>> load_initial_centres(const Comm& comm, const FitRequest& request,
                                                 std::uint64_t features, KMeansOptions& options) {
  if (!request.init_file) return std::nullopt;
  RowMatrix<T> centres = read_matrix<T>(comm, *request.init_file);
  if (!request.k_given) options.k = static_cast<int>(centres.rows());
  check_initial_centres(centres.rows(), centres.cols(), options.k, static_cast<Eigen::Index>(features),
                        "initial centres " + request.init_file->text());
  if (options.n_init > 1 && comm.rank() == 0)
    std::cerr << "lloyd fit: explicit initial centres given: running 1 restart, not " << options.n_init << "\n";
  options.n_init = 1;
  return centres;
}
template std::optional<RowMatrix<float>> load_initial_centres(const Comm&, const FitRequest&, std::uint64_t,
                                                              KMeansOptions&);
template std::optional<RowMatrix<double>> load_initial_centres(const Comm&, const FitRequest&, std::uint64_t,
                                                               KMeansOptions&);

int run_fit(const Comm& comm, const Args& args) {
  const double start = MPI_Wtime();
  po::options_description description("options");
  description.add_options()
      ("input", po::value<std::string>(), kInputHelp)
      ("k", po::value<int>(), "number of clusters (default: the rows of an --init file)")
      ("output", po::value<std::string>(), "model file to write (HDF5); omit to only report")
      ("init", po::value<std::string>()->default_value("k-means++"),
       "k-means++ | k-means|| | forgy | random (= forgy) | random-partition | FILE.h5:/centres (k x d)")
      ("oversampling", po::value<double>()->default_value(0),
       "k-means||: expected candidates per round (0: 2k)")
      ("init-rounds", po::value<int>()->default_value(5), "k-means||: sampling rounds")
      ("sample-weight", po::value<std::string>(),
       "FILE.h5:/w: one weight per row (>= 0, finite, not all 0), as scikit-learn's sample_weight")
      ("metric", po::value<std::string>()->default_value("euclidean"),
       "euclidean | cosine (spherical K-Means: unit rows and centres, largest dot product; dense or CSR input)")
      ("mode", po::value<std::string>()->default_value("lloyd"),
       "lloyd | bisecting (k - 1 splits of one cluster by 2-means; the model keeps the tree) | "
       "minibatch | kmedians | kmedoids")
      ("bisecting-strategy", po::value<std::string>()->default_value("biggest-inertia"),
       "bisecting: split the leaf with the biggest-inertia or the largest-cluster")
      ("max-iter", po::value<int>()->default_value(300), "maximum Lloyd iterations per restart")
      ("tol", po::value<double>()->default_value(1e-4),
       "stop when the summed squared centre shift <= tol x mean feature variance")
      ("seed", po::value<std::uint64_t>()->default_value(0), "random seed (results depend on it, not on the rank count)")
      ("json", po::bool_switch(), "print one JSON object with the result on rank 0")
      ("verbose", po::bool_switch(), "print one line per iteration on rank 0 (stderr)")
      ("force", po::bool_switch(), "overwrite --output if it exists")
      ("checkpoint", po::value<std::string>(),
       "checkpoint file: on SIGTERM/SIGUSR1 finish the iteration, save the state there and exit 75")
      ("checkpoint-every", po::value<int>()->default_value(0),
       "also save the checkpoint every N iterations (0: only when stopped)")
      ("resume", po::bool_switch(),
       "continue from --checkpoint if it exists (the result is bit-identical to an uninterrupted run)")
      ("distances", po::bool_switch(),
       "store /distance in the model: each row's distance to its centre (anomaly scores; needs --output)")
      ("standardize", po::bool_switch(),
       "fit on z-scores (exact distributed mean and population std, as StandardScaler); the model keeps "
       "the scaling and predict applies it");
  add_n_init_option(description, "seeded restarts; the lowest inertia wins");
  add_algorithm_option(description);
  add_input_options(description);
  add_variant_options(description);
  add_threads_option(description);
  add_memory_options(description);
  const auto vm = parse(comm, "fit", "--input FILE.h5:/X --k K [--output MODEL.h5] [options]",
                        description, args);
  if (!vm) return 0;

  FitRequest request;
  request.input = [&] {
    try {
      return input_option(comm, *vm, "fit");
    } catch (const UsageError&) {
      throw;
    } catch (const Error& e) {
      throw UsageError(std::string("lloyd fit: --input: ") + e.what());
    }
  }();
  request.output = vm->count("output") ? (*vm)["output"].as<std::string>() : "";
  request.init_text = (*vm)["init"].as<std::string>();
  request.options.init = parse_init_method(request.init_text);
  if (request.options.init == InitMethod::Explicit) {
    // FILE.h5:/dataset, or a model file alone: its /centroids (scikit-learn's init=model.cluster_centers_).
    if (request.init_text.find(":/") == std::string::npos &&
        !std::filesystem::exists(std::filesystem::path(request.init_text)))
      throw UsageError("lloyd fit: unknown --init '" + request.init_text +
                       "': expected k-means++, k-means||, forgy, random, random-partition, "
                       "FILE.h5:/dataset or a model MODEL.h5 (its /centroids)");
    request.init_file = parse_dataset_ref(request.init_text, "/centroids");
  }
  request.k_given = vm->count("k") > 0;
  if (!request.k_given && !request.init_file)
    throw UsageError("lloyd fit: --k is required (unless --init names a file of centres)");
  if (request.k_given) request.options.k = (*vm)["k"].as<int>();
  request.options.n_init = parse_n_init_option(*vm, "fit", request.options.init);
  request.options.max_iter = (*vm)["max-iter"].as<int>();
  request.options.tol = non_negative_option(*vm, "fit", "tol");
  request.options.seed = (*vm)["seed"].as<std::uint64_t>();
  request.options.oversampling = (*vm)["oversampling"].as<double>();
  request.options.init_rounds = (*vm)["init-rounds"].as<int>();
  if (!(request.options.oversampling >= 0) || !std::isfinite(request.options.oversampling))
    throw UsageError("lloyd fit: --oversampling must be a finite number >= 0 (0: 2k)");
  if (request.options.init_rounds < 1) throw UsageError("lloyd fit: --init-rounds must be at least 1");
  request.options.algorithm = parse_algorithm_option(*vm, "fit");
  const std::string mode = (*vm)["mode"].as<std::string>();
  const std::optional<ModelAlgorithm> parsed_mode = parse_model_algorithm(mode);
  if (!parsed_mode)
    throw UsageError("lloyd fit: unknown --mode '" + mode +
                     "': expected lloyd, bisecting, minibatch, kmedians or kmedoids");
  request.mode = *parsed_mode;
  const bool bisecting = request.mode == ModelAlgorithm::Bisecting;
  try {
    request.strategy = parse_bisecting_strategy((*vm)["bisecting-strategy"].as<std::string>());
  } catch (const Error& e) {
    throw UsageError(std::string("lloyd fit: --bisecting-strategy: ") + e.what());
  }
  if (bisecting && request.init_file)
    throw UsageError("lloyd fit: --mode bisecting seeds every split itself: --init must be a method, not a file");
  if (request.options.max_iter < 1) throw UsageError("lloyd fit: --max-iter must be at least 1");
  request.json = (*vm)["json"].as<bool>();
  request.verbose = (*vm)["verbose"].as<bool>();
  if (request.verbose && comm.rank() == 0) std::cerr << "simd level: " << simd::to_string(simd::level()) << "\n";
  request.force = (*vm)["force"].as<bool>();
  request.threads = apply_threads(comm, *vm);
  request.checkpoint.path = vm->count("checkpoint") ? (*vm)["checkpoint"].as<std::string>() : "";
  request.checkpoint.every = (*vm)["checkpoint-every"].as<int>();
  request.checkpoint.resume = (*vm)["resume"].as<bool>();
  if (request.checkpoint.every < 0) throw UsageError("lloyd fit: --checkpoint-every must be >= 0");
  if ((request.checkpoint.resume || request.checkpoint.every > 0) && request.checkpoint.path.empty())
    throw UsageError("lloyd fit: --resume and --checkpoint-every need --checkpoint FILE");

  // Every file fit reads is protected, and the checkpoint is checked now, not at its first
  // write hours later: it must differ from the data, the centres and the output, and an
  // existing file there is only ever read (--resume), never silently replaced.
  std::vector<std::string> inputs = {request.input.file};
  if (request.init_file) inputs.push_back(request.init_file->file);
  request.sample_weight = optional_dataset_option(*vm, "fit", "sample-weight");
  if (request.sample_weight) inputs.push_back(request.sample_weight->file);
  run_agreed(comm, [&] {
    check_distinct_outputs({request.output, request.checkpoint.path}, {"output", "--checkpoint"});
    if (!request.checkpoint.path.empty()) {
      if (!request.checkpoint.resume &&
          std::filesystem::exists(std::filesystem::symlink_status(request.checkpoint.path)))
        throw Error("--checkpoint '" + request.checkpoint.path +
                    "' exists; pass --resume to continue from it, or choose another path");
      check_output_path(request.checkpoint.path, /*replace_existing=*/true, inputs, "--checkpoint");
    }
    std::vector<std::string> read = inputs;
    read.push_back(request.checkpoint.path);
    if (!request.output.empty()) check_output_path(request.output, request.force, read);
  });
  request.memory_limit = memory_limit_option(comm, *vm, "fit");
  request.estimate_only = (*vm)["estimate-only"].as<bool>();
  request.cosine = parse_cosine_metric(*vm, "fit");
  if (request.cosine && (request.mode != ModelAlgorithm::Lloyd ||
                         request.options.init == InitMethod::KMeansParallel ||
                         request.options.init == InitMethod::RandomPartition))
    throw UsageError("lloyd fit: --metric cosine supports --mode lloyd with --init k-means++, forgy or a file");
  refuse_inapplicable_fit_options(*vm, request);
  if (is_variant(request.mode)) parse_variant_options(*vm, request);
  request.stream = (*vm)["stream"].as<bool>();
  if (request.stream && request.mode == ModelAlgorithm::Lloyd && request.options.init == InitMethod::KMeansPlusPlus)
    throw UsageError(std::string("lloyd fit: ") + kStreamedInitsMessage);
  request.distances = (*vm)["distances"].as<bool>();
  request.standardize = (*vm)["standardize"].as<bool>();
  if (request.standardize && request.cosine)
    throw UsageError("lloyd fit: --standardize does not apply to --metric cosine (rows are scaled to unit norm)");
  const MatrixShape shape = inspect_matrix(comm, request.input);
  if (request.standardize && shape.sparse)
    throw UsageError("lloyd fit: --standardize cannot centre sparse input " + request.input.text() +
                     " (as scikit-learn's StandardScaler refuses); densify it first");
  if (!plan_fit_memory(comm, request, shape)) return 0;
  return shape.type == ElementType::Float32 ? fit_typed<float>(comm, request, shape, start)
                                            : fit_typed<double>(comm, request, shape, start);
}

}  // namespace lloyd::cli
