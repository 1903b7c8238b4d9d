// Per-row distances, transform, top outliers and cluster sizes (kmeans/row_distances.hpp):
// the same bits at any rank and thread count, each row's distance the transform's entry at
// its label, the outliers those of a serial sort (ties to the lower row, N = 0, N > n, ranks
// without rows).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "../test_support.hpp"
#include "lloyd/generate.hpp"
#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/bisecting.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/kmeans/row_distances.hpp"

namespace lloyd {
namespace {

Blobs<double> example_blobs(const Comm& comm, std::uint64_t samples = 1003) {
  BlobOptions blobs;
  blobs.samples = samples;
  blobs.features = 5;
  blobs.centers = 4;
  blobs.seed = 11;
  return make_blobs<double>(comm, blobs);
}

RowMatrix<double> example_centres() {
  RowMatrix<double> centres(4, 5);
  for (Eigen::Index c = 0; c < 4; ++c)
    for (Eigen::Index j = 0; j < 5; ++j) centres(c, j) = 3.0 * static_cast<double>(c) - static_cast<double>(j) / 3;
  return centres;
}

// This rank's rows of the example and their nearest of the example centres.
struct Labelled {
  Blobs<double> blobs;
  RowMatrix<double> centres = example_centres();
  std::vector<std::int32_t> labels;
  explicit Labelled(const Comm& comm) : blobs(example_blobs(comm)) {
    predict_labels(comm, blobs.data, centres, labels);
  }
};

// The serial reference: every row's distance, in global order.
std::vector<Outlier> sorted_outliers(const std::vector<double>& distances, const std::vector<std::int32_t>& labels,
                                     std::uint64_t count) {
  std::vector<std::uint64_t> order(distances.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return distances[a] > distances[b]; });
  std::vector<Outlier> outliers;
  for (std::uint64_t o = 0; o < std::min<std::uint64_t>(count, order.size()); ++o)
    outliers.push_back({order[o], labels[order[o]], distances[order[o]]});
  return outliers;
}

TEST(RowDistances, DistanceIsTransformAtLabelAndSqrtOfSquaredDistance) {
  Comm comm(MPI_COMM_WORLD);
  const Labelled example(comm);
  const auto& [blobs, centres, labels] = example;
  for (const Distance distance : {Distance::Euclidean, Distance::Manhattan, Distance::Cosine}) {
    std::vector<double> to_label(labels.size());
    distances_to_labels(blobs.data, centres, distance, labels, to_label);
    const RowMatrix<double> transform = distances_to_centres(blobs.data, centres, distance);
    ASSERT_EQ(transform.rows(), blobs.data.local_rows());
    for (std::size_t i = 0; i < labels.size(); ++i) {
      const auto row = static_cast<Eigen::Index>(i);
      EXPECT_EQ(to_label[i], transform(row, labels[i]));
      if (distance == Distance::Euclidean) {
        // Nearest centre: the smallest entry of the row, √ of the squared distance summed directly.
        EXPECT_EQ(to_label[i], transform.row(row).minCoeff());
        EXPECT_EQ(to_label[i], std::sqrt(squared_distance(blobs.data.row(row), centres.row(labels[i]).data(), 5)));
      }
    }
  }
}

TEST(RowDistances, SameBitsForEveryRankAndThreadCount) {
  Comm comm(MPI_COMM_WORLD);
  const Labelled example(comm);
  const auto& [blobs, centres, labels] = example;
  // The serial values: every rank computes all rows itself (a one-rank communicator).
  Comm self(MPI_COMM_SELF);
  const Labelled whole(self);
  std::vector<double> serial(whole.labels.size());
  distances_to_labels(whole.blobs.data, centres, Distance::Euclidean, whole.labels, serial);
  for (const int threads : {1, 3}) {
    set_threads(threads);
    std::vector<double> local(labels.size());
    distances_to_labels(blobs.data, centres, Distance::Euclidean, labels, local);
    const std::vector<double> all = test::gather_all(comm, local);
    ASSERT_EQ(all.size(), serial.size());
    for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], serial[i]) << "row " << i;
  }
  set_threads(1);
}

TEST(RowDistances, BisectingRowsMeasureToTheirLeaf) {
  Comm comm(MPI_COMM_WORLD);
  const auto blobs = example_blobs(comm);
  KMeansOptions options;
  options.k = 4;
  options.seed = 3;
  const BisectingResult<double> fitted = fit_bisecting(comm, blobs.data, options, BisectingStrategy::BiggestInertia);
  std::vector<std::int32_t> labels;
  predict_tree(comm, blobs.data, fitted.tree, labels);
  std::vector<double> to_label(labels.size());
  distances_to_labels(blobs.data, fitted.centroids, Distance::Euclidean, labels, to_label);
  const RowMatrix<double> transform = distances_to_centres(blobs.data, fitted.centroids, Distance::Euclidean);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::size_t leaf = fitted.tree.descend(blobs.data.row(static_cast<Eigen::Index>(i)));
    EXPECT_EQ(fitted.tree.label[leaf], labels[i]);
    EXPECT_EQ(to_label[i], transform(static_cast<Eigen::Index>(i), labels[i]));
  }
}

TEST(TopOutliers, EqualsASerialSortWithTiesToTheLowerRow) {
  Comm comm(MPI_COMM_WORLD);
  const std::uint64_t n = 101;
  const RowRange mine = block_rows(n, comm.size(), comm.rank());
  // Few distinct values: many ties, which go to the lower global row.
  std::vector<double> all(n);
  std::vector<std::int32_t> all_labels(n);
  for (std::uint64_t row = 0; row < n; ++row) {
    all[row] = static_cast<double>((row * 37) % 11);
    all_labels[row] = static_cast<std::int32_t>(row % 3);
  }
  const std::vector<double> local(all.begin() + static_cast<std::ptrdiff_t>(mine.begin),
                                  all.begin() + static_cast<std::ptrdiff_t>(mine.end));
  const std::vector<std::int32_t> local_labels(all_labels.begin() + static_cast<std::ptrdiff_t>(mine.begin),
                                               all_labels.begin() + static_cast<std::ptrdiff_t>(mine.end));
  for (const std::uint64_t count : {0ULL, 1ULL, 7ULL, 40ULL, 101ULL, 500ULL})
    EXPECT_EQ(top_outliers(comm, mine.begin, local_labels, local, count), sorted_outliers(all, all_labels, count))
        << "N = " << count;
}

TEST(TopOutliers, RanksWithoutRows) {
  Comm comm(MPI_COMM_WORLD);
  const std::uint64_t n = 2;  // at 3 and 4 ranks some ranks hold nothing
  const RowRange mine = block_rows(n, comm.size(), comm.rank());
  std::vector<double> local;
  std::vector<std::int32_t> labels;
  for (std::uint64_t row = mine.begin; row < mine.end; ++row) {
    local.push_back(1.5);  // a tie: row 0 first
    labels.push_back(static_cast<std::int32_t>(row));
  }
  const std::vector<Outlier> expected = {{0, 0, 1.5}, {1, 1, 1.5}};
  EXPECT_EQ(top_outliers(comm, mine.begin, labels, local, 5), expected);
  EXPECT_EQ(cluster_sizes(comm, labels, 3), (std::vector<std::int64_t>{1, 1, 0}));
}

}  // namespace
}  // namespace lloyd
