// The model file (io/model.hpp, docs/model-format.md): what write_model writes, read_model
// reads back equal, for every algorithm, both element types, at any rank count; string
// attributes are variable-length UTF-8; format_version is written, and a newer one refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <tuple>

#include "../test_support.hpp"
#include "lloyd/io/model.hpp"
#include "lloyd/metrics/labels.hpp"

namespace lloyd {
namespace {

constexpr std::uint64_t kRows = 10, kFeatures = 3;

// A model of `algorithm` with every field its layout has, the values distinct per field, and
// this rank's block of labels.
template <class T>
Model<T> example_model(const Comm& comm, ModelAlgorithm algorithm, bool cosine = false) {
  const ModelLayout layout = layout_of(algorithm);
  Model<T> model;
  model.algorithm = algorithm;
  model.cosine = cosine;
  const Eigen::Index k = 3;
  model.centroids.resize(k, kFeatures);
  for (Eigen::Index c = 0; c < k; ++c)
    for (Eigen::Index j = 0; j < static_cast<Eigen::Index>(kFeatures); ++j)
      model.centroids(c, j) = static_cast<T>(0.1 * static_cast<double>(c) - 1.5 * static_cast<double>(j) + 1.0 / 3);
  model.distance = algorithm == ModelAlgorithm::KMedians   ? Distance::Manhattan
                   : algorithm == ModelAlgorithm::KMedoids ? Distance::Cosine
                                                           : Distance::Euclidean;
  const RowRange mine = block_rows(kRows, comm.size(), comm.rank());
  model.label_rows = kRows;
  model.first_row = mine.begin;
  for (std::uint64_t row = mine.begin; row < mine.end; ++row) model.labels.push_back(static_cast<std::int32_t>(row % 3));

  FitRecord& r = model.record;
  r.inertia = 12.5;
  r.init_inertia = 40.25;
  r.n_iter = 7;
  r.converged = true;
  r.seed = std::uint64_t{1} << 63;  // beyond int64: stored as the same 64 bits
  r.init = "k-means||";
  r.n_init = 2;
  r.max_iter = 300;
  r.tol = 1e-4;
  r.tol_absolute = 3e-5;
  r.n_samples = kRows;
  r.input = "données.h5:/X";  // UTF-8 survives
  if (layout.lloyd_attributes) {
    r.best_restart = 1;
    r.assignment = Algorithm::Yinyang;
    r.oversampling = 6.0;
    r.init_rounds = 5;
  }
  if (layout.tree) r.bisecting_strategy = BisectingStrategy::LargestCluster;
  if (layout.minibatch) r.minibatch = {64, 10, 192, 55, 0.01};
  if (layout.medoids) {
    r.medoid_method = MedoidMethod::Pam;
    r.sample = 8;
  }
  model.history.inertia = {40.25, 20.0, 12.5};
  if (layout.center_shift) model.history.center_shift = {3.0, 0.5, 0.0};
  if (layout.restart_inertia) model.history.restart_inertia = {13.0, 12.5};
  if (layout.minibatch) {
    model.history.ewa_inertia = {1.5, 1.25};
    model.counts = {4, 3, 3};
  }
  if (layout.medoids) model.medoid_indices = {7, 0, 4};
  if (layout.tree) {
    // Root 0 splits into 1 (leaf, cluster 0) and 2, which splits into 3 and 4 (clusters 1, 2).
    BisectingTree<T> tree;
    tree.parent = {-1, 0, 0, 2, 2};
    tree.left = {1, -1, 3, -1, -1};
    tree.right = {2, -1, 4, -1, -1};
    tree.size = {10, 4, 6, 3, 3};
    tree.label = {-1, 0, -1, 1, 2};
    tree.inertia = {40.25, 5.0, 15.0, 4.0, 3.5};
    tree.centres.resize(5, kFeatures);
    tree.centres.setZero();
    tree.centres.row(1) = model.centroids.row(0);
    tree.centres.row(3) = model.centroids.row(1);
    tree.centres.row(4) = model.centroids.row(2);
    model.tree = tree;
  }
  model.timings.phases = {1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.0};
  return model;
}

template <class T>
void expect_equal_models(const Comm& comm, const Model<T>& written, const Model<T>& read, const std::string& path) {
  EXPECT_EQ(read.algorithm, written.algorithm);
  EXPECT_EQ(read.cosine, written.cosine);
  EXPECT_EQ(read.distance, written.distance);
  EXPECT_EQ(read.centroids, written.centroids);
  EXPECT_EQ(read.label_rows, written.label_rows);
  EXPECT_EQ(read.record, written.record);
  EXPECT_EQ(read.history, written.history);
  EXPECT_EQ(read.counts, written.counts);
  EXPECT_EQ(read.medoid_indices, written.medoid_indices);
  EXPECT_EQ(read.scaling, written.scaling);
  ASSERT_EQ(read.tree.has_value(), written.tree.has_value());
  if (written.tree) {
    EXPECT_EQ(read.tree->parent, written.tree->parent);
    EXPECT_EQ(read.tree->left, written.tree->left);
    EXPECT_EQ(read.tree->right, written.tree->right);
    EXPECT_EQ(read.tree->size, written.tree->size);
    EXPECT_EQ(read.tree->label, written.tree->label);
    EXPECT_EQ(read.tree->inertia, written.tree->inertia);
    EXPECT_EQ(read.tree->centres, written.tree->centres);
  }
  // Timings: the maxima over ranks (every rank gave the same), and the writer's own `write`.
  const PhaseTimes& p = read.timings.phases;
  EXPECT_EQ(p.io, 1.0);
  EXPECT_EQ(p.checkpoint, 6.0);
  EXPECT_GT(p.write, 0.0);
  EXPECT_GT(read.timings.peak_rss_mb, 0.0);
  // The labels: each rank's block, read back collectively.
  EXPECT_EQ(read_labels(comm, {path, "/labels"}, written.label_rows), written.labels);
}

template <class T>
void round_trip(ModelAlgorithm algorithm, bool cosine = false) {
  Comm comm(MPI_COMM_WORLD);
  const std::string path = test::scratch_path(comm, std::string("model-") + to_string(algorithm));
  const Model<T> written = example_model<T>(comm, algorithm, cosine);
  write_model(comm, path, false, written);
  const Model<T> read = read_model<T>(comm, {path, "/centroids"}, kFeatures);
  expect_equal_models(comm, written, read, path);
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove(path);
}

TEST(ModelFile, RoundTripEveryAlgorithm) {
  for (const ModelAlgorithm algorithm : {ModelAlgorithm::Lloyd, ModelAlgorithm::Bisecting, ModelAlgorithm::MiniBatch,
                                         ModelAlgorithm::KMedians, ModelAlgorithm::KMedoids}) {
    SCOPED_TRACE(to_string(algorithm));
    round_trip<float>(algorithm);
    round_trip<double>(algorithm);
  }
  SCOPED_TRACE("cosine");
  round_trip<float>(ModelAlgorithm::Lloyd, true);
  round_trip<double>(ModelAlgorithm::Lloyd, true);
}

// --json's phases (the slowest rank's) and phases_min (the fastest rank's), every phase
// separately: rank r spent r + 1 seconds in each phase except reduce, where it waited
// size - r seconds (the fastest rank in the assignment waits longest).
TEST(ModelFile, TimingsGatherEachPhasesSlowestAndFastestRank) {
  const Comm comm(MPI_COMM_WORLD);
  const double mine = comm.rank() + 1.0, waited = static_cast<double>(comm.size() - comm.rank());
  const PhaseTimes phases{mine, mine, mine, waited, mine, mine, mine};
  const ModelTimings timings = gather_timings(comm, phases);
  const double slowest = comm.size(), fastest = 1.0;
  for (const auto& [name, max, min] :
       {std::tuple{"io", timings.phases.io, timings.phases_min.io},
        std::tuple{"init", timings.phases.init, timings.phases_min.init},
        std::tuple{"assign", timings.phases.assign, timings.phases_min.assign},
        std::tuple{"reduce", timings.phases.reduce, timings.phases_min.reduce},
        std::tuple{"update", timings.phases.update, timings.phases_min.update},
        std::tuple{"checkpoint", timings.phases.checkpoint, timings.phases_min.checkpoint},
        std::tuple{"write", timings.phases.write, timings.phases_min.write}}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(max, slowest);
    EXPECT_EQ(min, fastest);
  }
  EXPECT_GT(timings.peak_rss_mb, 0.0);
}

// Labels written block by block (a streamed mini-batch fit): every rank calls write_labels
// equally often, some with nothing left; the file is the same as written at once.
TEST(ModelFile, LabelsStreamedInBlocks) {
  Comm comm(MPI_COMM_WORLD);
  const std::string path = test::scratch_path(comm, "model-streamed");
  Model<double> model = example_model<double>(comm, ModelAlgorithm::MiniBatch);
  {
    ModelWriter<double> writer(comm, path, false, model.label_rows);
    const std::size_t half = model.labels.size() / 2;
    writer.write_labels(model.first_row, std::span(model.labels).first(half));
    writer.write_labels(model.first_row + half, std::span(model.labels).subspan(half));
    writer.write_labels(model.first_row + model.labels.size(), {});
    writer.commit(model);  // the labels it holds are not written again
  }
  const Model<double> read = read_model<double>(comm, {path, "/centroids"});
  expect_equal_models(comm, model, read, path);
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove(path);
}

// Not collective: every string attribute of the root is variable-length UTF-8.
void expect_utf8_strings(const std::string& path) {
  Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  ASSERT_GE(file.get(), 0);
  H5O_info_t info;
  ASSERT_GE(H5Oget_info(file.get(), &info), 0);
  int strings = 0;
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    Hid attribute(H5Aopen_by_idx(file.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    Hid type(H5Aget_type(attribute.get()), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_STRING) continue;
    ++strings;
    char name[64] = {};
    H5Aget_name(attribute.get(), sizeof name, name);
    EXPECT_EQ(H5Tget_cset(type.get()), H5T_CSET_UTF8) << name;
    EXPECT_GT(H5Tis_variable_str(type.get()), 0) << name;
  }
  EXPECT_GE(strings, 5);  // init, input, algorithm, assignment, metric
}

TEST(ModelFile, StringAttributesAreUtf8AndVersioned) {
  Comm comm(MPI_COMM_WORLD);
  const std::string path = test::scratch_path(comm, "model-strings");
  write_model(comm, path, false, example_model<double>(comm, ModelAlgorithm::Lloyd));
  if (comm.rank() == 0) {
    expect_utf8_strings(path);
    Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    EXPECT_EQ(read_attribute_int(file.get(), "format_version"), kModelFormatVersion);
  }
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove(path);
}

// Rank 0 rewrites a root attribute of the model at `path`, or deletes it (value < 0).
void set_format_version(const Comm& comm, const std::string& path, std::int64_t value) {
  if (comm.rank() == 0) {
    Hid file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    if (value < 0)
      H5Adelete(file.get(), "format_version");
    else
      write_attribute(file.get(), "format_version", value);
  }
  comm.barrier();
}

TEST(ModelFile, FormatVersions) {
  Comm comm(MPI_COMM_WORLD);
  const std::string path = test::scratch_path(comm, "model-version");
  const Model<double> written = example_model<double>(comm, ModelAlgorithm::Bisecting);
  write_model(comm, path, false, written);
  // Written before format_version existed: the same layout, read as version 1.
  set_format_version(comm, path, -1);
  expect_equal_models(comm, written, read_model<double>(comm, {path, "/centroids"}), path);
  // Newer than this lloyd reads: one line, on every rank.
  set_format_version(comm, path, kNewestModelFormatVersion + 1);
  try {
    read_model<double>(comm, {path, "/centroids"});
    ADD_FAILURE() << "a newer format_version was accepted";
  } catch (const AgreedError& e) {
    EXPECT_NE(std::string(e.what()).find("format_version 3 is newer than this lloyd reads (2)"), std::string::npos)
        << e.what();
  }
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove(path);
}

// fit --standardize and --distances: /centroids in data units, /scaled_centroids and /scaling
// read back as the model's centres and scaling (format_version 2, so that a version-1 reader
// refuses it); /distance written per rank like /labels, streamed or at commit alike.
TEST(ModelFile, ScalingAndDistances) {
  Comm comm(MPI_COMM_WORLD);
  for (const bool streamed : {false, true}) {
    const std::string path = test::scratch_path(comm, "model-scaling");
    Model<double> written = example_model<double>(comm, ModelAlgorithm::Bisecting);
    Scaling scaling;
    for (std::size_t j = 0; j < kFeatures; ++j) {
      scaling.mean.push_back(100.0 + static_cast<double>(j));
      scaling.scale.push_back(j == 1 ? 1.0 : 0.25 * static_cast<double>(j + 1));
    }
    written.scaling = scaling;
    written.has_distances = true;
    for (std::size_t i = 0; i < written.labels.size(); ++i)
      written.distances.push_back(0.5 * static_cast<double>(written.first_row + i));
    {
      ModelWriter<double> writer(comm, path, false, written.label_rows);
      if (streamed) writer.write_distances(written.first_row, written.distances);
      writer.commit(written);
    }
    const Model<double> read = read_model<double>(comm, {path, "/centroids"});
    expect_equal_models(comm, written, read, path);
    // Other readers see the centres in data units.
    const RowMatrix<double> data_units = read_matrix<double>(comm, {path, "/centroids"});
    for (Eigen::Index c = 0; c < data_units.rows(); ++c)
      for (Eigen::Index j = 0; j < data_units.cols(); ++j) {
        const auto f = static_cast<std::size_t>(j);
        EXPECT_DOUBLE_EQ(data_units(c, j), written.centroids(c, j) * scaling.scale[f] + scaling.mean[f]);
      }
    if (comm.rank() == 0) {
      Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
      EXPECT_EQ(read_attribute_int(file.get(), "format_version"), kScaledModelFormatVersion);
      Hid dataset(H5Dopen2(file.get(), "/distance", H5P_DEFAULT), H5Dclose);
      std::vector<double> distances(kRows);
      H5Dread(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, distances.data());
      for (std::size_t row = 0; row < kRows; ++row) EXPECT_EQ(distances[row], 0.5 * static_cast<double>(row));
    }
    comm.barrier();
    if (comm.rank() == 0) std::filesystem::remove(path);
  }
}

// A cosine model scales rows to unit norm: a /scaling on it is refused (predict would scale
// rows it never holds densely).
TEST(ModelFile, ScalingOnACosineModelIsRefused) {
  Comm comm(MPI_COMM_WORLD);
  const std::string path = test::scratch_path(comm, "model-cosine-scaling");
  Model<double> written = example_model<double>(comm, ModelAlgorithm::Lloyd, /*cosine=*/true);
  written.scaling = Scaling{std::vector<double>(kFeatures, 0.0), std::vector<double>(kFeatures, 1.0)};
  write_model(comm, path, false, written);
  try {
    read_model<double>(comm, {path, "/centroids"});
    ADD_FAILURE() << "a cosine model with /scaling was accepted";
  } catch (const AgreedError& e) {
    EXPECT_NE(std::string(e.what()).find("has /scaling, but a cosine model"), std::string::npos) << e.what();
  }
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove(path);
}

}  // namespace
}  // namespace lloyd
