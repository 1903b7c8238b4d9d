#include <gtest/gtest.h>

#include <set>

#include "../test_support.hpp"
#include "lloyd/generate.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/kmeans/init.hpp"

namespace lloyd {
namespace {

Blobs<double> separated_blobs(const Comm& comm, int centers = 6) {
  BlobOptions options;
  options.samples = 3001;
  options.features = 4;
  options.centers = centers;
  options.cluster_std = 0.2;
  options.seed = 11;
  return make_blobs<double>(comm, options);
}

// The row of the gathered data set equal to `centre`, or -1.
std::int64_t find_row(const std::vector<double>& all_rows, Eigen::Index d, const double* centre) {
  const auto n = static_cast<std::int64_t>(all_rows.size()) / d;
  for (std::int64_t i = 0; i < n; ++i)
    if (std::equal(centre, centre + d, all_rows.begin() + i * d)) return i;
  return -1;
}

std::vector<double> all_rows(const Comm& comm, const DenseShard<double>& shard) {
  std::vector<double> local(shard.rows.data(), shard.rows.data() + shard.rows.size());
  return test::gather_all(comm, local);
}

TEST(Init, ForgyPicksKDistinctRows) {
  Comm comm(MPI_COMM_WORLD);
  const auto blobs = separated_blobs(comm);
  const auto rows = all_rows(comm, blobs.data);
  const DataSummary summary = summarize(comm, blobs.data);
  const auto centres = initial_centres(comm, blobs.data, InitMethod::Forgy, 40, 5, 0, summary.fixed);
  std::set<std::int64_t> picked;
  for (Eigen::Index c = 0; c < centres.rows(); ++c) {
    const std::int64_t row = find_row(rows, 4, centres.row(c).data());
    EXPECT_GE(row, 0) << "centre " << c << " is not a row of X";
    picked.insert(row);
  }
  EXPECT_EQ(picked.size(), 40u);
}

TEST(Init, KMeansPlusPlusPutsOneCentreInEveryWellSeparatedBlob) {
  Comm comm(MPI_COMM_WORLD);
  const auto blobs = separated_blobs(comm);
  const auto rows = all_rows(comm, blobs.data);
  const auto truth = test::gather_all(comm, blobs.truth);
  const DataSummary summary = summarize(comm, blobs.data);
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    const auto centres =
        initial_centres(comm, blobs.data, InitMethod::KMeansPlusPlus, 6, seed, 0, summary.fixed);
    std::set<std::int32_t> blobs_hit;
    for (Eigen::Index c = 0; c < 6; ++c) {
      const std::int64_t row = find_row(rows, 4, centres.row(c).data());
      ASSERT_GE(row, 0) << "k-means++ centre is not a row of X";
      blobs_hit.insert(truth[static_cast<std::size_t>(row)]);
    }
    EXPECT_EQ(blobs_hit.size(), 6u) << "seed " << seed;
  }
}

// k-means++ works on the shard's rows rearranged in place (groups of a register's worth of
// rows, feature by feature) and must hand the shard back bit for bit, with the chosen
// centres being rows of X: float and double, a row count that leaves partial groups.
template <class T>
void expect_kmeans_plus_plus_leaves_the_shard_as_it_was(const Comm& comm) {
  BlobOptions options;
  options.samples = 1237;
  options.features = 19;
  options.centers = 5;
  options.seed = 3;
  const auto blobs = make_blobs<T>(comm, options);
  const RowMatrix<T> before = blobs.data.rows.matrix();
  const DataSummary summary = summarize(comm, blobs.data);
  const auto centres = initial_centres(comm, blobs.data, InitMethod::KMeansPlusPlus, 9, 4, 0, summary.fixed);
  EXPECT_TRUE((blobs.data.rows.matrix().array() == before.array()).all());
  std::vector<T> local(before.data(), before.data() + before.size());
  const auto rows = test::gather_all(comm, local);
  for (Eigen::Index c = 0; c < centres.rows(); ++c) {
    bool found = false;
    for (std::size_t i = 0; i + 19 <= rows.size() && !found; i += 19)
      found = std::equal(centres.row(c).data(), centres.row(c).data() + 19, rows.begin() + static_cast<std::ptrdiff_t>(i));
    EXPECT_TRUE(found) << "centre " << c << " is not a row of X";
  }
}

// The triangle inequality's bounds (Raff 2021) skip the distances of candidates that cannot
// come closer to a row, and whole clusters (rows sorted by nearest centre, ClusterOrder) that
// no candidate can change (k-means++), and the new candidates of a k-means|| pass that a
// group of rows (by nearest candidate) cannot come closer to, and the weighted reduction's
// distances; the picks must stay the same bits as with every distance computed.
// Tight, well-separated blobs far from the origin (the bounds rule out most rows, and the
// rounding margins, which grow with the norms, matter) and wide overlapping ones (clusters
// partly read, rows moving between clusters at every step), more centres than blobs (rows
// close to two centres: the margins decide), 1 to 4 ranks; the cluster-sorted steps at any d
// (per-row bounds inside them from 128 features), with sample weights the row-by-row steps,
// and a view (DenseShard::view_of: nothing rearranged, every row read). The shard must come
// back bit for bit.
struct BoundedCase {
  Eigen::Index features;
  bool weighted = false;
  bool view = false;
  double cluster_std = 0.05;
};

template <class T>
void expect_bounded_seeding_to_pick_the_same_rows(const Comm& comm, const BoundedCase& setting) {
  BlobOptions options;
  options.samples = 1500;
  options.features = setting.features;
  options.centers = 24;
  options.cluster_std = setting.cluster_std;
  options.seed = 5;
  options.box_low = 30;
  options.box_high = 50;
  auto blobs = make_blobs<T>(comm, options);
  if (setting.weighted) {
    blobs.data.has_weights = true;
    for (Eigen::Index i = 0; i < blobs.data.local_rows(); ++i)
      blobs.data.weights.push_back(1.0 + static_cast<double>(blobs.data.global_index(i) % 7));
  }
  const RowMatrix<T> before = blobs.data.rows.matrix();
  const DenseShard<T> view = DenseShard<T>::view_of(before.data(), before.rows(), before.cols(),
                                                    blobs.data.global_rows, blobs.data.first_row);
  const DenseShard<T>& shard = setting.view ? view : blobs.data;
  const DataSummary summary = summarize(comm, shard);
  for (const InitMethod init : {InitMethod::KMeansPlusPlus, InitMethod::KMeansParallel}) {
    // rows sorted by cluster from kSortFromCentres = 128; k-means|| in passes of at least 64
    // candidates: one pass per round at k = 20, several from k = 60
    for (const int k : {20, 60, 140}) {
      ParallelSeeding bounded, plain;
      plain.triangle_bounds = false;
      const RowMatrix<T> fast = initial_centres(comm, shard, init, k, 3, 0, summary.fixed, bounded);
      EXPECT_TRUE((shard.rows.matrix().array() == before.array()).all()) << "the shard was not restored";
      const RowMatrix<T> every = initial_centres(comm, shard, init, k, 3, 0, summary.fixed, plain);
      EXPECT_TRUE((fast.array() == every.array()).all())
          << (init == InitMethod::KMeansParallel ? "k-means||" : "k-means++") << ", k = " << k
          << ", d = " << setting.features << (setting.weighted ? ", weighted" : "") << (setting.view ? ", view" : "")
          << ", std " << setting.cluster_std;
    }
  }
}

TEST(Init, SeedingWithTriangleBoundsPicksTheSameRows) {
  Comm comm(MPI_COMM_WORLD);
  for (const double spread : {0.05, 3.0}) {
    for (const Eigen::Index d : {8, 32}) {
      expect_bounded_seeding_to_pick_the_same_rows<float>(comm, {.features = d, .cluster_std = spread});
      expect_bounded_seeding_to_pick_the_same_rows<double>(comm, {.features = d, .cluster_std = spread});
    }
    expect_bounded_seeding_to_pick_the_same_rows<float>(comm, {.features = 32, .view = true, .cluster_std = spread});
  }
  expect_bounded_seeding_to_pick_the_same_rows<float>(comm, {.features = 130});
  expect_bounded_seeding_to_pick_the_same_rows<double>(comm, {.features = 128});
  expect_bounded_seeding_to_pick_the_same_rows<double>(comm, {.features = 128, .view = true});
  expect_bounded_seeding_to_pick_the_same_rows<float>(comm, {.features = 8, .weighted = true});
  expect_bounded_seeding_to_pick_the_same_rows<double>(comm, {.features = 3, .weighted = true});
}

TEST(Init, KMeansPlusPlusLeavesTheShardAsItWas) {
  Comm comm(MPI_COMM_WORLD);
  expect_kmeans_plus_plus_leaves_the_shard_as_it_was<float>(comm);
  expect_kmeans_plus_plus_leaves_the_shard_as_it_was<double>(comm);
}

TEST(Init, RandomPartitionCentresAreMeansOfLargeRandomSubsets) {
  Comm comm(MPI_COMM_WORLD);
  const auto blobs = separated_blobs(comm);
  const DataSummary summary = summarize(comm, blobs.data);
  const auto centres =
      initial_centres(comm, blobs.data, InitMethod::RandomPartition, 3, 1, 0, summary.fixed);
  // Means of ~1000 random rows lie near the global mean, far inside the blobs' spread.
  const auto rows = all_rows(comm, blobs.data);
  Eigen::Map<const RowMatrix<double>> x(rows.data(), static_cast<Eigen::Index>(rows.size() / 4), 4);
  const Eigen::RowVectorXd mean = x.colwise().mean();
  const double spread = std::sqrt((x.rowwise() - mean).squaredNorm() / static_cast<double>(x.rows()));
  for (Eigen::Index c = 0; c < 3; ++c) {
    EXPECT_LT((centres.row(c) - mean).norm(), 0.25 * spread);
    EXPECT_LT(find_row(rows, 4, centres.row(c).data()), 0) << "a mean should not be a data row";
  }
}

TEST(NInit, KeepsTheRestartWithTheLowestInertia) {
  Comm comm(MPI_COMM_WORLD);
  const auto blobs = separated_blobs(comm, 9);
  KMeansOptions options;
  options.k = 12;  // more clusters than blobs: restarts end in different local minima
  options.init = InitMethod::Forgy;
  options.n_init = 6;
  options.seed = 3;
  const auto result = fit_kmeans(comm, blobs.data, options);
  ASSERT_EQ(result.restart_inertia.size(), 6u);
  const auto best = std::min_element(result.restart_inertia.begin(), result.restart_inertia.end());
  EXPECT_EQ(result.inertia, *best);
  EXPECT_EQ(result.best_restart, best - result.restart_inertia.begin());
  EXPECT_NE(*best, *std::max_element(result.restart_inertia.begin(), result.restart_inertia.end()))
      << "restarts should differ for this test to mean anything";
  // Restart 0 alone is the same run as a single fit with the same seed.
  options.n_init = 1;
  EXPECT_EQ(fit_kmeans(comm, blobs.data, options).inertia, result.restart_inertia[0]);
}

TEST(EmptyClusters, DuplicateInitialCentresAreRelocatedNotLeftEmpty) {
  Comm comm(MPI_COMM_WORLD);
  const auto blobs = separated_blobs(comm, 4);
  // Centres 0 and 1 coincide: ties go to centre 0, so cluster 1 starts empty.
  RowMatrix<double> init(4, 4);
  init.row(0) = blobs.centers.row(0);
  init.row(1) = blobs.centers.row(0);
  init.row(2) = blobs.centers.row(1);
  init.row(3) = blobs.centers.row(2);
  KMeansOptions options;
  options.k = 4;
  options.init = InitMethod::Explicit;
  const auto result = fit_kmeans(comm, blobs.data, options, &init);
  // One pass over the rows found the farthest for the empty cluster (the count --json
  // reports); the initial centres of the fit below leave none empty: no pass.
  EXPECT_EQ(result.relocation_passes, 1);
  RowMatrix<double> distinct = init;
  distinct.row(1) = blobs.centers.row(3);
  EXPECT_EQ(fit_kmeans(comm, blobs.data, options, &distinct).relocation_passes, 0);
  std::vector<std::int64_t> counts(4, 0);
  for (auto label : result.labels) ++counts[static_cast<std::size_t>(label)];
  comm.allreduce(std::span<std::int64_t>(counts), MPI_SUM);
  for (int c = 0; c < 4; ++c) EXPECT_GT(counts[static_cast<std::size_t>(c)], 0) << "cluster " << c;
  // With the relocation the four blobs are found: every centroid is near a true centre.
  for (Eigen::Index c = 0; c < 4; ++c) {
    double nearest = 1e300;
    for (Eigen::Index t = 0; t < 4; ++t)
      nearest = std::min(nearest, (result.centroids.row(c) - blobs.centers.row(t)).norm());
    EXPECT_LT(nearest, 0.1);
  }
}

}  // namespace
}  // namespace lloyd
