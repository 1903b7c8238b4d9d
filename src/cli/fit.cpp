#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "common.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/kmeans/bisecting.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/io/csr.hpp"
#include "lloyd/kmeans/spherical.hpp"
#include "variants.hpp"

namespace lloyd::cli {

namespace {

struct FitRequest {
  DatasetRef input;
  std::string output;
  KMeansOptions options;
  bool k_given = false;
  std::string init_text;
  std::optional<DatasetRef> init_file;
  bool json = false, verbose = false, force = false;
  CheckpointRequest checkpoint;
  bool bisecting = false;  ///< --mode bisecting
  BisectingStrategy strategy = BisectingStrategy::BiggestInertia;
  int threads = 1;  ///< --threads as applied
  bool cosine = false;  ///< --metric cosine: spherical K-Means (kmeans/spherical.hpp)
};

// ℓ of k-means|| as used: --oversampling, or 2k by default.
double effective_oversampling(const KMeansOptions& options) {
  return options.oversampling > 0 ? options.oversampling : 2.0 * options.k;
}

// What a checkpoint must match besides the options it records itself: k-means||'s ℓ and
// rounds change the seeding, so they are part of the init's name there.
std::string init_identity(const FitRequest& request, const KMeansOptions& options) {
  if (options.init != InitMethod::KMeansParallel) return request.init_text;
  return request.init_text + " oversampling=" + std::to_string(effective_oversampling(options)) +
         " rounds=" + std::to_string(options.init_rounds);
}

// The hierarchy of a bisecting fit under /tree, one entry per node (README, "File layouts").
// Collective over the file's communicator.
template <class T>
void write_tree(OutputFile& file, const BisectingTree<T>& tree) {
  const std::uint64_t m = tree.nodes();
  std::vector<std::int64_t> children;
  for (std::size_t node = 0; node < m; ++node) {
    children.push_back(tree.left[node]);
    children.push_back(tree.right[node]);
  }
  file.create_group("/tree");
  file.write_replicated("/tree/parent", tree.parent.data(), m, 0);
  file.write_replicated("/tree/children", children.data(), m, 2);
  file.write_replicated("/tree/size", tree.size.data(), m, 0);
  file.write_replicated("/tree/inertia", tree.inertia.data(), m, 0);
  file.write_replicated("/tree/label", tree.label.data(), m, 0);
  file.write_replicated("/tree/centers", tree.centres.data(), m,
                        static_cast<std::uint64_t>(tree.centres.cols()));
}

template <class T>
void write_model(const Comm& comm, const FitRequest& request, const DenseShard<T>& shard,
                 const KMeansResult<T>& result, const BisectingTree<T>* tree = nullptr) {
  const double write_start = MPI_Wtime();
  OutputFile file(comm, request.output, request.force);
  const auto k = static_cast<std::uint64_t>(result.centroids.rows());
  const auto d = static_cast<std::uint64_t>(result.centroids.cols());
  file.write_replicated("/centroids", result.centroids.data(), k, d);
  file.write_distributed("/labels", result.labels.data(), result.labels.size(), shard.first_row,
                         shard.global_rows, 0);
  file.create_group("/history");
  file.write_replicated("/history/inertia", result.inertia_history.data(),
                        result.inertia_history.size(), 0);
  if (!tree) {  // a bisecting model's history is the inertia after each split only
    file.write_replicated("/history/center_shift", result.center_shift_history.data(),
                          result.center_shift_history.size(), 0);
    file.write_replicated("/history/restart_inertia", result.restart_inertia.data(),
                          result.restart_inertia.size(), 0);
  }
  const hid_t root = file.root();
  write_result_attributes(root, result, request.options, request.init_text,
                          {shard.global_rows, d}, request.input.text());
  if (request.options.init == InitMethod::KMeansParallel) {
    write_attribute(root, "oversampling", effective_oversampling(request.options));
    write_attribute(root, "init_rounds", std::int64_t{request.options.init_rounds});
  }
  write_attribute(root, "best_restart", std::int64_t{result.best_restart});
  write_attribute(root, "algorithm", std::string(tree ? "bisecting" : "lloyd"));
  write_attribute(root, "assignment", std::string(to_string(result.algorithm)));
  write_attribute(root, "metric", std::string(request.cosine ? "cosine" : "euclidean"));
  if (tree) {
    write_attribute(root, "bisecting_strategy", std::string(to_string(request.strategy)));
    write_tree(file, *tree);
  }
  // Last, so that `write` covers the rest of the file. Timings differ from run to run:
  // comparisons of models leave /timings out (h5diff --exclude-path /timings).
  PhaseTimes phases = result.phases;
  phases.write = MPI_Wtime() - write_start;
  write_timings(file, max_over_ranks(comm, phases), peak_memory_mb(comm));
  file.commit();
}

// Set by SIGTERM/SIGUSR1 when checkpointing is on; the loop polls it once per iteration.
volatile std::sig_atomic_t stop_signal = 0;
extern "C" void request_stop(int) { stop_signal = 1; }

}  // namespace

template <class T>
FitCheckpoint<T>::FitCheckpoint(const Comm& comm, const CheckpointRequest& request,
                                CheckpointIdentity identity)
    : comm_(comm), request_(request), identity_(std::move(identity)) {
  if (!active()) return;
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
        std::fprintf(stderr, "lloyd fit: resuming from %s at restart %d, iteration %lld\n",
                     request_.path.c_str(), state->restart + 1, static_cast<long long>(state->iteration));
      }
      return state;
    };
  // From here on SIGTERM/SIGUSR1 mean "checkpoint and stop", not "die".
  std::signal(SIGTERM, request_stop);
  std::signal(SIGUSR1, request_stop);
}

template <class T>
int FitCheckpoint<T>::interrupted() const {
  if (comm_.rank() == 0)
    std::fprintf(stderr,
                 "lloyd fit: stopped on request; state saved to %s; continue with --resume "
                 "(lloyd's ranks exit with status %d; a launcher that was signalled itself, "
                 "such as mpirun, may report its own status)\n",
                 request_.path.c_str(), kExitInterrupted);
  return kExitInterrupted;
}

template <class T>
void FitCheckpoint<T>::finished() const {
  if (own_ && comm_.rank() == 0) remove_if_unchanged(request_.path, *own_);
}

template class FitCheckpoint<float>;
template class FitCheckpoint<double>;

template <class T>
std::optional<RowMatrix<T>> load_initial_centres(const Comm& comm, const std::optional<DatasetRef>& file,
                                                 bool k_given, std::uint64_t features, KMeansOptions& options) {
  if (!file) return std::nullopt;
  RowMatrix<T> centres = read_matrix<T>(comm, *file);
  if (!k_given) options.k = static_cast<int>(centres.rows());
  check_initial_centres(centres.rows(), centres.cols(), options.k, static_cast<Eigen::Index>(features),
                        "initial centres " + file->text());
  if (options.n_init > 1 && comm.rank() == 0)
    std::cerr << "lloyd fit: explicit initial centres given: running 1 restart, not " << options.n_init << "\n";
  options.n_init = 1;
  return centres;
}

template std::optional<RowMatrix<float>> load_initial_centres(const Comm&, const std::optional<DatasetRef>&, bool,
                                                              std::uint64_t, KMeansOptions&);
template std::optional<RowMatrix<double>> load_initial_centres(const Comm&, const std::optional<DatasetRef>&, bool,
                                                               std::uint64_t, KMeansOptions&);

namespace {

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

template <class T>
int report_fit(const Comm& comm, const FitRequest& request, const KMeansOptions& options,
               const MatrixShape& shape, const DenseShard<T>& shard, KMeansResult<T>& result,
               const BisectingTree<T>* tree, double start);

// What a checkpoint of this fit must match (the data's fingerprint is added by the caller).
CheckpointIdentity checkpoint_identity(const FitRequest& request, const KMeansOptions& options,
                                       const MatrixShape& shape, std::string method) {
  CheckpointIdentity identity{options, init_identity(request, options), request.input.text(), shape.rows,
                              shape.cols, to_string(shape.type), 0};
  identity.method = std::move(method);
  return identity;
}

// --mode bisecting: k − 1 splits by distributed 2-means; the model keeps the tree.
template <class T>
int bisect_typed(const Comm& comm, const FitRequest& request, const KMeansOptions& options,
                 const MatrixShape& shape, const DenseShard<T>& shard, double io_seconds,
                 double start) {
  SplitObserver progress;
  if (request.verbose && comm.rank() == 0)
    progress = [](const SplitStats& s) {
      std::fprintf(stderr, "split %d  node %lld (%lld rows)  inertia %.10g  n_iter %d  %.3f s\n",
                   s.split, static_cast<long long>(s.node), static_cast<long long>(s.size),
                   s.inertia, s.n_iter, s.seconds);
    };
  CheckpointIdentity identity = checkpoint_identity(
      request, options, shape, std::string("bisecting ") + to_string(request.strategy));
  if (!request.checkpoint.path.empty()) identity.data_fingerprint = data_fingerprint(comm, shard);
  const FitCheckpoint<T> checkpoint(comm, request.checkpoint, identity);
  BisectingResult<T> bisected =
      fit_bisecting(comm, shard, options, request.strategy, progress, checkpoint.control());
  if (bisected.interrupted) return checkpoint.interrupted();
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
  result.phases.io = io_seconds;
  const int status = report_fit(comm, request, options, shape, shard, result, &bisected.tree, start);
  checkpoint.finished();
  return status;
}

template <class T>
int fit_typed(const Comm& comm, const FitRequest& request, const MatrixShape& shape, double start) {
  KMeansOptions options = request.options;
  const std::optional<RowMatrix<T>> initial =
      load_initial_centres<T>(comm, request.init_file, request.k_given, shape.cols, options);
  check_cluster_count(options.k, shape.rows, request.input.text());
  const double read_start = MPI_Wtime();
  const DenseShard<T> shard = read_shard<T>(comm, request.input, shape);
  const double io_seconds = MPI_Wtime() - read_start;

  if (request.bisecting) return bisect_typed(comm, request, options, shape, shard, io_seconds, start);

  IterationObserver progress;
  if (request.verbose && comm.rank() == 0) progress = ProgressPrinter();
  CheckpointIdentity identity = checkpoint_identity(request, options, shape, "lloyd");
  if (!request.checkpoint.path.empty()) identity.data_fingerprint = data_fingerprint(comm, shard);
  const FitCheckpoint<T> checkpoint(comm, request.checkpoint, identity);
  KMeansResult<T> result =
      fit_kmeans(comm, shard, options, initial ? &*initial : nullptr, progress, checkpoint.control());
  result.phases.io = io_seconds;
  if (result.interrupted) return checkpoint.interrupted();
  const int status = report_fit<T>(comm, request, options, shape, shard, result, nullptr, start);
  // Only now that the model is committed: the checkpoint this fit wrote is no longer needed.
  checkpoint.finished();
  return status;
}

// Writes the model (when asked) and prints the result on rank 0. Collective over comm.
template <class T>
int report_fit(const Comm& comm, const FitRequest& request, const KMeansOptions& options,
               const MatrixShape& shape, const DenseShard<T>& shard, KMeansResult<T>& result,
               const BisectingTree<T>* tree, double start) {
  if (!request.output.empty()) {
    const double write_start = MPI_Wtime();
    write_model(comm, request, shard, result, tree);
    result.phases.write = MPI_Wtime() - write_start;
  }
  const PhaseTimes phases = max_over_ranks(comm, result.phases);
  const double peak_rss_mb = peak_memory_mb(comm);
  // The pruned algorithms' memory (largest rank) and work: distances computed over all
  // ranks, as a fraction of what Lloyd computes in as many iterations (n·k each).
  const double bounds_mb =
      comm.allreduce(static_cast<double>(result.bound_bytes), MPI_MAX) / (1024.0 * 1024.0);
  const double distances_fraction =
      comm.allreduce(static_cast<double>(result.distances_computed), MPI_SUM) /
      (static_cast<double>(shape.rows) * options.k * std::max(result.n_iter, 1));
  const double seconds = elapsed_max(comm, start);

  if (comm.rank() == 0) {
    if (request.json) {
      JsonObject json;
      json.add("command", "fit").add("inertia", result.inertia)
          .add("init_inertia", result.init_inertia).add("n_iter", result.n_iter)
          .add("converged", result.converged).add("k", options.k)
          .add("n_samples", shape.rows).add("n_features", shape.cols)
          .add("n_ranks", comm.size()).add("threads", request.threads).add("seconds", seconds)
          .add("seed", options.seed).add("init", request.init_text)
          .add("n_init", options.n_init).add("best_restart", result.best_restart)
          .add("dtype", to_string(shape.type)).add("output", request.output)
          .add("mode", tree ? "bisecting" : "lloyd").add("metric", request.cosine ? "cosine" : "euclidean");
      if (tree) json.add("bisecting_strategy", to_string(request.strategy));
      json.add("algorithm", to_string(result.algorithm))
          .add("bounds_mb", bounds_mb)
          .add("distances_computed", distances_fraction);
      json.add("phases", phase_json(phases)).add("peak_rss_mb", peak_rss_mb);
      std::cout << json.str() << std::endl;
    } else {
      std::printf("lloyd fit: k=%d n=%llu d=%llu ranks=%d  inertia=%.10g  n_iter=%d  %s  %.3f s%s%s\n",
                  options.k, static_cast<unsigned long long>(shape.rows),
                  static_cast<unsigned long long>(shape.cols), comm.size(), result.inertia,
                  result.n_iter, result.converged ? "converged" : "not converged", seconds,
                  request.output.empty() ? "" : "  -> ", request.output.c_str());
    }
  }
  return 0;
}

// --metric cosine: spherical K-Means on the rows scaled to unit norm; sparse input stays
// sparse. The model has the usual layout (inertia: Σ 1 − cos). Collective over comm.
template <class T>
int fit_cosine_typed(const Comm& comm, const FitRequest& request, const MatrixShape& shape, double start) {
  KMeansOptions options = request.options;
  options.tol_absolute = options.tol;  // unit centres: the shift needs no data scale
  const std::optional<RowMatrix<T>> initial =
      load_initial_centres<T>(comm, request.init_file, request.k_given, shape.cols, options);
  check_cluster_count(options.k, shape.rows, request.input.text());
  const double read_start = MPI_Wtime();
  CsrShard<T> rows = shape.sparse ? read_csr_shard<T>(comm, request.input, shape)
                                  : to_csr(read_shard<T>(comm, request.input, shape));
  normalize_rows(rows);
  const double io_seconds = MPI_Wtime() - read_start;
  IterationObserver progress;
  if (request.verbose && comm.rank() == 0) progress = ProgressPrinter();
  CheckpointIdentity identity = checkpoint_identity(request, options, shape, "cosine");
  if (!request.checkpoint.path.empty()) identity.data_fingerprint = data_fingerprint(comm, rows);
  const FitCheckpoint<T> checkpoint(comm, request.checkpoint, identity);
  KMeansResult<T> result =
      fit_spherical(comm, rows, options, initial ? &*initial : nullptr, progress, checkpoint.control());
  result.phases.io = io_seconds;
  if (result.interrupted) return checkpoint.interrupted();
  // The model writer needs only the row layout of the shard.
  const DenseShard<T> layout{rows.global_rows, rows.first_row, RowMatrix<T>(rows.local_rows(), 0)};
  const int status = report_fit<T>(comm, request, options, shape, layout, result, nullptr, start);
  checkpoint.finished();
  return status;
}

}  // namespace

int run_fit(const Comm& comm, const Args& args) {
  const double start = MPI_Wtime();
  po::options_description description("options");
  description.add_options()
      ("input", po::value<std::string>(), "data set FILE.h5:/dataset (n rows x d features, float32/float64)")
      ("k", po::value<int>(), "number of clusters (default: the rows of an --init file)")
      ("output", po::value<std::string>(), "model file to write (HDF5); omit to only report")
      ("init", po::value<std::string>()->default_value("k-means++"),
       "k-means++ | k-means|| | forgy | random (= forgy) | random-partition | FILE.h5:/centres (k x d)")
      ("oversampling", po::value<double>()->default_value(0),
       "k-means||: expected candidates per round (0: 2k)")
      ("init-rounds", po::value<int>()->default_value(5), "k-means||: sampling rounds")
      ("metric", po::value<std::string>()->default_value("euclidean"),
       "euclidean | cosine (spherical K-Means: unit rows and centres, largest dot product; dense or CSR input)")
      ("mode", po::value<std::string>()->default_value("lloyd"),
       "lloyd | bisecting (k - 1 splits of one cluster by 2-means; the model keeps the tree) | "
       "minibatch | kmedians | kmedoids")
      ("bisecting-strategy", po::value<std::string>()->default_value("biggest-inertia"),
       "bisecting: split the leaf with the biggest-inertia or the largest-cluster")
      ("n-init", po::value<int>()->default_value(1), "seeded restarts; the lowest inertia wins")
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
       "continue from --checkpoint if it exists (the result is bit-identical to an uninterrupted run)");
  add_algorithm_option(description);
  add_variant_options(description);
  add_threads_option(description);
  const auto vm = parse(comm, "fit", "--input FILE.h5:/X --k K [--output MODEL.h5] [options]",
                        description, args);
  if (!vm) return 0;

  FitRequest request;
  request.input = [&] {
    try {
      return parse_dataset_ref(required<std::string>(*vm, "fit", "input"));
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
    if (request.init_text.find(":/") == std::string::npos)
      throw UsageError("lloyd fit: unknown --init '" + request.init_text +
                       "': expected k-means++, k-means||, forgy, random, random-partition or FILE.h5:/dataset");
    request.init_file = parse_dataset_ref(request.init_text);
  }
  request.k_given = vm->count("k") > 0;
  if (!request.k_given && !request.init_file)
    throw UsageError("lloyd fit: --k is required (unless --init names a file of centres)");
  if (request.k_given) request.options.k = (*vm)["k"].as<int>();
  request.options.n_init = (*vm)["n-init"].as<int>();
  request.options.max_iter = (*vm)["max-iter"].as<int>();
  request.options.tol = non_negative_option(*vm, "fit", "tol");
  request.options.seed = (*vm)["seed"].as<std::uint64_t>();
  if (request.options.n_init < 1) throw UsageError("lloyd fit: --n-init must be at least 1");
  request.options.oversampling = (*vm)["oversampling"].as<double>();
  request.options.init_rounds = (*vm)["init-rounds"].as<int>();
  if (!(request.options.oversampling >= 0) || !std::isfinite(request.options.oversampling))
    throw UsageError("lloyd fit: --oversampling must be a finite number >= 0 (0: 2k)");
  if (request.options.init_rounds < 1) throw UsageError("lloyd fit: --init-rounds must be at least 1");
  request.options.algorithm = parse_algorithm_option(*vm, "fit");
  const std::string mode = (*vm)["mode"].as<std::string>();
  if (mode != "lloyd" && mode != "bisecting" && !is_variant_mode(mode))
    throw UsageError("lloyd fit: unknown --mode '" + mode +
                     "': expected lloyd, bisecting, minibatch, kmedians or kmedoids");
  request.bisecting = mode == "bisecting";
  try {
    request.strategy = parse_bisecting_strategy((*vm)["bisecting-strategy"].as<std::string>());
  } catch (const Error& e) {
    throw UsageError(std::string("lloyd fit: --bisecting-strategy: ") + e.what());
  }
  if (request.bisecting && request.init_file)
    throw UsageError("lloyd fit: --mode bisecting seeds every split itself: --init must be a method, not a file");
  if (request.options.max_iter < 1) throw UsageError("lloyd fit: --max-iter must be at least 1");
  request.json = (*vm)["json"].as<bool>();
  request.verbose = (*vm)["verbose"].as<bool>();
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
  const std::string metric = (*vm)["metric"].as<std::string>();
  if (metric != "euclidean" && metric != "cosine")
    throw UsageError("lloyd fit: unknown --metric '" + metric + "': expected euclidean or cosine");
  request.cosine = metric == "cosine";
  if (request.cosine && (request.bisecting || is_variant_mode(mode) ||
                         request.options.init == InitMethod::KMeansParallel ||
                         request.options.init == InitMethod::RandomPartition))
    throw UsageError("lloyd fit: --metric cosine supports --mode lloyd with --init k-means++, forgy or a file");
  if (is_variant_mode(mode))
    return fit_variant(comm, *vm,
                       {mode, request.input, request.output, request.options, request.init_text,
                        request.init_file, request.json, request.verbose, request.force, request.threads,
                        request.checkpoint, init_identity(request, request.options)},
                       start);
  const MatrixShape shape = inspect_matrix(comm, request.input);
  if (request.cosine)
    return shape.type == ElementType::Float32 ? fit_cosine_typed<float>(comm, request, shape, start)
                                              : fit_cosine_typed<double>(comm, request, shape, start);
  return shape.type == ElementType::Float32 ? fit_typed<float>(comm, request, shape, start)
                                            : fit_typed<double>(comm, request, shape, start);
}

}  // namespace lloyd::cli
