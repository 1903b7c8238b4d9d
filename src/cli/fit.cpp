#include <cstdio>
#include <iostream>

#include "common.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/kmeans/driver.hpp"

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
};

template <class T>
void write_model(const Comm& comm, const FitRequest& request, const DenseShard<T>& shard,
                 const KMeansResult<T>& result) {
  OutputFile file(comm, request.output);
  const auto k = static_cast<std::uint64_t>(result.centroids.rows());
  const auto d = static_cast<std::uint64_t>(result.centroids.cols());
  file.write_replicated("/centroids", result.centroids.data(), k, d);
  file.write_distributed("/labels", result.labels.data(), result.labels.size(), shard.first_row,
                         shard.global_rows, 0);
  file.create_group("/history");
  file.write_replicated("/history/inertia", result.inertia_history.data(),
                        result.inertia_history.size(), 0);
  file.write_replicated("/history/center_shift", result.center_shift_history.data(),
                        result.center_shift_history.size(), 0);
  file.write_replicated("/history/restart_inertia", result.restart_inertia.data(),
                        result.restart_inertia.size(), 0);
  const hid_t root = file.root();
  write_attribute(root, "inertia", result.inertia);
  write_attribute(root, "n_iter", std::int64_t{result.n_iter});
  write_attribute(root, "converged", std::int64_t{result.converged});
  write_attribute(root, "k", static_cast<std::int64_t>(k));
  write_attribute(root, "seed", static_cast<std::int64_t>(request.options.seed));
  write_attribute(root, "init", request.init_text);
  write_attribute(root, "n_init", std::int64_t{request.options.n_init});
  write_attribute(root, "best_restart", std::int64_t{result.best_restart});
  write_attribute(root, "max_iter", std::int64_t{request.options.max_iter});
  write_attribute(root, "tol", request.options.tol);
  write_attribute(root, "tol_absolute", result.tol_absolute);
  write_attribute(root, "n_samples", static_cast<std::int64_t>(shard.global_rows));
  write_attribute(root, "n_features", static_cast<std::int64_t>(d));
  write_attribute(root, "input", request.input.text());
  write_attribute(root, "algorithm", std::string("lloyd"));
  file.commit();
}

template <class T>
int fit_typed(const Comm& comm, const FitRequest& request, const MatrixShape& shape, double start) {
  const DenseShard<T> shard = read_shard<T>(comm, request.input, shape);
  KMeansOptions options = request.options;
  std::optional<RowMatrix<T>> initial;
  if (request.init_file) {
    initial = read_matrix<T>(comm, *request.init_file);
    if (!request.k_given) options.k = static_cast<int>(initial->rows());
    if (initial->rows() != options.k || initial->cols() != static_cast<Eigen::Index>(shape.cols))
      throw AgreedError("initial centres " + request.init_file->text() + " are " +
                        std::to_string(initial->rows()) + " x " + std::to_string(initial->cols()) +
                        "; expected k x d = " + std::to_string(options.k) + " x " +
                        std::to_string(shape.cols));
    if (options.n_init > 1 && comm.rank() == 0)
      std::cerr << "lloyd fit: explicit initial centres given: running 1 restart, not "
                << options.n_init << "\n";
  }
  if (options.k < 1) throw AgreedError("--k must be at least 1 (got " + std::to_string(options.k) + ")");
  if (static_cast<std::uint64_t>(options.k) > shape.rows)
    throw AgreedError("--k " + std::to_string(options.k) + " exceeds the number of rows of " +
                      request.input.text() + " (" + std::to_string(shape.rows) + ")");

  IterationObserver progress;
  if (request.verbose && comm.rank() == 0) {
    progress = [&](const IterationStats& s) {
      std::fprintf(stderr, "restart %d iter %4d  inertia %.10g  center_shift %.4g  changed %lld  %.3f s\n",
                   s.restart, s.iteration, s.inertia, s.center_shift,
                   static_cast<long long>(s.changed), s.seconds);
    };
  }
  const KMeansResult<T> result =
      fit_kmeans(comm, shard, options, initial ? &*initial : nullptr, progress);
  if (!request.output.empty()) write_model(comm, request, shard, result);
  const double seconds = elapsed_max(comm, start);

  if (comm.rank() == 0) {
    if (request.json) {
      JsonObject json;
      json.add("command", "fit").add("inertia", result.inertia).add("n_iter", result.n_iter)
          .add("converged", result.converged).add("k", options.k)
          .add("n_samples", shape.rows).add("n_features", shape.cols)
          .add("n_ranks", comm.size()).add("seconds", seconds)
          .add("seed", options.seed).add("init", request.init_text)
          .add("n_init", options.n_init).add("best_restart", result.best_restart)
          .add("dtype", to_string(shape.type)).add("output", request.output);
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

}  // namespace

int run_fit(const Comm& comm, const Args& args) {
  const double start = MPI_Wtime();
  po::options_description description("options");
  description.add_options()
      ("input", po::value<std::string>(), "data set FILE.h5:/dataset (n rows x d features, float32/float64)")
      ("k", po::value<int>(), "number of clusters (default: the rows of an --init file)")
      ("output", po::value<std::string>(), "model file to write (HDF5); omit to only report")
      ("init", po::value<std::string>()->default_value("k-means++"),
       "k-means++ | forgy | random (= forgy) | random-partition | FILE.h5:/centres (k x d)")
      ("n-init", po::value<int>()->default_value(1), "seeded restarts; the lowest inertia wins")
      ("max-iter", po::value<int>()->default_value(300), "maximum Lloyd iterations per restart")
      ("tol", po::value<double>()->default_value(1e-4),
       "stop when the summed squared centre shift <= tol x mean feature variance")
      ("seed", po::value<std::uint64_t>()->default_value(0), "random seed (results depend on it, not on the rank count)")
      ("json", po::bool_switch(), "print one JSON object with the result on rank 0")
      ("verbose", po::bool_switch(), "print one line per iteration on rank 0 (stderr)")
      ("force", po::bool_switch(), "overwrite --output if it exists");
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
                       "': expected k-means++, forgy, random, random-partition or FILE.h5:/dataset");
    request.init_file = parse_dataset_ref(request.init_text);
  }
  request.k_given = vm->count("k") > 0;
  if (!request.k_given && !request.init_file)
    throw UsageError("lloyd fit: --k is required (unless --init names a file of centres)");
  if (request.k_given) request.options.k = (*vm)["k"].as<int>();
  if (request.k_given && request.options.k < 1)
    throw UsageError("lloyd fit: --k must be at least 1 (got " + std::to_string(request.options.k) + ")");
  request.options.n_init = (*vm)["n-init"].as<int>();
  request.options.max_iter = (*vm)["max-iter"].as<int>();
  request.options.tol = (*vm)["tol"].as<double>();
  request.options.seed = (*vm)["seed"].as<std::uint64_t>();
  if (request.options.n_init < 1) throw UsageError("lloyd fit: --n-init must be at least 1");
  if (request.options.max_iter < 1) throw UsageError("lloyd fit: --max-iter must be at least 1");
  if (!(request.options.tol >= 0)) throw UsageError("lloyd fit: --tol must be >= 0");
  request.json = (*vm)["json"].as<bool>();
  request.verbose = (*vm)["verbose"].as<bool>();
  request.force = (*vm)["force"].as<bool>();

  if (!request.output.empty()) {
    std::vector<std::string> inputs = {request.input.file};
    if (request.init_file) inputs.push_back(request.init_file->file);
    run_agreed(comm, [&] { check_output_path(request.output, request.force, inputs); });
  }
  const MatrixShape shape = inspect_matrix(comm, request.input);
  return shape.type == ElementType::Float32 ? fit_typed<float>(comm, request, shape, start)
                                            : fit_typed<double>(comm, request, shape, start);
}

}  // namespace lloyd::cli
