// lloyd choose-k: a K-Means fit per K and the criteria that recommend a K (elbow,
// silhouette, Calinski–Harabasz, Davies–Bouldin, gap statistic), written to a sweep file.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "common.hpp"
#include "lloyd/io/csr.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/kmeans/spherical.hpp"
#include "lloyd/select/sweep.hpp"

namespace lloyd::cli {

namespace {

struct ChooseRequest {
  DatasetRef input;
  std::string output;
  SweepOptions options;
  std::string init_text;
  bool json = false, quiet = false, force = false;
  bool cosine = false;  ///< --metric cosine: spherical fits, cosine silhouette
  bool verbose = false, estimate_only = false;
  int threads = 1;
  MemoryPlan memory;
};

void write_sweep(const Comm& comm, const ChooseRequest& request, const SweepResult& result,
                 const MatrixShape& shape) {
  OutputFile file(comm, request.output, request.force);
  const auto rows = static_cast<std::uint64_t>(result.ks.size());
  std::vector<std::int64_t> ks(result.ks.begin(), result.ks.end()),
      n_iter(result.n_iter.begin(), result.n_iter.end());
  file.write_replicated("/k", ks.data(), rows, 0);
  file.write_replicated("/n_iter", n_iter.data(), rows, 0);
  const std::pair<const char*, const std::vector<double>*> series[] = {
      {"/inertia", &result.inertia},
      {"/silhouette", &result.silhouette},
      {"/silhouette_stderr", &result.silhouette_stderr},
      {"/calinski_harabasz", &result.calinski_harabasz},
      {"/davies_bouldin", &result.davies_bouldin},
      {"/gap", &result.gap},
      {"/gap_s", &result.gap_s},
      {"/log_w", &result.log_w},
      {"/reference_log_w", &result.reference_log_w}};
  for (const auto& [name, values] : series) file.write_replicated(name, values->data(), rows, 0);
  const hid_t root = file.root();
  write_attribute(root, "recommended_k_elbow", std::int64_t{result.elbow_k});
  write_attribute(root, "recommended_k_silhouette", std::int64_t{result.silhouette_k});
  write_attribute(root, "recommended_k_calinski_harabasz",
                  std::int64_t{result.calinski_harabasz_k});
  write_attribute(root, "recommended_k_davies_bouldin", std::int64_t{result.davies_bouldin_k});
  write_attribute(root, "recommended_k_gap", std::int64_t{result.gap_k});
  const SweepOptions& o = request.options;
  write_attribute(root, "k_min", std::int64_t{o.k_min});
  write_attribute(root, "k_max", std::int64_t{o.k_max});
  write_attribute(root, "gap_refs", std::int64_t{o.gap ? o.gap_refs : 0});
  write_attribute(root, "gap_reference", std::string(to_string(o.gap_reference)));
  write_attribute(root, "silhouette_sampled", std::int64_t{result.silhouette_sampled});
  write_attribute(
      root, "silhouette_sample_size",
      static_cast<std::int64_t>(result.silhouette_sampled ? o.silhouette_sample_size : 0));
  write_attribute(root, "seed", static_cast<std::int64_t>(o.fit.seed));
  write_attribute(root, "n_init", std::int64_t{o.fit.n_init});
  write_attribute(root, "init", request.init_text);
  write_attribute(root, "max_iter", std::int64_t{o.fit.max_iter});
  write_attribute(root, "tol", o.fit.tol);
  write_attribute(root, "n_samples", static_cast<std::int64_t>(shape.rows));
  write_attribute(root, "n_features", static_cast<std::int64_t>(shape.cols));
  write_attribute(root, "input", request.input.text());
  write_attribute(root, "metric", std::string(request.cosine ? "cosine" : "euclidean"));
  write_attribute(root, "elbow_rule",
                  std::string("kneedle on log(inertia): K maximising (1 - y) - x, x = (K - "
                              "Kmin)/(Kmax - Kmin), y = log W normalised to [0,1]"));
  write_attribute(root, "gap_rule",
                  std::string("Tibs2001SEmax: smallest K with Gap(K) >= Gap(K+1) - s(K+1)"));
  file.commit();
}

// A K at either end of the range may only be the best of those tried: say so (on stderr).
void note_edge_recommendations(const SweepOptions& o, const SweepResult& result) {
  if (o.k_max == o.k_min) return;
  const std::pair<const char*, int> picks[] = {{"elbow", result.elbow_k},
                                               {"silhouette", result.silhouette_k},
                                               {"calinski_harabasz", result.calinski_harabasz_k},
                                               {"davies_bouldin", result.davies_bouldin_k},
                                               {"gap", result.gap_k}};
  // The internal criteria start at K = 2: K = 2 is the lower end for them when --k-min is 1.
  for (const auto& [name, k] : picks) {
    const bool needs_two = std::string(name) != "elbow" && std::string(name) != "gap";
    const int lowest = needs_two ? std::max(o.k_min, 2) : o.k_min;
    if (k == o.k_max)
      std::fprintf(stderr,
                   "lloyd choose-k: note: %s recommends K = %d, the largest K tried; a larger K may be "
                   "better (raise --k-max)\n", name, k);
    else if (k > 0 && k == lowest && lowest > 1)
      std::fprintf(stderr,
                   "lloyd choose-k: note: %s recommends K = %d, the smallest K tried; a smaller K may be "
                   "better (lower --k-min)\n", name, k);
  }
}

template <class T>
int choose_typed(const Comm& comm, const ChooseRequest& request, const MatrixShape& shape,
                 double start) {
  const auto observer = [&](const SweepProgress& p) {
    if (comm.rank() != 0 || request.quiet) return;
    if (p.reference < 0)
      std::fprintf(stderr, "lloyd choose-k: [%d/%d] k=%d data inertia=%.10g n_iter=%d  %.2f s\n",
                   p.done, p.total, p.k, p.inertia, p.n_iter, p.seconds);
    else
      std::fprintf(
          stderr, "lloyd choose-k: [%d/%d] k=%d gap reference %d inertia=%.10g n_iter=%d  %.2f s\n",
          p.done, p.total, p.k, p.reference, p.inertia, p.n_iter, p.seconds);
  };
  const SweepResult result = [&] {
    if (!request.cosine) return choose_k(comm, read_shard<T>(comm, request.input, shape), request.options, observer);
    // The rows fit --metric cosine clusters: unit norm, sparse input kept sparse.
    CsrShard<T> unit_rows = read_rows_as_csr<T>(comm, request.input, shape);
    normalize_rows(unit_rows);
    return choose_k_cosine(comm, unit_rows, request.options, observer);
  }();
  if (!request.output.empty()) write_sweep(comm, request, result, shape);
  if (comm.rank() == 0) note_edge_recommendations(request.options, result);
  const double seconds = elapsed_max(comm, start);
  const double peak_rss_mb = peak_memory_mb(comm);
  if (comm.rank() != 0) return 0;
  if (request.json) {
    JsonObject object;
    object.add("command", "choose-k")
        .add("k_min", request.options.k_min)
        .add("k_max", request.options.k_max);
    const std::pair<const char*, int> picks[] = {{"elbow", result.elbow_k},
                                                 {"silhouette", result.silhouette_k},
                                                 {"calinski_harabasz", result.calinski_harabasz_k},
                                                 {"davies_bouldin", result.davies_bouldin_k},
                                                 {"gap", result.gap_k}};
    for (const auto& [name, k] : picks)
      if (k > 0) object.add(std::string("recommended_k_") + name, k);
    object.add("n_samples", shape.rows)
        .add("n_features", shape.cols)
        .add("n_ranks", comm.size())
        .add("metric", request.cosine ? "cosine" : "euclidean")
        .add("seconds", seconds)
        .add("seed", static_cast<std::int64_t>(request.options.fit.seed))
        .add("silhouette_sampled", result.silhouette_sampled)
        .add("peak_rss_mb", peak_rss_mb)
        .add("memory_estimate_mb", request.memory.json());
    if (!request.output.empty()) object.add("output", request.output);
    std::cout << object.str() << std::endl;
  } else {
    std::printf("lloyd choose-k: n=%llu d=%llu ranks=%d  %.3f s\n",
                static_cast<unsigned long long>(shape.rows),
                static_cast<unsigned long long>(shape.cols), comm.size(), seconds);
    std::printf("%4s %16s %12s %14s %12s %10s %10s\n", "k", "inertia", "silhouette", "calinski_h",
                "davies_b", "gap", "gap_s");
    for (std::size_t i = 0; i < result.ks.size(); ++i)
      std::printf("%4d %16.8g %12.6f %14.6g %12.6f %10.5f %10.5f\n", result.ks[i],
                  result.inertia[i], result.silhouette[i], result.calinski_harabasz[i],
                  result.davies_bouldin[i], result.gap[i], result.gap_s[i]);
    std::printf(
        "recommended k: elbow=%d silhouette=%d calinski_harabasz=%d davies_bouldin=%d gap=%d (0: "
        "not computed)\n",
        result.elbow_k, result.silhouette_k, result.calinski_harabasz_k, result.davies_bouldin_k,
        result.gap_k);
  }
  return 0;
}

}  // namespace

int run_choose_k(const Comm& comm, const Args& args) {
  const double start = MPI_Wtime();
  po::options_description description("options");
  description.add_options()("input", po::value<std::string>(),
                            kInputHelp)(
      "k-min", po::value<int>()->default_value(2),
      "smallest K (1 is allowed; silhouette, CH and DB need K >= 2)")(
      "k-max", po::value<int>()->default_value(10), "largest K")(
      "criteria", po::value<std::string>()->default_value("elbow,silhouette,ch,db,gap"),
      "comma-separated subset of elbow, silhouette, ch, db, gap (the elbow is always reported; "
      "default with --metric cosine: elbow,silhouette)")(
      "metric", po::value<std::string>()->default_value("euclidean"),
      "euclidean, or cosine: spherical K-Means fits (as fit --metric cosine; dense or CSR input, "
      "kept sparse), their inertia for the elbow, the cosine silhouette")(
      "gap-refs", po::value<int>()->default_value(10),
      "reference data sets B of the gap statistic")(
      "gap-reference", po::value<std::string>()->default_value("uniform"),
      "gap reference distribution: uniform (bounding box) or pca (box of the principal "
      "components)")("silhouette-max-exact", po::value<std::uint64_t>()->default_value(20000),
                     "exact silhouette up to this many rows; beyond, a random sample")(
      "silhouette-sample-size", po::value<std::uint64_t>()->default_value(20000),
      "rows of the sampled silhouette (reported with its standard error)")(
      "init", po::value<std::string>()->default_value("k-means++"),
      "k-means++, k-means||, forgy or random-partition")(
      "max-iter", po::value<int>()->default_value(300), "iterations per restart")(
      "tol", po::value<double>()->default_value(1e-4), "relative tolerance (as lloyd fit)")(
      "seed", po::value<std::uint64_t>()->default_value(0),
      "random seed (fits, references, samples)")(
      "output", po::value<std::string>(),
      "sweep file SWEEP.h5 (a dataset per criterion, recommended K as attributes)")(
      "json", po::bool_switch(), "print one JSON object with the recommendations on rank 0")(
      "quiet", po::bool_switch(), "no progress line per finished fit")(
      "force", po::bool_switch(), "overwrite --output if it exists")(
      "verbose", po::bool_switch(), "print the estimated memory per rank (stderr, rank 0)");
  add_memory_options(description);
  add_n_init_option(description, "seeded restarts per fit");
  add_algorithm_option(description);
  add_threads_option(description);
  add_input_options(description);
  const auto vm =
      parse(comm, "choose-k", "--input FILE.h5:/X --k-min A --k-max B --output SWEEP.h5",
            description, args);
  if (!vm) return 0;
  ChooseRequest request;
  SweepOptions& o = request.options;
  try {
    request.input = input_option(comm, *vm, "choose-k");
    o.gap_reference = parse_gap_reference((*vm)["gap-reference"].as<std::string>());
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(std::string("lloyd choose-k: ") + e.what());
  }
  o.k_min = (*vm)["k-min"].as<int>();
  o.k_max = (*vm)["k-max"].as<int>();
  if (o.k_min < 1 || o.k_max < o.k_min)
    throw UsageError("lloyd choose-k: need 1 <= --k-min <= --k-max (got " +
                     std::to_string(o.k_min) + ".." + std::to_string(o.k_max) + ")");
  request.cosine = parse_cosine_metric(*vm, "choose-k");
  o.silhouette = o.calinski_harabasz = o.davies_bouldin = o.gap = false;
  // CH and DB are built on Euclidean means, the gap statistic on a box-uniform null: with
  // cosine the default criteria are the elbow and the silhouette.
  std::stringstream criteria(request.cosine && (*vm)["criteria"].defaulted()
                                 ? std::string("elbow,silhouette")
                                 : (*vm)["criteria"].as<std::string>());
  bool named = false;
  for (std::string name; std::getline(criteria, name, ',');) {
    if (name == "silhouette")
      o.silhouette = true;
    else if (name == "ch" || name == "calinski-harabasz")
      o.calinski_harabasz = true;
    else if (name == "db" || name == "davies-bouldin")
      o.davies_bouldin = true;
    else if (name == "gap")
      o.gap = true;
    else if (name != "elbow" && !name.empty())
      throw UsageError("lloyd choose-k: unknown criterion '" + name +
                       "' (expected elbow, silhouette, ch, db, gap)");
    named = named || !name.empty();
  }
  if (!named)
    throw UsageError("lloyd choose-k: --criteria names no criterion (expected a comma-separated list of "
                     "elbow, silhouette, ch, db, gap; 'elbow' for the elbow alone)");
  if (request.cosine && (o.calinski_harabasz || o.davies_bouldin || o.gap))
    throw UsageError("lloyd choose-k: with --metric cosine the criteria are elbow and silhouette "
                     "(ch, db and gap are Euclidean constructions)");
  o.gap_refs = (*vm)["gap-refs"].as<int>();
  if (o.gap && o.gap_refs < 1) throw UsageError("lloyd choose-k: --gap-refs must be at least 1");
  o.silhouette_max_exact = (*vm)["silhouette-max-exact"].as<std::uint64_t>();
  o.silhouette_sample_size = (*vm)["silhouette-sample-size"].as<std::uint64_t>();
  if (o.silhouette_sample_size < 2)
    throw UsageError("lloyd choose-k: --silhouette-sample-size must be at least 2");
  request.init_text = (*vm)["init"].as<std::string>();
  o.fit.init = parse_init_method(request.init_text);
  if (o.fit.init == InitMethod::Explicit)
    throw UsageError("lloyd choose-k: --init must be k-means++, k-means||, forgy or random-partition (got '" +
                     request.init_text + "')");
  if (request.cosine && o.fit.init != InitMethod::KMeansPlusPlus && o.fit.init != InitMethod::Forgy)
    throw UsageError("lloyd choose-k: --metric cosine supports --init k-means++ or forgy (got '" +
                     request.init_text + "')");
  o.fit.algorithm = parse_algorithm_option(*vm, "choose-k");
  request.threads = apply_threads(comm, *vm);
  o.fit.n_init = parse_n_init_option(*vm, "choose-k", o.fit.init);
  refuse_unless(*vm, "choose-k", {"gap-refs", "gap-reference"}, o.gap, "--criteria with gap");
  refuse_unless(*vm, "choose-k", {"algorithm"}, !request.cosine, "--metric euclidean (spherical fits have one loop)");
  refuse_unless(*vm, "choose-k", {"silhouette-max-exact", "silhouette-sample-size"}, o.silhouette,
                "--criteria with silhouette");
  o.fit.max_iter = (*vm)["max-iter"].as<int>();
  o.fit.tol = non_negative_option(*vm, "choose-k", "tol");
  o.fit.seed = (*vm)["seed"].as<std::uint64_t>();
  if (o.fit.max_iter < 1) throw UsageError("lloyd choose-k: --max-iter must be at least 1");
  request.json = (*vm)["json"].as<bool>();
  request.quiet = (*vm)["quiet"].as<bool>();
  request.output = required<std::string>(*vm, "choose-k", "output");
  request.force = (*vm)["force"].as<bool>();
  run_agreed(comm, [&] {
    check_output_path(request.output, request.force, {request.input.file});
  });
  request.verbose = (*vm)["verbose"].as<bool>();
  request.estimate_only = (*vm)["estimate-only"].as<bool>();
  request.memory.limit = memory_limit_option(comm, *vm, "choose-k");
  const MatrixShape shape = inspect_matrix(comm, request.input);
  ChooseKMemorySettings settings{.fit = {},
                                 .k_max = o.k_max,
                                 .silhouette = o.silhouette,
                                 .calinski_harabasz = o.calinski_harabasz,
                                 .davies_bouldin = o.davies_bouldin,
                                 .gap = o.gap,
                                 .silhouette_max_exact = o.silhouette_max_exact,
                                 .silhouette_sample_size = o.silhouette_sample_size,
                                 .collective_read = request.input.format == InputFormat::Hdf5};
  settings.fit.options = o.fit;
  settings.fit.cosine = request.cosine;
  const bool run = plan_memory(
      comm, "choose-k",
      [&](int ranks) { return estimate_choose_k_memory(shape, ranks, request.threads, settings); }, request.verbose,
      request.estimate_only, request.json,
      [&](JsonObject& json) {
        json.add("k_min", o.k_min).add("k_max", o.k_max).add("n_samples", shape.rows).add("n_features", shape.cols)
            .add("dtype", to_string(shape.type)).add("n_ranks", comm.size()).add("threads", request.threads);
      },
      request.memory);
  if (!run) return 0;
  return shape.type == ElementType::Float32 ? choose_typed<float>(comm, request, shape, start)
                                            : choose_typed<double>(comm, request, shape, start);
}

}  // namespace lloyd::cli
