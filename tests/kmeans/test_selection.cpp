// The order-free selection helpers (kmeans/selection.hpp) at any rank count, including ranks
// that hold no rows: what they return must not depend on which rank holds which row.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "lloyd/kmeans/selection.hpp"

namespace lloyd {
namespace {

// Row g of the global data is (g, 10 g + 1, -g): every value says where it came from.
DenseShard<double> block_shard(const Comm& comm, std::uint64_t n) {
  const RowRange range = block_rows(n, comm.size(), comm.rank());
  DenseShard<double> shard;
  shard.global_rows = n;
  shard.first_row = range.begin;
  shard.rows.resize(static_cast<Eigen::Index>(range.size()), 3);
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
    const double g = static_cast<double>(shard.global_index(i));
    shard.rows.mutable_matrix().row(i) << g, 10 * g + 1, -g;
  }
  return shard;
}

void expect_rows(const RowMatrix<double>& rows, const std::vector<std::uint64_t>& indices) {
  ASSERT_EQ(rows.rows(), static_cast<Eigen::Index>(indices.size()));
  for (std::size_t q = 0; q < indices.size(); ++q) {
    const double g = static_cast<double>(indices[q]);
    EXPECT_EQ(rows(static_cast<Eigen::Index>(q), 0), g);
    EXPECT_EQ(rows(static_cast<Eigen::Index>(q), 1), 10 * g + 1);
    EXPECT_EQ(rows(static_cast<Eigen::Index>(q), 2), -g);
  }
}

TEST(Selection, FetchRowsInRequestOrderWithRepeats) {
  Comm comm(MPI_COMM_WORLD);
  const DenseShard<double> shard = block_shard(comm, 11);
  const std::vector<std::uint64_t> indices{10, 0, 5, 5, 3, 10, 1};
  expect_rows(rows_as_matrix(comm, shard, indices), indices);
}

TEST(Selection, FetchRowsWhenSomeRanksHoldNone) {
  // 2 rows over up to 4 ranks: ranks 2 and 3 hold nothing and start where the next would.
  Comm comm(MPI_COMM_WORLD);
  const DenseShard<double> shard = block_shard(comm, 2);
  const std::vector<std::uint64_t> indices{1, 0};
  expect_rows(rows_as_matrix(comm, shard, indices), indices);
  expect_rows(rows_as_matrix(comm, shard, std::vector<std::uint64_t>{}), {});
}

TEST(Selection, LocalSmallestThenGlobalSmallestAreTheGlobalMinimum) {
  Comm comm(MPI_COMM_WORLD);
  const std::uint64_t n = 23;
  const DenseShard<double> shard = block_shard(comm, n);
  // Key (g * 7) mod 23: a permutation, so the 5 smallest keys are 0..4.
  auto key_of = [&](Eigen::Index i) { return static_cast<double>((shard.global_index(i) * 7) % n); };
  const std::vector<KeyIndex> winners = comm.smallest(local_smallest(shard, 5, key_of), 5);
  ASSERT_EQ(winners.size(), 5u);
  for (std::size_t q = 0; q < winners.size(); ++q) {
    EXPECT_EQ(winners[q].key, static_cast<double>(q));
    EXPECT_EQ((winners[q].index * 7) % n, q);
  }
}

TEST(Selection, DistinctRandomRowsAreTheSameAtEveryRankCount) {
  // The reference: the k rows with the smallest uniform keys over all n rows, computed from
  // the generator alone; the distributed selection must give exactly these, in key order.
  Comm comm(MPI_COMM_WORLD);
  const std::uint64_t n = 101;
  const std::size_t count = 9;
  const CounterRng rng(42);
  const std::uint64_t stream = stream_id(Stream::FirstCentre, 3);
  std::vector<std::pair<double, std::uint64_t>> keys;
  for (std::uint64_t g = 0; g < n; ++g) keys.emplace_back(rng.uniform(stream, g), g);
  std::sort(keys.begin(), keys.end());
  std::vector<std::uint64_t> expected;
  for (std::size_t q = 0; q < count; ++q) expected.push_back(keys[q].second);
  const DenseShard<double> shard = block_shard(comm, n);
  EXPECT_EQ(distinct_random_rows(comm, shard, count, rng, stream), expected);
}

TEST(Selection, SubsetShardKeepsRowsWhereTheyAreInGlobalOrder) {
  Comm comm(MPI_COMM_WORLD);
  const DenseShard<double> shard = block_shard(comm, 13);
  const std::vector<std::uint64_t> chosen{12, 1, 7, 0, 8};  // any order
  std::vector<Eigen::Index> kept;
  const DenseShard<double> subset = subset_shard(comm, shard, chosen, kept);
  EXPECT_EQ(subset.global_rows, chosen.size());
  ASSERT_EQ(kept.size(), static_cast<std::size_t>(subset.local_rows()));
  for (Eigen::Index i = 0; i < subset.local_rows(); ++i) {
    EXPECT_TRUE(subset.rows.row(i) == shard.rows.row(kept[static_cast<std::size_t>(i)]));
  }
  // Together the ranks hold rows 0, 1, 7, 8, 12 in that order, numbered 0..4.
  std::vector<std::uint64_t> all(static_cast<std::size_t>(subset.global_rows));
  for (std::uint64_t q = 0; q < all.size(); ++q) all[q] = q;
  const RowMatrix<double> rows = rows_as_matrix(comm, subset, all);
  expect_rows(rows, {0, 1, 7, 8, 12});
}

}  // namespace
}  // namespace lloyd
