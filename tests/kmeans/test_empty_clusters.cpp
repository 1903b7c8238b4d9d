// The empty-cluster rule on its own (scikit-learn's _relocate_empty_clusters): which clusters
// are empty, how many farthest rows are looked at, and which rows move where.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "lloyd/kmeans/empty_clusters.hpp"

namespace lloyd {
namespace {

TEST(FindEmptyClusters, NoneEmptyLooksAtNoRow) {
  const std::vector<std::int64_t> counts{3, 1, 5};
  const EmptyClusters empty = find_empty_clusters(counts, 9);
  EXPECT_TRUE(empty.clusters.empty());
  EXPECT_EQ(empty.candidates, 0u);
}

TEST(FindEmptyClusters, EmptyInIncreasingOrderAndSingletonsWidenTheSearch) {
  // Clusters 1 and 4 are empty; the rows of the two singletons (0 and 3) cannot move, so
  // 2 + 2 farthest rows are needed to be sure of two that can.
  const std::vector<std::int64_t> counts{1, 0, 7, 1, 0, 4};
  const EmptyClusters empty = find_empty_clusters(counts, 14);
  EXPECT_EQ(empty.clusters, (std::vector<std::int32_t>{1, 4}));
  EXPECT_EQ(empty.candidates, 4u);
}

TEST(FindEmptyClusters, NeverMoreCandidatesThanRows) {
  const std::vector<std::int64_t> counts{0, 0, 0, 1, 1};
  EXPECT_EQ(find_empty_clusters(counts, 2).candidates, 2u);
}

TEST(ChooseClusterMoves, FarthestRowsGoToEmptyClustersInOrder) {
  const std::vector<std::int64_t> initial{0, 3, 2, 0};
  std::vector<std::int64_t> counts = initial;
  const EmptyClusters empty = find_empty_clusters(counts, 5);
  // Candidates farthest first: global rows 7 (cluster 1), 2 (cluster 2), 4 (cluster 1).
  const std::vector<std::uint64_t> rows{7, 2, 4};
  const std::vector<std::int32_t> old_labels{1, 2, 1};
  const std::vector<ClusterMove> moves = choose_cluster_moves(empty, rows, old_labels, counts);
  ASSERT_EQ(moves.size(), 2u);
  EXPECT_EQ(moves[0].row, 7u);
  EXPECT_EQ(moves[0].from, 1);
  EXPECT_EQ(moves[0].to, 0);
  EXPECT_EQ(moves[0].candidate, 0u);
  EXPECT_EQ(moves[1].row, 2u);
  EXPECT_EQ(moves[1].from, 2);
  EXPECT_EQ(moves[1].to, 3);
  EXPECT_EQ(moves[1].candidate, 1u);
  EXPECT_EQ(counts, (std::vector<std::int64_t>{1, 2, 1, 1}));
}

TEST(ChooseClusterMoves, NeverEmptiesTheClusterARowLeaves) {
  // Cluster 1 has one member left after the first move: its second row must stay, and the
  // next candidate (cluster 2) fills the second empty cluster instead.
  std::vector<std::int64_t> counts{0, 2, 3, 0};
  const EmptyClusters empty = find_empty_clusters(counts, 5);
  const std::vector<std::uint64_t> rows{0, 1, 3};
  const std::vector<std::int32_t> old_labels{1, 1, 2};
  const std::vector<ClusterMove> moves = choose_cluster_moves(empty, rows, old_labels, counts);
  ASSERT_EQ(moves.size(), 2u);
  EXPECT_EQ(moves[0].row, 0u);
  EXPECT_EQ(moves[1].row, 3u);
  EXPECT_EQ(moves[1].candidate, 2u);
  EXPECT_EQ(counts, (std::vector<std::int64_t>{1, 1, 2, 1}));
}

TEST(ChooseClusterMoves, SingletonsOnlyMoveNothing) {
  std::vector<std::int64_t> counts{1, 0, 1};
  const EmptyClusters empty = find_empty_clusters(counts, 2);
  const std::vector<std::uint64_t> rows{1, 0};
  const std::vector<std::int32_t> old_labels{2, 0};
  EXPECT_TRUE(choose_cluster_moves(empty, rows, old_labels, counts).empty());
  EXPECT_EQ(counts, (std::vector<std::int64_t>{1, 0, 1}));
}

}  // namespace
}  // namespace lloyd
