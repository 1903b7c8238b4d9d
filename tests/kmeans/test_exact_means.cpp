// Every centroid coordinate is the exact mean of its own rows, rounded (item 12 of issue 15):
// whatever else the column holds — an outlier of 1e17, an offset of 1e12, values of 1e-310 —
// and the same bits at every rank count and with every algorithm. Before, one limb of 52 bits
// below the column's largest value made the other centres' column 0 exactly 0.0 next to a
// 1e17, gave errors of 2e-5 at 1e12, and all-zero centres for 1e-310 data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "../test_support.hpp"
#include "lloyd/core/exact_sum.hpp"
#include "lloyd/kmeans/driver.hpp"

namespace lloyd {
namespace {

// n rows around `centres` (row i around centre i % k, normal spread `spread`), column j
// scaled by scale[j] and shifted by offset[j]; row 0 replaced by `outlier` when given. The same rows at
// every rank count (generated from the global index).
template <class T>
DenseShard<T> rows_around(const Comm& comm, const RowMatrix<double>& centres, std::uint64_t n, double spread,
                          const std::vector<double>& scale, const std::vector<double>& offset,
                          const std::vector<double>& outlier) {
  const Eigen::Index k = centres.rows(), d = centres.cols();
  const RowRange mine = block_rows(n, comm.size(), comm.rank());
  DenseShard<T> shard;
  shard.global_rows = n;
  shard.first_row = mine.begin;
  shard.rows.resize(static_cast<Eigen::Index>(mine.size()), d);
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
    const std::uint64_t global = shard.global_index(i);
    std::mt19937_64 generator(global);
    std::normal_distribution<double> normal(0.0, spread);
    for (Eigen::Index j = 0; j < d; ++j) {
      const auto column = static_cast<std::size_t>(j);
      const double value =
          (centres(static_cast<Eigen::Index>(global) % k, j) + normal(generator)) * scale[column] + offset[column];
      shard.rows.mutable_matrix()(i, j) = static_cast<T>(global == 0 && !outlier.empty() ? outlier[static_cast<std::size_t>(j)] : value);
    }
  }
  return shard;
}

// Each centroid coordinate against the exact mean of the rows labelled with it (ExactSum of
// the members, rounded once, divided once, rounded to T): equal, and so within any number of
// ulps; the labels' clusters must also be non-empty.
template <class T>
void expect_centres_are_exact_means(const Comm& comm, const DenseShard<T>& shard, const KMeansResult<T>& result,
                                    const std::string& what) {
  const Eigen::Index k = result.centroids.rows(), d = shard.features();
  std::vector<ExactSum> sums(static_cast<std::size_t>(k * d));
  std::vector<std::int64_t> counts(static_cast<std::size_t>(k), 0);
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
    const auto c = static_cast<Eigen::Index>(result.labels[static_cast<std::size_t>(i)]);
    ++counts[static_cast<std::size_t>(c)];
    for (Eigen::Index j = 0; j < d; ++j) sums[static_cast<std::size_t>(c * d + j)].add(static_cast<double>(shard.rows(i, j)));
  }
  ExactSum::allreduce(sums, comm);
  comm.allreduce(std::span<std::int64_t>(counts), MPI_SUM);
  for (Eigen::Index c = 0; c < k; ++c) {
    if (counts[static_cast<std::size_t>(c)] == 0) continue;  // kept its previous centre
    for (Eigen::Index j = 0; j < d; ++j) {
      const T exact = static_cast<T>(sums[static_cast<std::size_t>(c * d + j)].value() /
                                     static_cast<double>(counts[static_cast<std::size_t>(c)]));
      EXPECT_EQ(result.centroids(c, j), exact) << what << ": centre " << c << " feature " << j;
    }
  }
}

template <class T>
KMeansResult<T> fit_from(const Comm& comm, const DenseShard<T>& shard, const RowMatrix<double>& init, Algorithm algorithm) {
  KMeansOptions options;
  options.k = static_cast<int>(init.rows());
  options.tol = 0;
  options.max_iter = 50;
  options.algorithm = algorithm;
  const RowMatrix<T> initial = init.cast<T>();
  return fit_kmeans(comm, shard, options, &initial);
}

// The case at every rank count (subsets of the world) and algorithm: the centres are exact
// means, and the same bits everywhere.
template <class T>
void expect_exact_everywhere(const RowMatrix<double>& centres, double spread, const std::vector<double>& scale,
                             const std::vector<double>& offset, const std::vector<double>& outlier,
                             const RowMatrix<double>& init, const std::string& what) {
  Comm world(MPI_COMM_WORLD);
  RowMatrix<T> reference;
  for (int ranks = 1; ranks <= world.size(); ++ranks) {
    auto part = world.subset(world.rank() < ranks);
    if (!part) continue;
    const DenseShard<T> shard = rows_around<T>(*part, centres, 601, spread, scale, offset, outlier);
    for (const Algorithm algorithm : {Algorithm::Lloyd, Algorithm::Hamerly, Algorithm::Yinyang}) {
      const KMeansResult<T> result = fit_from(*part, shard, init, algorithm);
      const std::string where = what + " at " + std::to_string(ranks) + " ranks, " + to_string(algorithm);
      expect_centres_are_exact_means(*part, shard, result, where);
      if (reference.size() == 0) reference = result.centroids;
      ASSERT_EQ(reference.size(), result.centroids.size());
      EXPECT_EQ(std::memcmp(reference.data(), result.centroids.data(), sizeof(T) * static_cast<std::size_t>(reference.size())), 0)
          << where << ": other centres than at 1 rank with lloyd";
    }
  }
}

RowMatrix<double> three_centres() {
  RowMatrix<double> centres(3, 2);
  centres << 10.06, 1.0, -10.34, 2.0, -0.18, -3.0;
  return centres;
}

TEST(ExactMeans, AnOutlierOf1e17DoesNotEraseTheOtherCentres) {
  RowMatrix<double> init(4, 2);
  init << 10.06, 1.0, -10.34, 2.0, -0.18, -3.0, 1e17, 0.0;
  expect_exact_everywhere<double>(three_centres(), 0.3, {1, 1}, {0, 0}, {1e17, 0.0}, init, "1e17 outlier, float64");
  expect_exact_everywhere<float>(three_centres(), 0.3, {1, 1}, {0, 0}, {1e17, 0.0}, init, "1e17 outlier, float32");
}

TEST(ExactMeans, AnOffsetOf1e12KeepsEveryDigit) {
  RowMatrix<double> init = three_centres();
  init.array() += 1e12;
  expect_exact_everywhere<double>(three_centres(), 0.3, {1, 1}, {1e12, 1e12}, {}, init, "offset 1e12");
}

TEST(ExactMeans, DataOf1eMinus310GiveTheirMeansNotZero) {
  // Column 0 of magnitude 1e-310 (its squares underflow: column 1 decides the clusters);
  // its centre coordinates must be its members' means, not 0.
  RowMatrix<double> init = three_centres();
  init.col(0) *= 1e-310;
  expect_exact_everywhere<double>(three_centres(), 0.3, {1e-310, 1}, {0, 0}, {}, init, "1e-310 column");
  // All of the data that small: k = 1, the mean of everything.
  RowMatrix<double> one(1, 2);
  one << 0.0, 0.0;
  expect_exact_everywhere<double>(three_centres(), 0.3, {1e-310, 1e-310}, {0, 0}, {}, one, "1e-310 data");
}

}  // namespace
}  // namespace lloyd
