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
#include "lloyd/kmeans/spherical.hpp"
#include "lloyd/core/distance.hpp"

namespace lloyd::cli {

namespace {

template <class T>
int predict_typed(const Comm& comm, const DatasetRef& model, const DatasetRef& input,
                  const MatrixShape& shape, const std::string& output, bool force, bool json, double start) {
  const Model<T> fitted = read_model<T>(comm, model, shape.cols);
  const RowMatrix<T>& centroids = fitted.centroids;
  // A cosine model labels the unit rows by their largest dot product; sparse rows stay sparse.
  CsrShard<T> unit_rows;
  if (fitted.cosine) {
    unit_rows = shape.sparse ? read_csr_shard<T>(comm, input, shape) : to_csr(read_shard<T>(comm, input, shape));
    normalize_rows(unit_rows);
  }
  const DenseShard<T> shard = fitted.cosine ? DenseShard<T>{unit_rows.global_rows, unit_rows.first_row,
                                                            RowMatrix<T>(unit_rows.local_rows(), 0)}
                                            : read_shard<T>(comm, input, shape);
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
      ("input", po::value<std::string>(), "data set with the model's number of features (as fit's --input)")
      ("output", po::value<std::string>(), "labels file to write (HDF5, dataset /labels)")
      ("json", po::bool_switch(), "print one JSON object with the result on rank 0")
      ("force", po::bool_switch(), "overwrite --output if it exists");
  add_threads_option(description);
  add_input_options(description);
  const auto vm = parse(comm, "predict", "--model MODEL.h5 --input FILE.h5:/X --output LABELS.h5",
                        description, args);
  if (!vm) return 0;
  DatasetRef model, input;
  try {
    model = parse_dataset_ref(required<std::string>(*vm, "predict", "model"), "/centroids");
    input = input_option(comm, *vm, "predict");
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(std::string("lloyd predict: ") + e.what());
  }
  const std::string output = required<std::string>(*vm, "predict", "output");
  apply_threads(comm, *vm);
  run_agreed(comm, [&] {
    check_output_path(output, (*vm)["force"].as<bool>(), {model.file, input.file});
  });
  const MatrixShape shape = inspect_matrix(comm, input);
  const bool json = (*vm)["json"].as<bool>();
  return shape.type == ElementType::Float32
             ? predict_typed<float>(comm, model, input, shape, output, (*vm)["force"].as<bool>(), json, start)
             : predict_typed<double>(comm, model, input, shape, output, (*vm)["force"].as<bool>(), json, start);
}

}  // namespace lloyd::cli
