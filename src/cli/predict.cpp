#include <cstdio>
#include <optional>
#include <iostream>

#include "common.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/kmeans/fit_model.hpp"
#include "lloyd/io/csr.hpp"
#include "lloyd/io/model.hpp"
#include "lloyd/kmeans/row_distances.hpp"
#include "lloyd/io/sample_weights.hpp"
#include "lloyd/kmeans/spherical.hpp"
#include "lloyd/core/distance.hpp"

namespace lloyd::cli {

namespace {

/// What `lloyd predict` was asked, parsed and validated.
struct PredictRequest {
  DatasetRef model, input;
  std::string output;  ///< empty: only report
  bool force = false, json = false;
  bool distances = false;  ///< --distances: /distance
  bool transform = false;  ///< --transform: /transform
  std::uint64_t top_outliers = 0;  ///< --top-outliers N
  std::optional<DatasetRef> sample_weight;  ///< --sample-weight: the inertia is weighted
};

// The outliers as one line each (plain report) or a JSON array.
std::string outliers_json(const std::vector<Outlier>& outliers) {
  std::string text = "[";
  for (const Outlier& o : outliers) {
    JsonObject item;
    item.add("row", o.row).add("label", o.label).add("distance", o.distance);
    if (text.size() > 1) text += ",";
    text += item.str();
  }
  return text + "]";
}

template <class T>
int predict_typed(const Comm& comm, const PredictRequest& request, const MatrixShape& shape, double start) {
  const DatasetRef& model = request.model;
  const DatasetRef& input = request.input;
  const std::string& output = request.output;
  const Model<T> fitted = read_model<T>(comm, model, shape.cols);
  if (fitted.scaling && shape.sparse)
    throw AgreedError("model '" + model.file + "' standardizes its features (fit --standardize): " +
                      "sparse input " + input.text() + " cannot be centred; densify it first");
  const RowMatrix<T>& centroids = fitted.centroids;
  // A cosine model labels the unit rows by their largest dot product; sparse rows stay sparse.
  CsrShard<T> unit_rows;
  if (fitted.cosine) {
    unit_rows = read_rows_as_csr<T>(comm, input, shape);
    normalize_rows(unit_rows);
    if (request.sample_weight) attach_sample_weights(comm, *request.sample_weight, unit_rows);
  }
  DenseShard<T> shard = fitted.cosine ? DenseShard<T>{unit_rows.global_rows, unit_rows.first_row,
                                                      RowMatrix<T>(unit_rows.local_rows(), 0)}
                                      : read_shard<T>(comm, input, shape);
  // A standardized model labels in its scaled space, as scikit-learn's
  // Pipeline(StandardScaler(), KMeans()) does: distances are in that space too.
  if (fitted.scaling) standardize(*fitted.scaling, shard);
  // The weighted inertia: scikit-learn's −KMeans.score(X, sample_weight=w).
  if (request.sample_weight && !fitted.cosine) attach_sample_weights(comm, *request.sample_weight, shard);
  std::vector<std::int32_t> labels;
  const double inertia = fitted.cosine ? predict_model(comm, fitted, unit_rows, labels)
                                       : predict_model(comm, fitted, shard, labels);
  const Distance distance = model_distance(fitted);
  std::vector<double> distances;
  if (request.distances || request.top_outliers > 0) {
    distances.resize(labels.size());
    if (fitted.cosine) distances_to_labels(unit_rows, centroids, distance, labels, distances);
    else distances_to_labels(shard, centroids, distance, labels, distances);
  }
  const std::vector<Outlier> outliers = top_outliers(comm, shard.first_row, labels, distances, request.top_outliers);
  const std::vector<std::int64_t> sizes = cluster_sizes(comm, labels, centroids.rows());
  const auto k = static_cast<std::uint64_t>(centroids.rows());

  if (!output.empty()) {
    OutputFile file(comm, output, request.force);
    file.write_distributed("/labels", labels.data(), labels.size(), shard.first_row, shard.global_rows, 0);
    if (request.distances)
      file.write_distributed("/distance", distances.data(), distances.size(), shard.first_row, shard.global_rows, 0);
    if (request.transform) {
      const RowMatrix<double> transformed = fitted.cosine ? distances_to_centres(unit_rows, centroids, distance)
                                                          : distances_to_centres(shard, centroids, distance);
      file.write_distributed("/transform", transformed.data(), static_cast<std::uint64_t>(transformed.rows()),
                             shard.first_row, shard.global_rows, k);
    }
    if (request.top_outliers > 0) {
      // Three datasets of one entry per outlier, farthest first (every rank holds them).
      std::vector<std::int64_t> rows;
      std::vector<std::int32_t> outlier_labels;
      std::vector<double> outlier_distances;
      for (const Outlier& o : outliers) {
        rows.push_back(static_cast<std::int64_t>(o.row));
        outlier_labels.push_back(o.label);
        outlier_distances.push_back(o.distance);
      }
      file.create_group("/outliers");
      file.write_replicated("/outliers/row", rows.data(), rows.size(), 0);
      file.write_replicated("/outliers/label", outlier_labels.data(), outlier_labels.size(), 0);
      file.write_replicated("/outliers/distance", outlier_distances.data(), outlier_distances.size(), 0);
    }
    file.write_replicated("/counts", sizes.data(), sizes.size(), 0);
    file.collective_step([&] {  // a failure on any rank stops every rank
      write_attribute(file.root(), "inertia", inertia);
      write_attribute(file.root(), "k", static_cast<std::int64_t>(k));
      write_attribute(file.root(), "model", model.text());
      write_attribute(file.root(), "input", input.text());
      write_attribute(file.root(), "distance", std::string(to_string(distance)));
      if (request.sample_weight) write_attribute(file.root(), "sample_weight", request.sample_weight->text());
    });
    file.commit();
  }
  const double seconds = elapsed_max(comm, start);
  if (comm.rank() != 0) return 0;
  if (request.json) {
    JsonObject object;
    object.add("command", "predict").add("inertia", inertia)
        .add("k", static_cast<std::int64_t>(k)).add("n_samples", shape.rows)
        .add("n_features", shape.cols).add("n_ranks", comm.size()).add("seconds", seconds)
        .add("output", output).add("distance", to_string(distance)).add("counts", sizes);
    if (request.top_outliers > 0) object.add_json("outliers", outliers_json(outliers));
    std::cout << object.str() << std::endl;
    return 0;
  }
  std::printf("lloyd predict: n=%llu k=%lld ranks=%d  inertia=%.10g  %.3f s%s%s\n",
              static_cast<unsigned long long>(shape.rows), static_cast<long long>(k), comm.size(), inertia, seconds,
              output.empty() ? "" : "  -> ", output.c_str());
  std::printf("counts:");
  for (const std::int64_t size : sizes) std::printf(" %lld", static_cast<long long>(size));
  std::printf("\n");
  if (request.top_outliers > 0) {
    std::printf("top %zu outliers (%s distance to the centre): row label distance\n", outliers.size(),
                to_string(distance));
    for (const Outlier& o : outliers)
      std::printf("%llu %d %.17g\n", static_cast<unsigned long long>(o.row), o.label, o.distance);
  }
  return 0;
}

}  // namespace

int run_predict(const Comm& comm, const Args& args) {
  const double start = MPI_Wtime();
  po::options_description description("options");
  description.add_options()
      ("model", po::value<std::string>(), "model written by 'lloyd fit' (MODEL.h5, or FILE.h5:/centroids)")
      ("input", po::value<std::string>(), "data set with the model's number of features (as fit's --input)")
      ("output", po::value<std::string>(), "labels file to write (HDF5, dataset /labels); omit to only report")
      ("distances", po::bool_switch(), "also write /distance: each row's distance to its centre (needs --output)")
      ("transform", po::bool_switch(), "also write /transform: n x k distances to every centre (needs --output)")
      ("top-outliers", po::value<std::int64_t>()->default_value(0),
       "report the N rows farthest from their centre (row, label, distance); with --output also /outliers")
      ("json", po::bool_switch(), "print one JSON object with the result on rank 0")
      ("force", po::bool_switch(), "overwrite --output if it exists")
      ("sample-weight", po::value<std::string>(),
       "FILE.h5:/w: one weight per row; the inertia is weighted (scikit-learn's -score(X, sample_weight))");
  add_threads_option(description);
  add_input_options(description);
  const auto vm = parse(comm, "predict", "--model MODEL.h5 --input FILE.h5:/X [--output LABELS.h5] [options]",
                        description, args);
  if (!vm) return 0;
  PredictRequest request;
  try {
    request.model = parse_dataset_ref(required<std::string>(*vm, "predict", "model"), "/centroids");
    request.input = input_option(comm, *vm, "predict");
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(std::string("lloyd predict: ") + e.what());
  }
  request.output = vm->count("output") ? (*vm)["output"].as<std::string>() : "";
  request.force = (*vm)["force"].as<bool>();
  request.json = (*vm)["json"].as<bool>();
  request.distances = (*vm)["distances"].as<bool>();
  request.transform = (*vm)["transform"].as<bool>();
  const std::int64_t top = (*vm)["top-outliers"].as<std::int64_t>();
  if (top < 0) throw UsageError("lloyd predict: --top-outliers must be >= 0");
  request.top_outliers = static_cast<std::uint64_t>(top);
  refuse_unless(*vm, "predict", {"distances", "transform", "force"}, !request.output.empty(),
                "--output FILE.h5 (they write to it)");
  apply_threads(comm, *vm);
  request.sample_weight = optional_dataset_option(*vm, "predict", "sample-weight");
  if (!request.output.empty())
    run_agreed(comm, [&] {
      std::vector<std::string> inputs = {request.model.file, request.input.file};
      if (request.sample_weight) inputs.push_back(request.sample_weight->file);
      check_output_path(request.output, request.force, inputs);
    });
  const MatrixShape shape = inspect_matrix(comm, request.input);
  return shape.type == ElementType::Float32 ? predict_typed<float>(comm, request, shape, start)
                                            : predict_typed<double>(comm, request, shape, start);
}

}  // namespace lloyd::cli
