// Standardisation (core/scaling.hpp): the exact mean and population standard deviation of
// every feature, the same bits at any rank count and block split; constant features become
// exactly 0 (scale 1); data units back from the scaled space.
#include <gtest/gtest.h>

#include <cmath>

#include "../test_support.hpp"
#include "lloyd/core/scaling.hpp"

namespace lloyd {
namespace {

// n rows of 4 features: a wide range, a small offset on a large value (cancellation), a
// constant, and values of very different magnitudes.
DenseShard<double> example_rows(std::uint64_t n, RowRange range) {
  DenseShard<double> shard;
  shard.global_rows = n;
  shard.first_row = range.begin;
  shard.rows.resize(static_cast<Eigen::Index>(range.size()), 4);
  for (std::uint64_t row = range.begin; row < range.end; ++row) {
    const auto i = static_cast<Eigen::Index>(row - range.begin);
    const double x = static_cast<double>(row);
    shard.rows.mutable_matrix()(i, 0) = std::sin(x) * 1000.0;
    shard.rows.mutable_matrix()(i, 1) = 1e9 + std::cos(x * 0.7);
    shard.rows.mutable_matrix()(i, 2) = 0.1;
    shard.rows.mutable_matrix()(i, 3) = row % 7 == 0 ? 1e6 : 1e-6 * x;
  }
  return shard;
}

TEST(Scaling, SameBitsForEveryRankCountAndBlockSplit) {
  Comm comm(MPI_COMM_WORLD);
  const std::uint64_t n = 1001;
  DenseShard<double> shard = example_rows(n, block_rows(n, comm.size(), comm.rank()));
  const Scaling scaling = fit_standard_scaling(comm, shard);
  Comm self(MPI_COMM_SELF);
  const DenseShard<double> whole = example_rows(n, {0, n});
  EXPECT_EQ(scaling, fit_standard_scaling(self, whole));
  // Blocks of 100 rows (as mini-batch --stream reads them): the same scaling.
  const Scaling by_blocks = fit_standard_scaling<double>(
      self,
      [&](const auto& visit) {
        for (std::uint64_t first = 0; first < n; first += 100) visit(example_rows(n, {first, std::min(n, first + 100)}));
      },
      n, 4);
  EXPECT_EQ(scaling, by_blocks);
  // Against a long-double two-pass computation.
  for (Eigen::Index j = 0; j < 4; ++j) {
    long double sum = 0;
    for (Eigen::Index i = 0; i < whole.local_rows(); ++i) sum += whole.rows(i, j);
    const long double mean = sum / n;
    long double squares = 0;
    for (Eigen::Index i = 0; i < whole.local_rows(); ++i) squares += (whole.rows(i, j) - mean) * (whole.rows(i, j) - mean);
    const auto f = static_cast<std::size_t>(j);
    EXPECT_NEAR(scaling.mean[f], static_cast<double>(mean), 1e-15 * std::abs(static_cast<double>(mean)));
    if (j != 2) {
      EXPECT_NEAR(scaling.scale[f], static_cast<double>(std::sqrt(squares / n)), 1e-14 * scaling.scale[f]);
    }
  }
}

TEST(Scaling, ConstantFeaturesBecomeZeroAndCentresGoBackToDataUnits) {
  Comm comm(MPI_COMM_WORLD);
  const std::uint64_t n = 57;
  DenseShard<double> shard = example_rows(n, block_rows(n, comm.size(), comm.rank()));
  const Scaling scaling = fit_standard_scaling(comm, shard);
  EXPECT_EQ(scaling.mean[2], 0.1);  // exactly the value, not Σ/n rounded twice
  EXPECT_EQ(scaling.scale[2], 1.0);
  standardize(scaling, shard);
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i) EXPECT_EQ(shard.rows(i, 2), 0.0);
  // z-scores: mean 0, population variance 1 (over all ranks).
  std::vector<double> sums(8, 0.0);
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
    for (Eigen::Index j = 0; j < 4; ++j) {
      sums[static_cast<std::size_t>(j)] += shard.rows(i, j);
      sums[4 + static_cast<std::size_t>(j)] += shard.rows(i, j) * shard.rows(i, j);
    }
  comm.allreduce(std::span<double>(sums), MPI_SUM);
  // (Feature 1, 1e9 + cos x, keeps only ~7 digits of its deviations in double.)
  for (const std::size_t j : {0u, 1u, 3u}) {
    EXPECT_NEAR(sums[j] / n, 0.0, 1e-6);
    EXPECT_NEAR(sums[4 + j] / n, 1.0, 1e-6);
  }
  RowMatrix<double> centres(2, 4);
  centres << 0.5, -1.0, 0.0, 2.0, -0.25, 0.75, 0.0, -1.5;
  const RowMatrix<double> data_units = unstandardize(scaling, centres);
  RowMatrix<double> back = data_units;
  standardize(scaling, back);
  for (Eigen::Index c = 0; c < 2; ++c)
    for (Eigen::Index j = 0; j < 4; ++j) EXPECT_NEAR(back(c, j), centres(c, j), 1e-6);
  EXPECT_EQ(data_units(0, 2), 0.1);
}

}  // namespace
}  // namespace lloyd
