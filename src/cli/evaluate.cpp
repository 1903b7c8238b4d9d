// lloyd evaluate: internal (silhouette, Calinski–Harabasz, Davies–Bouldin) and external
// (ARI, NMI, homogeneity, completeness, V-measure) scores of a labelling, on the shards.
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "common.hpp"
#include "lloyd/io/csr.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/kmeans/spherical.hpp"
#include "lloyd/metrics/external.hpp"
#include "lloyd/metrics/internal.hpp"
#include "lloyd/metrics/labels.hpp"
#include "lloyd/metrics/silhouette.hpp"

namespace lloyd::cli {

namespace {

struct EvaluateRequest {
  DatasetRef input, labels;
  std::optional<DatasetRef> truth;
  std::string output;
  bool silhouette = true, calinski_harabasz = true, davies_bouldin = true;
  std::uint64_t sample_size = 0, seed = 0;
  bool json = false, force = false;
  bool cosine = false;  ///< --metric cosine: the silhouette of the unit rows, CSR kept sparse
  bool verbose = false, estimate_only = false;
  MemoryPlan memory;
};

// The labelling(s) scored, as cluster codes (read before the rows: their distinct values size
// the silhouette's sums in the memory estimate).
struct EvaluatedLabels {
  std::vector<std::int32_t> labels, truth;
  std::int64_t clusters = 0;
};

template <class T>
int evaluate_typed(const Comm& comm, const EvaluateRequest& request, const MatrixShape& shape,
                   const EvaluatedLabels& read_labels, double start) {
  // Cosine: the rows fit --metric cosine clusters (unit norm, sparse stays sparse); the
  // dense shard is then not read at all.
  DenseShard<T> shard;
  CsrShard<T> unit_rows;
  if (request.cosine) {
    unit_rows = read_rows_as_csr<T>(comm, request.input, shape);
    normalize_rows(unit_rows);
  } else {
    shard = read_shard<T>(comm, request.input, shape);
  }
  const std::uint64_t first_row = request.cosine ? unit_rows.first_row : shard.first_row;
  const std::vector<std::int32_t>& labels = read_labels.labels;
  const std::vector<std::int32_t>& truth = read_labels.truth;

  JsonObject object;
  object.add("command", "evaluate");
  std::ostringstream text;
  const auto report = [&](const char* key, double value) {
    object.add(key, value);
    text << "  " << key << "=" << std::setprecision(17) << value << "\n";
  };
  SilhouetteResult s;
  if (request.silhouette) {
    if (request.cosine)
      s = request.sample_size
              ? sampled_cosine_silhouette(comm, unit_rows, labels, request.sample_size, request.seed)
              : cosine_silhouette(comm, unit_rows, labels);
    else
      s = request.sample_size
              ? sampled_silhouette(comm, shard, labels, request.sample_size, request.seed)
              : silhouette(comm, shard, labels);
    report("silhouette", s.mean);
    if (s.sampled) report("silhouette_stderr", s.standard_error);
    object.add("silhouette_rows", s.rows);
  }
  if (request.calinski_harabasz)
    report("calinski_harabasz", calinski_harabasz(comm, shard, labels));
  if (request.davies_bouldin) report("davies_bouldin", davies_bouldin(comm, shard, labels));
  if (request.truth) {
    const ExternalScores e = external_scores(comm, labels, truth);
    report("adjusted_rand", e.adjusted_rand);
    report("normalized_mutual_info", e.normalized_mutual_info);
    report("homogeneity", e.homogeneity);
    report("completeness", e.completeness);
    report("v_measure", e.v_measure);
  }
  if (!request.output.empty()) {
    OutputFile file(comm, request.output, request.force);
    file.write_distributed("/silhouette", s.values.data(), s.values.size(), first_row,
                           shape.rows, 0);
    write_attribute(file.root(), "silhouette", s.mean);
    write_attribute(file.root(), "metric", std::string(request.cosine ? "cosine" : "euclidean"));
    write_attribute(file.root(), "input", request.input.text());
    write_attribute(file.root(), "labels", request.labels.text());
    file.commit();
  }
  const double seconds = elapsed_max(comm, start);
  const double peak_rss_mb = peak_memory_mb(comm);
  if (comm.rank() == 0) {
    if (request.json) {
      object.add("peak_rss_mb", peak_rss_mb).add("memory_estimate_mb", request.memory.json());
      object.add("n_samples", shape.rows)
          .add("n_features", shape.cols)
          .add("n_ranks", comm.size())
          .add("metric", request.cosine ? "cosine" : "euclidean")
          .add("seconds", seconds)
          .add("input", request.input.text())
          .add("labels", request.labels.text());
      if (!request.output.empty()) object.add("output", request.output);
      std::cout << object.str() << std::endl;
    } else {
      std::printf("lloyd evaluate: n=%llu d=%llu ranks=%d%s  %.3f s\n",
                  static_cast<unsigned long long>(shape.rows),
                  static_cast<unsigned long long>(shape.cols), comm.size(),
                  request.cosine ? " metric=cosine" : "", seconds);
      std::cout << text.str() << std::flush;
    }
  }
  return 0;
}

}  // namespace

int run_evaluate(const Comm& comm, const Args& args) {
  const double start = MPI_Wtime();
  po::options_description description("options");
  description.add_options()("input", po::value<std::string>(),
                            kInputHelp)(
      "labels", po::value<std::string>(),
      "cluster labels: MODEL.h5 (reads /labels) or FILE.h5:/dataset (n integers; each value a cluster)")(
      "metrics", po::value<std::string>()->default_value("silhouette,ch,db"),
      "comma-separated: silhouette, ch (Calinski-Harabasz), db (Davies-Bouldin), or none; "
      "external scores come with --truth (default with --metric cosine: silhouette)")(
      "metric", po::value<std::string>()->default_value("euclidean"),
      "distance of the silhouette: euclidean, or cosine (scikit-learn's metric=\"cosine\"; dense "
      "or CSR input, kept sparse)")(
      "sample-size", po::value<std::uint64_t>()->default_value(0),
      "silhouette of a random sample of N rows, with its standard error (0: exact, all rows)")(
      "seed", po::value<std::uint64_t>()->default_value(0), "random seed of the silhouette sample")(
      "truth", po::value<std::string>(),
      "true classes FILE.h5:/y: adds ARI, NMI, homogeneity, completeness, V-measure")(
      "output", po::value<std::string>(),
      "write the per-sample silhouettes (/silhouette) to this HDF5 file")(
      "json", po::bool_switch(), "print one JSON object with the scores on rank 0")(
      "force", po::bool_switch(), "overwrite --output if it exists")(
      "verbose", po::bool_switch(), "print the estimated memory per rank (stderr, rank 0)")(
      "sample-weight", po::value<std::string>(),
      "refused: scikit-learn's silhouette, Calinski-Harabasz and Davies-Bouldin take no sample weights");
  add_input_options(description);
  add_memory_options(description);
  const auto vm =
      parse(comm, "evaluate", "--input FILE.h5:/X --labels MODEL.h5[:/labels] [--truth FILE.h5:/y]",
            description, args);
  if (!vm) return 0;
  if (vm->count("sample-weight"))
    throw UsageError("lloyd evaluate: --sample-weight is not accepted: scikit-learn's silhouette, "
                     "Calinski-Harabasz and Davies-Bouldin scores have no sample weights");
  EvaluateRequest request;
  try {
    request.input = input_option(comm, *vm, "evaluate");
    request.labels = parse_dataset_ref(required<std::string>(*vm, "evaluate", "labels"), "/labels");
    if (vm->count("truth")) request.truth = parse_dataset_ref((*vm)["truth"].as<std::string>());
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(std::string("lloyd evaluate: ") + e.what());
  }
  request.cosine = parse_cosine_metric(*vm, "evaluate", " (the distance; the scores to compute are --metrics)");
  request.silhouette = request.calinski_harabasz = request.davies_bouldin = false;
  // Calinski-Harabasz and Davies-Bouldin are defined by Euclidean means (scikit-learn has no
  // metric for them): with cosine the default list is the silhouette alone.
  const std::string metric_list = request.cosine && (*vm)["metrics"].defaulted()
                                      ? std::string("silhouette")
                                      : (*vm)["metrics"].as<std::string>();
  std::stringstream metrics(metric_list);
  bool named = false;
  for (std::string name; std::getline(metrics, name, ',');) {
    if (name == "silhouette")
      request.silhouette = true;
    else if (name == "ch" || name == "calinski-harabasz")
      request.calinski_harabasz = true;
    else if (name == "db" || name == "davies-bouldin")
      request.davies_bouldin = true;
    else if (!name.empty() && name != "none")
      throw UsageError("lloyd evaluate: unknown metric '" + name +
                       "' (expected silhouette, ch, db, or none)");
    named = named || !name.empty();
  }
  // Nothing to compute is a mistake, not an empty report; "none" asks for the external
  // scores of --truth alone.
  if (!named)
    throw UsageError("lloyd evaluate: --metrics names no metric (expected a comma-separated list of "
                     "silhouette, ch, db; 'none' with --truth for the external scores alone)");
  if (request.cosine && (request.calinski_harabasz || request.davies_bouldin))
    throw UsageError("lloyd evaluate: --metrics ch and db are Euclidean (scikit-learn has no cosine "
                     "form of them): with --metric cosine only the silhouette is computed");
  if (metric_list == "none" && !request.truth)
    throw UsageError("lloyd evaluate: --metrics none leaves nothing to compute without --truth");
  refuse_unless(*vm, "evaluate", {"sample-size", "seed"}, request.silhouette, "--metrics with silhouette");
  refuse_unless(*vm, "evaluate", {"force"}, vm->count("output") > 0, "--output");
  request.sample_size = (*vm)["sample-size"].as<std::uint64_t>();
  if (request.sample_size == 1)
    throw UsageError("lloyd evaluate: --sample-size must be 0 (the exact silhouette) or at least 2");
  request.seed = (*vm)["seed"].as<std::uint64_t>();
  request.json = (*vm)["json"].as<bool>();
  if (vm->count("output")) {
    request.output = (*vm)["output"].as<std::string>();
    if (!request.silhouette || request.sample_size)
      throw UsageError(
          "lloyd evaluate: --output writes per-sample silhouettes: it needs the exact silhouette "
          "(metric silhouette, no --sample-size)");
    std::vector<std::string> inputs{request.input.file, request.labels.file};
    if (request.truth) inputs.push_back(request.truth->file);
    request.force = (*vm)["force"].as<bool>();
    run_agreed(comm, [&] { check_output_path(request.output, request.force, inputs); });
  }
  request.verbose = (*vm)["verbose"].as<bool>();
  request.estimate_only = (*vm)["estimate-only"].as<bool>();
  request.memory.limit = memory_limit_option(comm, *vm, "evaluate");
  const MatrixShape shape = inspect_matrix(comm, request.input);
  // Any integer labels, as scikit-learn's: each distinct value is a cluster (or class), so
  // what the metrics allocate follows the number of distinct values, not the largest one.
  EvaluatedLabels labels;
  labels.labels = read_encoded_labels(comm, request.labels, shape.rows).codes;
  if (request.truth) labels.truth = read_encoded_labels(comm, *request.truth, shape.rows).codes;
  labels.clusters = check_cluster_labels(comm, labels.labels, ("labels " + request.labels.text()).c_str());
  const EvaluateMemorySettings settings{.silhouette = request.silhouette,
                                        .calinski_harabasz = request.calinski_harabasz,
                                        .davies_bouldin = request.davies_bouldin,
                                        .cosine = request.cosine,
                                        .truth = request.truth.has_value(),
                                        .sample_size = request.sample_size,
                                        .clusters = labels.clusters,
                                        .collective_read = request.input.format == InputFormat::Hdf5};
  const bool run = plan_memory(
      comm, "evaluate", [&](int ranks) { return estimate_evaluate_memory(shape, ranks, settings); }, request.verbose,
      request.estimate_only, request.json,
      [&](JsonObject& json) {
        json.add("clusters", labels.clusters).add("n_samples", shape.rows).add("n_features", shape.cols)
            .add("dtype", to_string(shape.type)).add("n_ranks", comm.size());
      },
      request.memory);
  if (!run) return 0;
  return shape.type == ElementType::Float32 ? evaluate_typed<float>(comm, request, shape, labels, start)
                                            : evaluate_typed<double>(comm, request, shape, labels, start);
}

}  // namespace lloyd::cli
