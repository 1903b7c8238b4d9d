#include <cstdio>
#include <optional>
#include <iostream>

#include "common.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/kmeans/bisecting.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/io/csr.hpp"
#include "lloyd/kmeans/spherical.hpp"
#include "lloyd/metrics/pairwise.hpp"
#include "variants.hpp"

namespace lloyd::cli {

namespace {

// A 1-D (or n × 2) int64 dataset of a small model file, read by this rank alone.
std::vector<std::int64_t> read_int64s(hid_t file, const std::string& name, std::size_t expected) {
  Hid dataset(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (dataset.get() < 0) throw Error("cannot open " + name);
  Hid space(H5Dget_space(dataset.get()), H5Sclose);
  const auto count = static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get()));
  if (count != expected)
    throw Error(name + " has " + std::to_string(count) + " values, expected " + std::to_string(expected));
  std::vector<std::int64_t> values(count);
  if (H5Dread(dataset.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
    throw Error("cannot read " + name);
  return values;
}

// The /tree of a bisecting model, or std::nullopt when the model has none (a Lloyd model or
// a bare dataset of centres). Collective over comm.
template <class T>
std::optional<BisectingTree<T>> read_tree(const Comm& comm, const DatasetRef& model) {
  if (model.path != "/centroids") return std::nullopt;  // explicit centres: nearest centre
  bool has_tree = false;
  run_agreed(comm, [&] {
    Hid file(H5Fopen(model.file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (file.get() < 0) throw Error("cannot open model " + model.file);
    has_tree = H5Lexists(file.get(), "/tree", H5P_DEFAULT) > 0;
  });
  if (!has_tree) return std::nullopt;
  BisectingTree<T> tree;
  tree.centres = read_matrix<T>(comm, {model.file, "/tree/centers"});
  run_agreed(comm, [&] {
    const auto m = static_cast<std::size_t>(tree.centres.rows());
    Hid file(H5Fopen(model.file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    const std::vector<std::int64_t> children = read_int64s(file.get(), "/tree/children", 2 * m);
    tree.label = read_int64s(file.get(), "/tree/label", m);
    tree.parent = read_int64s(file.get(), "/tree/parent", m);
    tree.size = read_int64s(file.get(), "/tree/size", m);
    for (std::size_t node = 0; node < m; ++node) {
      tree.left.push_back(children[2 * node]);
      tree.right.push_back(children[2 * node + 1]);
      const bool leaf = tree.left[node] < 0;
      if (leaf != (tree.right[node] < 0) || (leaf && tree.label[node] < 0) ||
          (!leaf && (tree.left[node] <= static_cast<std::int64_t>(node) ||
                     tree.right[node] <= static_cast<std::int64_t>(node) ||
                     tree.left[node] >= static_cast<std::int64_t>(m) ||
                     tree.right[node] >= static_cast<std::int64_t>(m))))
        throw Error("model " + model.file + ": /tree is malformed at node " + std::to_string(node));
    }
  });
  return tree;
}

// Whether a model was fitted with --metric cosine (its root attribute `metric`). Collective
// over comm.
bool is_cosine_model(const Comm& comm, const DatasetRef& model) {
  if (model.path != "/centroids") return false;  // explicit centres: Euclidean
  std::string metric;
  run_agreed(comm, [&] {
    Hid file(H5Fopen(model.file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (file.get() < 0) throw Error("cannot open model " + model.file);
    metric = read_attribute_string(file.get(), "metric", "euclidean");
  });
  return metric == "cosine";
}

template <class T>
int predict_typed(const Comm& comm, const DatasetRef& model, const DatasetRef& input,
                  const MatrixShape& shape, const std::string& output, bool force, bool json, double start) {
  const RowMatrix<T> centroids = read_matrix<T>(comm, model);
  if (centroids.cols() != static_cast<Eigen::Index>(shape.cols))
    throw AgreedError("model " + model.text() + " has " + std::to_string(centroids.cols()) +
                      " features but " + input.text() + " has " + std::to_string(shape.cols));
  // A cosine model labels the unit rows by their largest dot product; sparse rows stay sparse.
  const bool cosine = is_cosine_model(comm, model);
  CsrShard<T> unit_rows;
  if (cosine) {
    unit_rows = shape.sparse ? read_csr_shard<T>(comm, input, shape) : to_csr(read_shard<T>(comm, input, shape));
    normalize_rows(unit_rows);
  }
  const DenseShard<T> shard = cosine ? DenseShard<T>{unit_rows.global_rows, unit_rows.first_row,
                                                     RowMatrix<T>(unit_rows.local_rows(), 0)}
                                     : read_shard<T>(comm, input, shape);
  std::vector<std::int32_t> labels;
  // A bisecting model labels by descending its tree, as scikit-learn's BisectingKMeans.
  const std::optional<BisectingTree<T>> tree = read_tree<T>(comm, model);
  if (tree && tree->centres.cols() != centroids.cols())
    throw AgreedError("model " + model.file + ": /tree/centers and /centroids differ in width");
  // K-medians and k-medoids models label by their own distance (L1, the medoid distance).
  const ModelKind kind = model.path == "/centroids" ? read_model_kind(comm, model.file) : ModelKind{};
  const double inertia =
      cosine                    ? predict_spherical(comm, unit_rows, centroids, labels)
      : tree                    ? predict_tree(comm, shard, *tree, labels)
      : kind.mode == "kmedians" ? predict_nearest(comm, shard, centroids, Distance::Manhattan, labels)
      : kind.mode == "kmedoids"
          ? predict_nearest(comm, shard, centroids, parse_distance(kind.distance), labels)
          : predict_labels(comm, shard, centroids, labels);

  OutputFile file(comm, output, force);
  file.write_distributed("/labels", labels.data(), labels.size(), shard.first_row,
                         shard.global_rows, 0);
  write_attribute(file.root(), "inertia", inertia);
  write_attribute(file.root(), "k", static_cast<std::int64_t>(centroids.rows()));
  write_attribute(file.root(), "model", model.text());
  write_attribute(file.root(), "input", input.text());
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
      ("force", po::bool_switch(), "overwrite --output if it exists");
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
