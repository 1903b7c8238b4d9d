// Bisecting K-Means: scikit-learn's BisectingKMeans as reference (fixtures from
// scripts/fixtures/make_bisecting_fixtures.py), tree consistency, rank-count invariance.
#include <gtest/gtest.h>

#include <cstring>

#include "../test_support.hpp"
#include "lloyd/generate.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/kmeans/bisecting.hpp"

namespace lloyd {
namespace {

DenseShard<double> read_fixture(const Comm& comm, const std::string& file) {
  const DatasetRef ref{test::data_path(file), "/X"};
  return read_shard<double>(comm, ref, inspect_matrix(comm, ref));
}

double expected_inertia(const Comm& comm, const std::string& file, const std::string& strategy) {
  double inertia = 0;
  run_agreed(comm, [&] {
    Hid handle(H5Fopen(test::data_path(file).c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    Hid group(H5Gopen2(handle.get(), ("/expected_" + strategy).c_str(), H5P_DEFAULT), H5Gclose);
    inertia = read_attribute_double(group.get(), "inertia");
  });
  return inertia;
}

// Children partition their parent: sizes add up, every row's label is a leaf, the rows of
// each leaf are as many as its size, and the training rows descend to their own leaf.
template <class T>
void expect_consistent_tree(const Comm& comm, const DenseShard<T>& shard,
                            const BisectingResult<T>& result, int k) {
  const BisectingTree<T>& tree = result.tree;
  ASSERT_EQ(tree.nodes(), static_cast<std::size_t>(2 * k - 1));
  EXPECT_EQ(tree.size[0], static_cast<std::int64_t>(shard.global_rows));
  EXPECT_EQ(tree.parent[0], -1);
  const auto leaves = tree.leaves();
  ASSERT_EQ(leaves.size(), static_cast<std::size_t>(k));
  for (std::size_t node = 0; node < tree.nodes(); ++node) {
    if (tree.is_leaf(node)) continue;
    const auto l = static_cast<std::size_t>(tree.left[node]), r = static_cast<std::size_t>(tree.right[node]);
    EXPECT_EQ(tree.parent[l], static_cast<std::int64_t>(node));
    EXPECT_EQ(tree.parent[r], static_cast<std::int64_t>(node));
    EXPECT_EQ(tree.size[l] + tree.size[r], tree.size[node]) << "node " << node;
    EXPECT_GT(tree.size[l], 0);
    EXPECT_GT(tree.size[r], 0);
    // A split never raises the inertia of its rows.
    EXPECT_LE(tree.inertia[l] + tree.inertia[r], tree.inertia[node] * (1 + 1e-12));
  }
  const auto labels = test::gather_all(comm, result.labels);
  std::vector<std::int64_t> per_leaf(static_cast<std::size_t>(k), 0);
  for (const std::int32_t label : labels) {
    ASSERT_GE(label, 0);
    ASSERT_LT(label, k);
    ++per_leaf[static_cast<std::size_t>(label)];
  }
  for (std::size_t c = 0; c < leaves.size(); ++c) {
    EXPECT_EQ(tree.label[leaves[c]], static_cast<std::int64_t>(c));
    EXPECT_EQ(per_leaf[c], tree.size[leaves[c]]) << "leaf " << c;
  }
  std::vector<std::int32_t> predicted;
  const double inertia = predict_tree(comm, shard, tree, predicted);
  EXPECT_EQ(predicted, result.labels);
  EXPECT_NEAR(inertia, result.inertia, 1e-9 * result.inertia);
  double leaves_total = 0;
  for (const std::size_t leaf : leaves) leaves_total += tree.inertia[leaf];
  EXPECT_NEAR(leaves_total, result.inertia, 1e-9 * result.inertia);
}

struct Case {
  const char* file;
  const char* strategy;
};

class AgainstScikitLearn : public ::testing::TestWithParam<Case> {};

TEST_P(AgainstScikitLearn, FinalInertiaWithinTwoPercent) {
  Comm comm(MPI_COMM_WORLD);
  const Case c = GetParam();
  const DenseShard<double> shard = read_fixture(comm, c.file);
  KMeansOptions options;
  options.k = static_cast<int>(
      [&] {
        std::int64_t k = 0;
        run_agreed(comm, [&] {
          Hid handle(H5Fopen(test::data_path(c.file).c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
          Hid group(H5Gopen2(handle.get(), (std::string("/expected_") + c.strategy).c_str(), H5P_DEFAULT),
                    H5Gclose);
          k = read_attribute_int(group.get(), "k");
        });
        return k;
      }());
  options.n_init = 3;
  options.seed = 1;
  const auto result = fit_bisecting(comm, shard, options, parse_bisecting_strategy(c.strategy));
  const double reference = expected_inertia(comm, c.file, c.strategy);
  // Not worse than scikit-learn by more than 2% (a better local minimum is fine: on
  // `uneven` with biggest_inertia lloyd's splits end about 5% lower).
  EXPECT_LE(result.inertia / reference - 1, 0.02)
      << c.file << " " << c.strategy << ": lloyd " << result.inertia << " scikit-learn " << reference;
  expect_consistent_tree(comm, shard, result, options.k);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, AgainstScikitLearn,
                         ::testing::Values(Case{"bisecting_blobs.h5", "biggest_inertia"},
                                           Case{"bisecting_blobs.h5", "largest_cluster"},
                                           Case{"bisecting_iris.h5", "biggest_inertia"},
                                           Case{"bisecting_iris.h5", "largest_cluster"},
                                           Case{"bisecting_uneven.h5", "biggest_inertia"},
                                           Case{"bisecting_uneven.h5", "largest_cluster"}));

template <class T>
BisectingResult<T> fit_blobs(const Comm& comm, BisectingStrategy strategy, InitMethod init) {
  // 2777 rows: not a multiple of the block size or of any rank count.
  const auto data = make_blobs<T>(
      comm, BlobOptions{.samples = 2777, .features = 5, .centers = 6, .cluster_std = 2.0, .seed = 9});
  const KMeansOptions options{.k = 9, .init = init, .n_init = 2, .seed = 5};
  auto result = fit_bisecting(comm, data.data, options, strategy);
  expect_consistent_tree(comm, data.data, result, options.k);
  result.labels = test::gather_all(comm, result.labels);
  return result;
}

template <class T>
void expect_identical_for_every_rank_count(BisectingStrategy strategy, InitMethod init) {
  Comm world(MPI_COMM_WORLD);
  const auto full = fit_blobs<T>(world, strategy, init);
  for (int ranks = 1; ranks < world.size(); ++ranks) {
    auto part = world.subset(world.rank() < ranks);
    if (!part) continue;
    const auto small = fit_blobs<T>(*part, strategy, init);
    EXPECT_EQ(small.labels, full.labels) << ranks << " ranks vs " << world.size();
    EXPECT_EQ(std::memcmp(&small.inertia, &full.inertia, sizeof(double)), 0);
    EXPECT_EQ(small.tree.parent, full.tree.parent);
    EXPECT_EQ(small.tree.left, full.tree.left);
    EXPECT_EQ(small.tree.size, full.tree.size);
    EXPECT_EQ(small.tree.inertia, full.tree.inertia);
    ASSERT_EQ(small.tree.centres.size(), full.tree.centres.size());
    EXPECT_EQ(std::memcmp(small.tree.centres.data(), full.tree.centres.data(),
                          sizeof(T) * static_cast<std::size_t>(full.tree.centres.size())),
              0);
  }
}

TEST(Bisecting, IdenticalForEveryRankCountBiggestInertiaFloat64) {
  expect_identical_for_every_rank_count<double>(BisectingStrategy::BiggestInertia,
                                                InitMethod::KMeansPlusPlus);
}
TEST(Bisecting, IdenticalForEveryRankCountLargestClusterFloat32) {
  expect_identical_for_every_rank_count<float>(BisectingStrategy::LargestCluster,
                                               InitMethod::KMeansPlusPlus);
}
TEST(Bisecting, IdenticalForEveryRankCountWithKMeansParallelAndForgy) {
  expect_identical_for_every_rank_count<double>(BisectingStrategy::BiggestInertia,
                                                InitMethod::KMeansParallel);
  expect_identical_for_every_rank_count<float>(BisectingStrategy::LargestCluster, InitMethod::Forgy);
}

// Each split's 2-means runs on its node's rows arranged in place in the shard (NodeLayout):
// the shard is the same bits afterwards, and the model is the same bits as where the shard is
// a view of memory lloyd may not write (there the node's rows are gathered into a copy, as
// every split did before), with and without sample weights.
TEST(Bisecting, SplitsInPlaceLeaveTheShardAsItWasAndMatchACopiedNode) {
  Comm comm(MPI_COMM_WORLD);
  for (const bool weighted : {false, true}) {
    auto data = make_blobs<float>(
        comm, BlobOptions{.samples = 2777, .features = 5, .centers = 6, .cluster_std = 2.0, .seed = 9});
    DenseShard<float>& shard = data.data;
    if (weighted) {
      shard.has_weights = true;
      for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
        shard.weights.push_back(static_cast<double>(shard.global_index(i) % 3));  // some 0
    }
    const RowMatrix<float> before = shard.rows.matrix();
    DenseShard<float> view =
        DenseShard<float>::view_of(before.data(), before.rows(), before.cols(), shard.global_rows, shard.first_row);
    view.weights = shard.weights;
    view.has_weights = shard.has_weights;
    const KMeansOptions options{.k = 9, .n_init = 2, .seed = 5};
    const auto in_place = fit_bisecting(comm, shard, options, BisectingStrategy::BiggestInertia);
    EXPECT_EQ(std::memcmp(shard.rows.data(), before.data(), sizeof(float) * static_cast<std::size_t>(before.size())), 0);
    const auto copied = fit_bisecting(comm, view, options, BisectingStrategy::BiggestInertia);
    EXPECT_EQ(in_place.labels, copied.labels) << "weighted " << weighted;
    EXPECT_EQ(std::memcmp(&in_place.inertia, &copied.inertia, sizeof(double)), 0);
    EXPECT_EQ(in_place.tree.size, copied.tree.size);
    EXPECT_EQ(in_place.tree.inertia, copied.tree.inertia);
    EXPECT_EQ(std::memcmp(in_place.tree.centres.data(), copied.tree.centres.data(),
                          sizeof(float) * static_cast<std::size_t>(copied.tree.centres.size())),
              0);
  }
}

TEST(Bisecting, KOfOneIsTheMean) {
  Comm comm(MPI_COMM_WORLD);
  const DenseShard<double> shard = read_fixture(comm, "bisecting_iris.h5");
  KMeansOptions options;
  options.k = 1;
  const auto result = fit_bisecting(comm, shard, options, BisectingStrategy::BiggestInertia);
  EXPECT_EQ(result.tree.nodes(), 1u);
  EXPECT_NEAR(result.centroids(0, 0), 5.843333, 1e-6);  // iris: mean sepal length
}

TEST(Bisecting, ParsesStrategies) {
  EXPECT_EQ(parse_bisecting_strategy("biggest-inertia"), BisectingStrategy::BiggestInertia);
  EXPECT_EQ(parse_bisecting_strategy("largest_cluster"), BisectingStrategy::LargestCluster);
  EXPECT_THROW(parse_bisecting_strategy("smallest"), Error);
}

}  // namespace
}  // namespace lloyd
