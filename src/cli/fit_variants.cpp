// `lloyd fit --mode minibatch|kmedians|kmedoids`: the variants' options. fit.cpp fits, writes
// and reports their models like every other mode's.
#include <cstdio>

#include "fit.hpp"

namespace lloyd::cli {

namespace {

// Rows above which a k-medoids fit on all rows gets a warning about its quadratic cost.
constexpr std::uint64_t kLargeMedoidFit = 50000;

}  // namespace

IterationObserver variant_progress(const Comm& comm, const FitRequest& request) {
  if (!request.verbose || comm.rank() != 0) return {};
  const bool steps = request.mode == ModelAlgorithm::MiniBatch;
  return [steps](const IterationStats& s) {
    if (steps && s.iteration % 100 != 0) return;
    std::fprintf(stderr, "%s %5d  %s %.10g  %.3f s\n", steps ? "step" : "iter", s.iteration,
                 steps ? "batch inertia" : "inertia", s.inertia, s.seconds);
  };
}

void warn_if_costly_medoids(const Comm& comm, const FitRequest& request, const MatrixShape& shape) {
  const bool all_rows = !request.medoids.sample || request.medoids.sample >= shape.rows;
  if (request.mode == ModelAlgorithm::KMedoids && all_rows && shape.rows > kLargeMedoidFit && comm.rank() == 0)
    std::fprintf(stderr,
                 "lloyd fit: warning: k-medoids on all %llu rows costs O(k n^2 d) distance "
                 "evaluations per pass; consider --sample M\n",
                 static_cast<unsigned long long>(shape.rows));
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
       "minibatch, and lloyd with --init k-means||, forgy, random-partition or FILE: read rows from the file "
       "block by block instead of loading the shard (out of core)")
      ("medoid-method", po::value<std::string>()->default_value("alternate"),
       "kmedoids: alternate (Voronoi iteration) | pam (best swaps)")
      ("distance", po::value<std::string>()->default_value("euclidean"),
       "kmedoids: euclidean | manhattan | cosine")
      ("sample", po::value<std::int64_t>()->default_value(0),
       "kmedoids: choose the medoids on this many random rows, then assign all (CLARA; 0: all rows)");
}

void parse_variant_options(const po::variables_map& vm, FitRequest& request) {
  const std::string mode = to_string(request.mode);
  const auto batch_size = vm["batch-size"].as<std::int64_t>();
  const auto init_size = vm["init-size"].as<std::int64_t>();
  const auto sample = vm["sample"].as<std::int64_t>();
  request.batch.max_no_improvement = vm["max-no-improvement"].as<int>();
  request.batch.reassignment_ratio = vm["reassignment-ratio"].as<double>();
  if (!(request.batch.reassignment_ratio >= 0 && request.batch.reassignment_ratio <= 1))
    throw UsageError("lloyd fit: --reassignment-ratio must be between 0 and 1");
  if (batch_size < 1) throw UsageError("lloyd fit: --batch-size must be at least 1");
  if (init_size < 0) throw UsageError("lloyd fit: --init-size must be >= 0 (0: 3 x batch size)");
  if (request.batch.max_no_improvement < 0)
    throw UsageError("lloyd fit: --max-no-improvement must be >= 0 (0: never stop early)");
  if (sample < 0) throw UsageError("lloyd fit: --sample must be >= 0 (0: all rows)");
  request.batch.batch_size = static_cast<std::uint64_t>(batch_size);
  request.batch.init_size = static_cast<std::uint64_t>(init_size);
  request.stream = vm["stream"].as<bool>();
  request.medoids.sample = static_cast<std::uint64_t>(sample);
  try {
    request.medoids.method = parse_medoid_method(vm["medoid-method"].as<std::string>());
    request.medoids.distance = parse_distance(vm["distance"].as<std::string>());
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

}  // namespace lloyd::cli
