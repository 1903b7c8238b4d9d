#include <cstdio>
#include <iostream>

#include "lloyd/kmeans/kmedians.hpp"
#include "lloyd/kmeans/kmedoids.hpp"
#include "lloyd/kmeans/minibatch.hpp"
#include "variants.hpp"

namespace lloyd::cli {

namespace {

std::string exact_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

// Rows above which a k-medoids fit on all rows gets a warning about its quadratic cost.
constexpr std::uint64_t kLargeMedoidFit = 50000;

struct VariantSettings {
  bool k_given = false;  ///< else k is the rows of an --init file
  MiniBatchOptions batch;
  bool stream = false;
  KMedoidsOptions medoids;
};

VariantSettings parse_settings(const po::variables_map& vm, const VariantRequest& request) {
  VariantSettings settings;
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
  settings.k_given = vm.count("k") > 0;
  settings.medoids.sample = static_cast<std::uint64_t>(sample);
  try {
    settings.medoids.method = parse_medoid_method(vm["medoid-method"].as<std::string>());
    settings.medoids.distance = parse_distance(vm["distance"].as<std::string>());
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(std::string("lloyd fit: ") + e.what());
  }
  if (settings.stream && request.mode != "minibatch")
    throw UsageError("lloyd fit: --stream needs --mode minibatch");
  if (request.mode == "minibatch" && request.init_file)
    throw UsageError("lloyd fit: --mode minibatch seeds from a sample of rows: --init must be a method");
  if (request.mode == "kmedoids" && !vm["init"].defaulted())
    throw UsageError("lloyd fit: --mode kmedoids seeds with BUILD: --init does not apply");
  return settings;
}

// Rank 0's progress line (stderr): every iteration, or every 100th mini-batch step.
IterationObserver progress(const VariantRequest& request, const Comm& comm) {
  if (!request.verbose || comm.rank() != 0) return {};
  const bool steps = request.mode == "minibatch";
  return [steps](const IterationStats& s) {
    if (steps && s.iteration % 100 != 0) return;
    std::fprintf(stderr, "%s %5d  %s %.10g  %.3f s\n", steps ? "step" : "iter", s.iteration,
                 steps ? "batch inertia" : "inertia", s.inertia, s.seconds);
  };
}

template <class T>
struct VariantFit {
  KMeansResult<T> result;
  std::vector<std::int64_t> counts, medoid_indices;  // mini-batch / k-medoids
  std::vector<double> ewa_history;
  std::uint64_t n_steps = 0, init_size = 0, fitted_rows = 0;
};

// The model: the layout of a Lloyd model plus the variant's fields (README, "File layouts").
// /labels is already written. Collective over comm.
template <class T>
void write_variant_model(OutputFile& file, const VariantRequest& request, const VariantSettings& settings,
                         const MatrixShape& shape, const VariantFit<T>& fit) {
  const KMeansResult<T>& result = fit.result;
  const auto k = static_cast<std::uint64_t>(result.centroids.rows());
  file.write_replicated("/centroids", result.centroids.data(), k, shape.cols);
  file.create_group("/history");
  file.write_replicated("/history/inertia", result.inertia_history.data(), result.inertia_history.size(), 0);
  if (request.mode != "kmedoids")  // medoids jump between rows: no centre shift
    file.write_replicated("/history/center_shift", result.center_shift_history.data(),
                          result.center_shift_history.size(), 0);
  const hid_t root = file.root();
  write_result_attributes(root, result, request.options,
                          request.mode == "kmedoids" ? std::string("build") : request.init_text,
                          {shape.rows, shape.cols}, request.input.text());
  write_attribute(root, "algorithm", request.mode);
  write_attribute(root, "mode", request.mode);
  if (request.mode == "minibatch") {
    file.write_replicated("/counts", fit.counts.data(), fit.counts.size(), 0);
    file.write_replicated("/history/ewa_inertia", fit.ewa_history.data(), fit.ewa_history.size(), 0);
    write_attribute(root, "batch_size", static_cast<std::int64_t>(settings.batch.batch_size));
    write_attribute(root, "max_no_improvement", std::int64_t{settings.batch.max_no_improvement});
    write_attribute(root, "reassignment_ratio", settings.batch.reassignment_ratio);
    write_attribute(root, "init_size", static_cast<std::int64_t>(fit.init_size));
    write_attribute(root, "n_steps", static_cast<std::int64_t>(fit.n_steps));
  } else if (request.mode == "kmedians") {
    write_attribute(root, "distance", std::string("manhattan"));
  } else {
    file.write_replicated("/medoid_indices", fit.medoid_indices.data(), fit.medoid_indices.size(), 0);
    write_attribute(root, "distance", std::string(to_string(settings.medoids.distance)));
    write_attribute(root, "medoid_method", std::string(to_string(settings.medoids.method)));
    write_attribute(root, "sample", static_cast<std::int64_t>(fit.fitted_rows));
  }
}

// What a checkpoint of this variant must match besides the common options.
std::string method_identity(const VariantRequest& request, const VariantSettings& settings) {
  if (request.mode == "minibatch")
    return "minibatch batch_size=" + std::to_string(settings.batch.batch_size) +
           " max_no_improvement=" + std::to_string(settings.batch.max_no_improvement) +
           " reassignment_ratio=" + exact_number(settings.batch.reassignment_ratio) +
           " init_size=" + std::to_string(settings.batch.init_size);
  if (request.mode == "kmedoids")
    return std::string("kmedoids method=") + to_string(settings.medoids.method) +
           " distance=" + to_string(settings.medoids.distance) + " sample=" + std::to_string(settings.medoids.sample);
  return request.mode;
}

template <class T>
int fit_variant_typed(const Comm& comm, const VariantRequest& request, const VariantSettings& settings,
                      const MatrixShape& shape, double start) {
  KMeansOptions options = request.options;
  const std::optional<RowMatrix<T>> initial =
      load_initial_centres<T>(comm, request.init_file, settings.k_given, shape.cols, options);
  check_cluster_count(options.k, shape.rows, request.input.text());
  const double read_start = MPI_Wtime();
  DenseShard<T> shard;
  if (!settings.stream) shard = read_shard<T>(comm, request.input, shape);
  const double io_seconds = MPI_Wtime() - read_start;

  // The output exists (as a partial file) during the fit: a streamed fit writes its labels
  // block by block as it computes them.
  std::optional<OutputFile> file;
  LabelSink sink = [](std::uint64_t, std::span<const std::int32_t>) {};
  if (!request.output.empty()) {
    file.emplace(comm, request.output, request.force);
    file->create_distributed<std::int32_t>("/labels", shape.rows, 0);
    sink = [&](std::uint64_t first, std::span<const std::int32_t> labels) {
      file->write_part("/labels", labels.data(), labels.size(), first, 0);
    };
  }
  VariantFit<T> fit;
  const IterationObserver observer = progress(request, comm);
  std::unique_ptr<RowSource<T>> source;
  if (request.mode == "minibatch")
    source = settings.stream ? streamed_source<T>(comm, request.input, shape) : shard_source(shard);
  CheckpointIdentity identity{options, request.init_identity, request.input.text(), shape.rows, shape.cols,
                              to_string(shape.type), 0};
  identity.method = method_identity(request, settings);
  if (!request.checkpoint.path.empty()) {
    if (source) source->for_each_block([&](const DenseShard<T>& block) {
      identity.data_fingerprint += data_fingerprint(comm, block);  // a sum mod 2^64, block by block
    });
    else identity.data_fingerprint = data_fingerprint(comm, shard);
  }
  const FitCheckpoint<T> checkpoint(comm, request.checkpoint, identity);
  if (request.mode == "minibatch") {
    MiniBatchResult<T> result =
        fit_minibatch(comm, *source, options, settings.batch, sink, observer, checkpoint.control());
    fit.counts = result.counts;
    fit.ewa_history = result.ewa_inertia_history;
    fit.n_steps = result.n_steps;
    fit.init_size = result.init_size;
    fit.result = std::move(result);
  } else {
    if (request.mode == "kmedians") {
      fit.result = fit_kmedians(comm, shard, options, initial ? &*initial : nullptr, observer,
                                checkpoint.control());
    } else {
      KMedoidsResult<T> result =
          fit_kmedoids(comm, shard, options, settings.medoids, observer, checkpoint.control());
      fit.medoid_indices.assign(result.medoid_indices.begin(), result.medoid_indices.end());
      fit.fitted_rows = result.fitted_rows;
      fit.result = std::move(result);
    }
    if (!fit.result.interrupted) sink(shard.first_row, fit.result.labels);
  }
  if (fit.result.interrupted) return checkpoint.interrupted();  // the partial output is dropped
  fit.result.phases.io += io_seconds;
  if (file) {
    const double write_start = MPI_Wtime();
    write_variant_model(*file, request, settings, shape, fit);
    PhaseTimes phases = fit.result.phases;
    phases.write = MPI_Wtime() - write_start;
    write_timings(*file, max_over_ranks(comm, phases), peak_memory_mb(comm));
    file->commit();
    fit.result.phases.write = MPI_Wtime() - write_start;
  }
  checkpoint.finished();
  const KMeansResult<T>& result = fit.result;
  const PhaseTimes phases = max_over_ranks(comm, result.phases);
  const double peak_rss_mb = peak_memory_mb(comm);
  const double seconds = elapsed_max(comm, start);
  if (comm.rank() != 0) return 0;
  if (request.json) {
    JsonObject json;
    json.add("command", "fit").add("mode", request.mode).add("inertia", result.inertia)
        .add("init_inertia", result.init_inertia).add("n_iter", result.n_iter)
        .add("converged", result.converged).add("k", options.k).add("n_samples", shape.rows)
        .add("n_features", shape.cols).add("n_ranks", comm.size()).add("threads", request.threads)
        .add("seconds", seconds).add("seed", options.seed).add("dtype", to_string(shape.type))
        .add("output", request.output);
    if (request.mode == "minibatch")
      json.add("batch_size", settings.batch.batch_size).add("n_steps", fit.n_steps)
          .add("stream", settings.stream);
    if (request.mode == "kmedoids")
      json.add("medoid_method", to_string(settings.medoids.method))
          .add("distance", to_string(settings.medoids.distance)).add("fitted_rows", fit.fitted_rows);
    json.add("phases", phase_json(phases)).add("peak_rss_mb", peak_rss_mb);
    std::cout << json.str() << std::endl;
  } else {
    std::printf("lloyd fit: mode=%s k=%d n=%llu d=%llu ranks=%d  inertia=%.10g  n_iter=%d  %s  %.3f s%s%s\n",
                request.mode.c_str(), options.k, static_cast<unsigned long long>(shape.rows),
                static_cast<unsigned long long>(shape.cols), comm.size(), result.inertia,
                result.n_iter, result.converged ? "converged" : "not converged", seconds,
                request.output.empty() ? "" : "  -> ", request.output.c_str());
  }
  return 0;
}

}  // namespace

bool is_variant_mode(const std::string& mode) {
  return mode == "minibatch" || mode == "kmedians" || mode == "kmedoids";
}

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

int fit_variant(const Comm& comm, const po::variables_map& vm, VariantRequest request, double start) {
  const VariantSettings settings = parse_settings(vm, request);
  // scikit-learn's MiniBatchKMeans does not test the centre change unless asked (tol = 0).
  if (request.mode == "minibatch" && vm["tol"].defaulted()) request.options.tol = 0;
  if (request.mode == "kmedoids" && request.options.n_init > 1)
    throw UsageError("lloyd fit: --mode kmedoids is deterministic (BUILD): --n-init does not apply");
  const MatrixShape shape = inspect_matrix(comm, request.input);
  const bool all_rows = !settings.medoids.sample || settings.medoids.sample >= shape.rows;
  if (request.mode == "kmedoids" && all_rows && shape.rows > kLargeMedoidFit && comm.rank() == 0)
    std::fprintf(stderr,
                 "lloyd fit: warning: k-medoids on all %llu rows costs O(k n^2 d) distance "
                 "evaluations per pass; consider --sample M\n",
                 static_cast<unsigned long long>(shape.rows));
  return shape.type == ElementType::Float32
             ? fit_variant_typed<float>(comm, request, settings, shape, start)
             : fit_variant_typed<double>(comm, request, settings, shape, start);
}

}  // namespace lloyd::cli
