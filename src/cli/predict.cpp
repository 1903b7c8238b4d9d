#include <cstdio>
#include <optional>
#include <iostream>

#include "common.hpp"
#include "lloyd/kmeans/nearest.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/kmeans/bisecting.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/io/csr.hpp"
#include "lloyd/io/model.hpp"
#include "lloyd/io/sample_weights.hpp"
#include "lloyd/kmeans/spherical.hpp"
#include "lloyd/core/distance.hpp"

namespace lloyd::cli {

namespace {

template <class T>
int predict_typed(const Comm& comm, const DatasetRef& model, const DatasetRef& input,
                  const MatrixShape& shape, const std::string& output, bool force, bool json, double start,
                  const std::optional<DatasetRef>& sample_weight = std::nullopt) {
  const Model<T> fitted = read_model<T>(comm, model, shape.cols);
  const RowMatrix<T>& centroids = fitted.centroids;
  // A cosine model labels the unit rows by their largest dot product; sparse rows stay sparse.
  CsrShard<T> unit_rows;
  if (fitted.cosine) {
    unit_rows = shape.sparse ? read_csr_shard<T>(comm, input, shape) : to_csr(read_shard<T>(comm, input, shape));
    normalize_rows(unit_rows);
    if (sample_weight) attach_sample_weights(comm, *sample_weight, unit_rows);
  }
  DenseShard<T> shard = fitted.cosine ? DenseShard<T>{unit_rows.global_rows, unit_rows.first_row,
                                                      RowMatrix<T>(unit_rows.local_rows(), 0)}
                                      : read_shard<T>(comm, input, shape);
  // The weighted inertia: scikit-learn's −KMeans.score(X, sample_weight=w).
  if (sample_weight && !fitted.cosine) attach_sample_weights(comm, *sample_weight, shard);
  std::vector<std::int32_t> labels;
  // A bisecting model labels by descending its tree, as scikit-learn's BisectingKMeans;
  // k-medians and k-medoids models by their own distance (L1, the medoid distance).
  const double inertia =
      fitted.cosine ? predict_spherical(comm, unit_rows, centroids, labels)
      : fitted.tree ? predict_tree(comm, shard, *fitted.tree, labels)
      : fitted.algorithm == ModelAlgorithm::KMedians || fitted.algorithm == ModelAlgorithm::KMedoids
          ? predict_nearest(comm, shard, centroids, fitted.distance, labels)
          : predict_labels(comm, shard, centroids, labels);

  OutputFile file(comm, output, force);
  file.write_distributed("/labels", labels.data(), labels.size(), shard.first_row,
                         shard.global_rows, 0);
  file.collective_step([&] {  // a failure on any rank stops every rank
    write_attribute(file.root(), "inertia", inertia);
    write_attribute(file.root(), "k", static_cast<std::int64_t>(centroids.rows()));
    write_attribute(file.root(), "model", model.text());
    write_attribute(file.root(), "input", input.text());
    if (sample_weight) write_attribute(file.root(), "sample_weight", sample_weight->text());
  });
  file.commit();
  const double seconds = elapsed_max(comm, start);
  if (comm.rank() == 0) {
    if (json) {
      JsonObject object;
      object.add("command", "predict").add("inertia", inertia)
          .add("k", static_cast<std::int64_t>(centroids.rows())).add("n_samples", shape.rows)
          .add("n_features", shape.cols).add("n_ranks", comm.size()).add("seconds", seconds)
          .add("output", output);
      std::cout << object.str() << std::endl;
    } else {
      std::printf("lloyd predict: n=%llu k=%lld ranks=%d  inertia=%.10g  %.3f s  -> %s\n",
                  static_cast<unsigned long long>(shape.rows),
                  static_cast<long long>(centroids.rows()), comm.size(), inertia, seconds,
                  output.c_str());
    }
  }
  return 0;
}

}  // namespace

int run_predict(const Comm& comm, const Args& args) {
  const double start = MPI_Wtime();
  po::options_description description("options");
  description.add_options()
      ("model", po::value<std::string>(), "model written by 'lloyd fit' (MODEL.h5, or FILE.h5:/centroids)")
      ("input", po::value<std::string>(), "data set FILE.h5:/dataset with the model's number of features")
      ("output", po::value<std::string>(), "labels file to write (HDF5, dataset /labels)")
      ("json", po::bool_switch(), "print one JSON object with the result on rank 0")
      ("force", po::bool_switch(), "overwrite --output if it exists")
      ("sample-weight", po::value<std::string>(),
       "FILE.h5:/w: one weight per row; the inertia is weighted (scikit-learn's -score(X, sample_weight))");
  add_threads_option(description);
  const auto vm = parse(comm, "predict", "--model MODEL.h5 --input FILE.h5:/X --output LABELS.h5",
                        description, args);
  if (!vm) return 0;
  DatasetRef model, input;
  try {
    model = parse_dataset_ref(required<std::string>(*vm, "predict", "model"), "/centroids");
    input = parse_dataset_ref(required<std::string>(*vm, "predict", "input"));
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(std::string("lloyd predict: ") + e.what());
  }
  const std::string output = required<std::string>(*vm, "predict", "output");
  std::optional<DatasetRef> sample_weight;
  if (vm->count("sample-weight")) {
    try {
      sample_weight = parse_dataset_ref((*vm)["sample-weight"].as<std::string>());
    } catch (const Error& e) {
      throw UsageError(std::string("lloyd predict: --sample-weight: ") + e.what());
    }
  }
  apply_threads(comm, *vm);
  run_agreed(comm, [&] {
    std::vector<std::string> inputs = {model.file, input.file};
    if (sample_weight) inputs.push_back(sample_weight->file);
    check_output_path(output, (*vm)["force"].as<bool>(), inputs);
  });
  const MatrixShape shape = inspect_matrix(comm, input);
  const bool json = (*vm)["json"].as<bool>();
  return shape.type == ElementType::Float32
             ? predict_typed<float>(comm, model, input, shape, output, (*vm)["force"].as<bool>(), json, start,
                                    sample_weight)
             : predict_typed<double>(comm, model, input, shape, output, (*vm)["force"].as<bool>(), json, start,
                                     sample_weight);
}

}  // namespace lloyd::cli
