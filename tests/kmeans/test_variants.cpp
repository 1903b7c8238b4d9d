// The K-Means variants against brute-force references (scripts/fixtures/
// make_variant_fixtures.py) and scikit-learn's MiniBatchKMeans, at any rank count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "../test_support.hpp"
#include "lloyd/kmeans/nearest.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/kmeans/kmedians.hpp"
#include "lloyd/kmeans/kmedoids.hpp"
#include "lloyd/kmeans/minibatch.hpp"

namespace lloyd {
namespace {

DenseShard<double> read_fixture(const Comm& comm, const std::string& file) {
  const DatasetRef ref{test::data_path(file), "/X"};
  return read_shard<double>(comm, ref, inspect_matrix(comm, ref));
}

// A small group of a fixture: its attributes and 1-D datasets, read by every rank.
struct Group {
  Hid file, group;
  Group(const std::string& file_name, const std::string& name)
      : file(H5Fopen(test::data_path(file_name).c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose),
        group(H5Gopen2(file.get(), name.c_str(), H5P_DEFAULT), H5Gclose) {}
  double real(const char* name) const { return read_attribute_double(group.get(), name); }
  std::int64_t integer(const char* name) const { return read_attribute_int(group.get(), name); }
  template <class V>
  std::vector<V> values(const char* name, hid_t type) const {
    Hid dataset(H5Dopen2(group.get(), name, H5P_DEFAULT), H5Dclose);
    Hid space(H5Dget_space(dataset.get()), H5Sclose);
    std::vector<V> out(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get())));
    H5Dread(dataset.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data());
    return out;
  }
};

TEST(KMedians, MediansAreNumpyMediansForOddAndEvenCounts) {
  Comm comm(MPI_COMM_WORLD);
  // 7 rows; cluster 0: rows 0,2,4,6 (even: mean of the middle two), cluster 1: rows 1,3,5.
  const double values[7][2] = {{3, -0.0}, {1e300, 5}, {-2, 4}, {-1e300, -5}, {10, 1}, {7, 0},
                               {1.5, -3}};
  const RowRange mine = block_rows(7, comm.size(), comm.rank());
  DenseShard<double> shard;
  shard.global_rows = 7;
  shard.first_row = mine.begin;
  shard.rows.resize(static_cast<Eigen::Index>(mine.size()), 2);
  std::vector<std::int32_t> labels;
  for (std::uint64_t g = mine.begin; g < mine.end; ++g) {
    shard.rows.mutable_matrix()(static_cast<Eigen::Index>(g - mine.begin), 0) = values[g][0];
    shard.rows.mutable_matrix()(static_cast<Eigen::Index>(g - mine.begin), 1) = values[g][1];
    labels.push_back(static_cast<std::int32_t>(g % 2));
  }
  RowMatrix<double> previous = RowMatrix<double>::Constant(3, 2, 42.0);
  const RowMatrix<double> medians = cluster_medians(comm, shard, labels, previous);
  EXPECT_EQ(medians(0, 0), (1.5 + 3) / 2);  // {-2, 1.5, 3, 10}
  EXPECT_EQ(medians(0, 1), (-0.0 + 1) / 2);  // {-3, -0, 1, 4}
  EXPECT_EQ(medians(1, 0), 7.0);             // {-1e300, 7, 1e300}
  EXPECT_EQ(medians(1, 1), 0.0);             // {-5, 0, 5}
  EXPECT_EQ(medians(2, 0), 42.0);            // no members: unchanged
}

TEST(KMedians, HistogramsReducedInPiecesGiveTheSortedMedians) {
  // k·d·2·256 int64 counts = 1.2 MB at k = 6, d = 48: reduced over the ranks in more than
  // one piece of 1 MiB. Every rank builds all rows (a counter-based formula of the global
  // index), keeps its block, and checks the medians against sorting each (cluster, feature).
  Comm comm(MPI_COMM_WORLD);
  constexpr std::uint64_t n = 301;
  constexpr Eigen::Index k = 6, d = 48;
  auto value = [](std::uint64_t row, Eigen::Index j) {
    return std::ldexp(static_cast<double>((row * 2654435761u + static_cast<std::uint64_t>(j) * 40503u) % 1009) - 504.0,
                      static_cast<int>(j % 7) - 3);
  };
  auto label = [](std::uint64_t row) { return static_cast<std::int32_t>((row + row / 7) % k); };
  const RowRange mine = block_rows(n, comm.size(), comm.rank());
  DenseShard<double> shard;
  shard.global_rows = n;
  shard.first_row = mine.begin;
  shard.rows.resize(static_cast<Eigen::Index>(mine.size()), d);
  std::vector<std::int32_t> labels;
  for (std::uint64_t g = mine.begin; g < mine.end; ++g) {
    for (Eigen::Index j = 0; j < d; ++j) shard.rows.mutable_matrix()(static_cast<Eigen::Index>(g - mine.begin), j) = value(g, j);
    labels.push_back(label(g));
  }
  const RowMatrix<double> medians = cluster_medians(comm, shard, labels, RowMatrix<double>(RowMatrix<double>::Zero(k, d)));
  for (Eigen::Index c = 0; c < k; ++c)
    for (Eigen::Index j = 0; j < d; ++j) {
      std::vector<double> members;
      for (std::uint64_t g = 0; g < n; ++g)
        if (label(g) == c) members.push_back(value(g, j));
      std::sort(members.begin(), members.end());
      const std::size_t m = members.size();
      ASSERT_GT(m, 1u);
      const double low = members[(m - 1) / 2], high = members[m / 2];
      EXPECT_EQ(medians(c, j), low == high ? low : (low + high) / 2) << "cluster " << c << " feature " << j;
    }
}

TEST(KMedians, EqualsBruteForceReference) {
  Comm comm(MPI_COMM_WORLD);
  const auto shard = read_fixture(comm, "variants_kmedians.h5");
  const RowMatrix<double> init = read_matrix<double>(comm, {test::data_path("variants_kmedians.h5"), "/init"});
  const Group expected("variants_kmedians.h5", "/expected");
  const RowMatrix<double> centroids =
      read_matrix<double>(comm, {test::data_path("variants_kmedians.h5"), "/expected/centroids"});
  KMeansOptions options;
  options.k = static_cast<int>(expected.integer("k"));
  options.max_iter = static_cast<int>(expected.integer("max_iter"));
  options.tol = expected.real("tol");
  const KMeansResult<double> result = fit_kmedians(comm, shard, options, &init);
  EXPECT_EQ(result.centroids, centroids);
  EXPECT_EQ(test::gather_all(comm, result.labels), expected.values<std::int32_t>("labels", H5T_NATIVE_INT32));
  EXPECT_NEAR(result.inertia, expected.real("inertia"), 1e-12 * expected.real("inertia"));
  EXPECT_EQ(result.n_iter, expected.integer("n_iter"));
  EXPECT_TRUE(result.converged);
}

struct MedoidCase {
  const char* method;
  const char* distance;
};

class KMedoidsReference : public ::testing::TestWithParam<MedoidCase> {};

TEST_P(KMedoidsReference, EqualsBruteForceReference) {
  Comm comm(MPI_COMM_WORLD);
  const auto shard = read_fixture(comm, "variants_kmedoids.h5");
  const Group expected("variants_kmedoids.h5",
                       std::string("/expected_") + GetParam().method + "_" + GetParam().distance);
  KMeansOptions options;
  options.k = static_cast<int>(expected.integer("k"));
  options.max_iter = 50;
  KMedoidsOptions medoids;
  medoids.method = parse_medoid_method(GetParam().method);
  medoids.distance = parse_distance(GetParam().distance);
  const KMedoidsResult<double> result = fit_kmedoids(comm, shard, options, medoids);
  const auto expected_medoids = expected.values<std::int64_t>("medoid_indices", H5T_NATIVE_INT64);
  ASSERT_EQ(result.medoid_indices.size(), expected_medoids.size());
  for (std::size_t c = 0; c < expected_medoids.size(); ++c)
    EXPECT_EQ(result.medoid_indices[c], static_cast<std::uint64_t>(expected_medoids[c])) << "medoid " << c;
  EXPECT_EQ(test::gather_all(comm, result.labels), expected.values<std::int32_t>("labels", H5T_NATIVE_INT32));
  EXPECT_NEAR(result.inertia, expected.real("inertia"), 1e-12 * expected.real("inertia"));
  EXPECT_EQ(result.n_iter, expected.integer("n_iter"));
  EXPECT_TRUE(result.converged);
  // The centres are the medoid rows themselves.
  const RowMatrix<double> all = read_matrix<double>(comm, {test::data_path("variants_kmedoids.h5"), "/X"});
  for (std::size_t c = 0; c < result.medoid_indices.size(); ++c)
    EXPECT_EQ(result.centroids.row(static_cast<Eigen::Index>(c)),
              all.row(static_cast<Eigen::Index>(result.medoid_indices[c])));
}

INSTANTIATE_TEST_SUITE_P(
    MethodsAndDistances, KMedoidsReference,
    ::testing::Values(MedoidCase{"alternate", "euclidean"}, MedoidCase{"pam", "euclidean"},
                      MedoidCase{"alternate", "manhattan"}, MedoidCase{"pam", "manhattan"},
                      MedoidCase{"alternate", "cosine"}, MedoidCase{"pam", "cosine"}),
    [](const auto& info) { return std::string(info.param.method) + "_" + info.param.distance; });

TEST(KMedoids, SampledMedoidsAreRowsOfTheWholeData) {
  Comm comm(MPI_COMM_WORLD);
  const auto shard = read_fixture(comm, "variants_kmedoids.h5");
  KMeansOptions options;
  options.k = 3;
  options.seed = 5;
  KMedoidsOptions medoids;
  medoids.sample = 40;
  const KMedoidsResult<double> result = fit_kmedoids(comm, shard, options, medoids);
  EXPECT_EQ(result.fitted_rows, 40u);
  const RowMatrix<double> all = read_matrix<double>(comm, {test::data_path("variants_kmedoids.h5"), "/X"});
  for (std::size_t c = 0; c < result.medoid_indices.size(); ++c)
    EXPECT_EQ(result.centroids.row(static_cast<Eigen::Index>(c)),
              all.row(static_cast<Eigen::Index>(result.medoid_indices[c])));
  // Every row is labelled with its nearest medoid.
  std::vector<std::int32_t> labels;
  const double inertia = predict_nearest(comm, shard, result.centroids, Distance::Euclidean, labels);
  EXPECT_EQ(labels, result.labels);
  EXPECT_EQ(inertia, result.inertia);
  // A sample of a third of the rows is close to the full fit (3 well separated blobs).
  medoids.sample = 0;
  const double full = fit_kmedoids(comm, shard, options, medoids).inertia;
  EXPECT_LE(full, result.inertia);
  EXPECT_LT(result.inertia, 1.1 * full);
}

TEST(MiniBatch, QualityLikeScikitLearnAndStreamedEqualsInMemory) {
  Comm comm(MPI_COMM_WORLD);
  const DatasetRef ref{test::data_path("variants_minibatch.h5"), "/X"};
  const MatrixShape shape = inspect_matrix(comm, ref);
  const auto shard = read_shard<double>(comm, ref, shape);
  const Group expected("variants_minibatch.h5", "/expected");
  KMeansOptions options;
  options.k = static_cast<int>(expected.integer("k"));
  options.n_init = 3;
  options.max_iter = 100;
  options.tol = 0;
  MiniBatchOptions batch;
  batch.batch_size = static_cast<std::uint64_t>(expected.integer("batch_size"));
  auto memory = shard_source(shard);
  const MiniBatchResult<double> in_memory = fit_minibatch(comm, *memory, options, batch);
  EXPECT_LE(in_memory.inertia, 1.02 * expected.real("inertia"));
  EXPECT_LT(in_memory.n_steps, static_cast<std::uint64_t>(100 * shard.global_rows / batch.batch_size))
      << "early stopping on the smoothed inertia never triggered";
  // Without reassignment every batch row is absorbed by exactly one centre.
  MiniBatchOptions plain = batch;
  plain.reassignment_ratio = 0;
  const MiniBatchResult<double> unassigned = fit_minibatch(comm, *memory, options, plain);
  std::int64_t absorbed = 0;
  for (const std::int64_t count : unassigned.counts) absorbed += count;
  EXPECT_EQ(absorbed, static_cast<std::int64_t>(unassigned.n_steps * batch.batch_size));
  EXPECT_LE(unassigned.inertia, 1.02 * expected.real("inertia"));
  // The final labels are the nearest centres of the final centroids.
  std::vector<std::int32_t> labels;
  EXPECT_NEAR(predict_labels(comm, shard, in_memory.centroids, labels), in_memory.inertia,
              1e-12 * in_memory.inertia);
  EXPECT_EQ(labels, in_memory.labels);

  auto streamed = streamed_source<double>(comm, ref, shape);
  std::vector<std::int32_t> streamed_labels;
  const MiniBatchResult<double> out_of_core = fit_minibatch(
      comm, *streamed, options, batch, [&](std::uint64_t first, std::span<const std::int32_t> block) {
        EXPECT_EQ(first, shard.first_row + streamed_labels.size());
        streamed_labels.insert(streamed_labels.end(), block.begin(), block.end());
      });
  EXPECT_EQ(out_of_core.centroids, in_memory.centroids);
  EXPECT_EQ(out_of_core.inertia, in_memory.inertia);
  EXPECT_EQ(out_of_core.n_steps, in_memory.n_steps);
  EXPECT_EQ(streamed_labels, in_memory.labels);
}

// max_iter counts passes over the data and a batch is at most n rows, as scikit-learn's
// (issue 15: a batch size of 10^9 on 60 rows ran for minutes and grew memory; max_iter 1 and
// 10 did the same single step on 100 rows and reported n_iter 11).
TEST(MiniBatch, StepsAndPassesAsScikitLearn) {
  Comm comm(MPI_COMM_WORLD);
  const Group expected("variants_minibatch_steps.h5", "/expected");
  const auto column = [&](const char* name) { return expected.values<std::int64_t>(name, H5T_NATIVE_INT64); };
  const auto ns = column("n"), batch_sizes = column("batch_size"), max_iters = column("max_iter"),
             n_steps = column("n_steps"), n_iters = column("n_iter"), init_sizes = column("init_size");
  ASSERT_EQ(ns.size(), 36u);
  for (std::size_t t = 0; t < ns.size(); ++t) {
    const DatasetRef ref{test::data_path("variants_minibatch_steps.h5"), "/X_" + std::to_string(ns[t])};
    const auto shard = read_shard<double>(comm, ref, inspect_matrix(comm, ref));
    KMeansOptions options;
    options.k = 3;
    options.max_iter = static_cast<int>(max_iters[t]);
    options.tol = 0;
    MiniBatchOptions batch;
    batch.batch_size = static_cast<std::uint64_t>(batch_sizes[t]);
    batch.max_no_improvement = 0;  // scikit-learn's max_no_improvement=None
    auto source = shard_source(shard);
    const MiniBatchResult<double> result = fit_minibatch(comm, *source, options, batch);
    const std::string what = "n " + std::to_string(ns[t]) + ", batch_size " +
                             std::to_string(batch_sizes[t]) + ", max_iter " + std::to_string(max_iters[t]);
    EXPECT_EQ(result.n_steps, static_cast<std::uint64_t>(n_steps[t])) << what;
    EXPECT_EQ(result.n_iter, n_iters[t]) << what;
    EXPECT_EQ(result.init_size, static_cast<std::uint64_t>(init_sizes[t])) << what;
    EXPECT_EQ(result.batch_size, std::min<std::uint64_t>(batch.batch_size, shard.global_rows)) << what;
  }
  // More passes move the centres further: max_iter 1 and 10 differ.
  const DatasetRef ref{test::data_path("variants_minibatch_steps.h5"), "/X_100"};
  const auto shard = read_shard<double>(comm, ref, inspect_matrix(comm, ref));
  auto source = shard_source(shard);
  KMeansOptions options;
  options.k = 3;
  options.tol = 0;
  options.max_iter = 1;
  const MiniBatchResult<double> one = fit_minibatch(comm, *source, options, MiniBatchOptions{});
  options.max_iter = 10;
  const MiniBatchResult<double> ten = fit_minibatch(comm, *source, options, MiniBatchOptions{});
  EXPECT_EQ(one.n_iter, 1);
  EXPECT_EQ(ten.n_iter, 10);
  EXPECT_NE(one.centroids, ten.centroids);
}

// How far the worst true centre is from the nearest fitted centre.
double worst_recovery(const RowMatrix<double>& fitted, const RowMatrix<double>& truth) {
  double worst = 0;
  for (Eigen::Index t = 0; t < truth.rows(); ++t)
    worst = std::max(worst, (fitted.rowwise() - truth.row(t)).rowwise().norm().minCoeff());
  return worst;
}

TEST(Variants, MediansAndMedoidsResistFarOutliersBetterThanMeans) {
  Comm comm(MPI_COMM_WORLD);
  const std::string file = test::data_path("variants_outliers.h5");
  const auto shard = read_fixture(comm, "variants_outliers.h5");
  const RowMatrix<double> init = read_matrix<double>(comm, {file, "/init"});
  const RowMatrix<double> truth = read_matrix<double>(comm, {file, "/true_centers"});
  KMeansOptions options;
  options.k = 3;
  const double means = worst_recovery(fit_kmeans(comm, shard, options, &init).centroids, truth);
  const double medians = worst_recovery(fit_kmedians(comm, shard, options, &init).centroids, truth);
  const double medoids = worst_recovery(fit_kmedoids(comm, shard, options, {}).centroids, truth);
  if (comm.rank() == 0)
    std::printf("worst centre error: k-means %.3f  k-medians %.3f  k-medoids %.3f\n", means,
                medians, medoids);
  EXPECT_LT(medians, 0.5 * means);
  EXPECT_LT(medoids, 0.5 * means);
  EXPECT_LT(medians, 0.5);
  EXPECT_LT(medoids, 0.5);
}

}  // namespace
}  // namespace lloyd
