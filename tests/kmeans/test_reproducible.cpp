// Invariant 3: results depend on (data, options, seed) only. Each test runs the same fit on
// the first 1, 2, …, p ranks of the world and compares every bit with the p-rank result.
#include <gtest/gtest.h>

#include <cstring>

#include "../test_support.hpp"
#include "lloyd/generate.hpp"
#include "lloyd/kmeans/driver.hpp"

namespace lloyd {
namespace {

template <class T>
struct Snapshot {
  std::vector<T> centroids;
  std::vector<std::int32_t> labels;
  double inertia = 0;
  int n_iter = 0;
  std::vector<double> history;
};

// Generates the data and fits on `comm`; the snapshot is complete on every member.
template <class T>
Snapshot<T> fit_on(const Comm& comm, const KMeansOptions& options) {
  BlobOptions blobs;
  blobs.samples = 2777;  // not a multiple of the block size or of any rank count
  blobs.features = 7;
  blobs.centers = 5;
  blobs.cluster_std = 2.5;  // overlapping blobs: many iterations, many near ties
  blobs.seed = 4;
  const auto data = make_blobs<T>(comm, blobs);
  const auto result = fit_kmeans(comm, data.data, options);
  Snapshot<T> snap;
  snap.centroids.assign(result.centroids.data(), result.centroids.data() + result.centroids.size());
  snap.labels = test::gather_all(comm, result.labels);
  snap.inertia = result.inertia;
  snap.n_iter = result.n_iter;
  snap.history = result.inertia_history;
  return snap;
}

template <class T>
void expect_identical_for_every_rank_count(const KMeansOptions& options) {
  Comm world(MPI_COMM_WORLD);
  const Snapshot<T> full = fit_on<T>(world, options);
  EXPECT_GT(full.n_iter, 1);
  for (int ranks = 1; ranks < world.size(); ++ranks) {
    auto part = world.subset(world.rank() < ranks);
    if (!part) continue;
    const Snapshot<T> small = fit_on<T>(*part, options);
    EXPECT_EQ(std::memcmp(small.centroids.data(), full.centroids.data(),
                          full.centroids.size() * sizeof(T)),
              0)
        << ranks << " ranks vs " << world.size();
    EXPECT_EQ(std::memcmp(&small.inertia, &full.inertia, sizeof(double)), 0);
    EXPECT_EQ(small.labels, full.labels);
    EXPECT_EQ(small.n_iter, full.n_iter);
    EXPECT_EQ(small.history, full.history);
  }
}

KMeansOptions options_for(InitMethod init, int n_init = 1) {
  KMeansOptions options;
  options.k = 9;
  options.init = init;
  options.n_init = n_init;
  options.seed = 17;
  options.tol = 0;  // run to strict convergence: the longest path
  return options;
}

TEST(Reproducible, KMeansPlusPlusFloat64) {
  expect_identical_for_every_rank_count<double>(options_for(InitMethod::KMeansPlusPlus));
}
TEST(Reproducible, KMeansPlusPlusFloat32) {
  expect_identical_for_every_rank_count<float>(options_for(InitMethod::KMeansPlusPlus));
}
TEST(Reproducible, ForgyWithRestarts) {
  expect_identical_for_every_rank_count<double>(options_for(InitMethod::Forgy, 3));
}
TEST(Reproducible, KMeansParallelFloat32) {
  KMeansOptions options = options_for(InitMethod::KMeansParallel);
  options.oversampling = 3;  // few candidates per round: many rounds matter
  expect_identical_for_every_rank_count<float>(options);
}
TEST(Reproducible, KMeansParallelFloat64WithRestarts) {
  expect_identical_for_every_rank_count<double>(options_for(InitMethod::KMeansParallel, 2));
}
TEST(Reproducible, RandomPartitionFloat32) {
  expect_identical_for_every_rank_count<float>(options_for(InitMethod::RandomPartition));
}

}  // namespace
}  // namespace lloyd
