// Results do not depend on the number of threads per rank either (--threads).
#include <gtest/gtest.h>

#include <cstring>

#include "../test_support.hpp"
#include "lloyd/generate.hpp"
#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/driver.hpp"

namespace lloyd {
namespace {

// Every kernel shares its rows among the threads: the direct scores (d ≤ 16), the tiles
// (d > 16), and the batches of Hamerly's and Yinyang's bounds (the first assignment scores
// every row in batches, the later ones only the rows their bounds leave open).
template <class T>
void expect_identical_for_every_thread_count(Eigen::Index features, Algorithm algorithm, int k,
                                             InitMethod init = KMeansOptions{}.init) {
  Comm comm(MPI_COMM_WORLD);
  BlobOptions blobs;
  blobs.samples = 5003;  // many blocks, an uneven last one
  blobs.features = features;
  blobs.centers = 7;
  blobs.cluster_std = 2.5;
  blobs.seed = 31;
  const auto data = make_blobs<T>(comm, blobs);
  KMeansOptions options;
  options.k = k;
  options.seed = 5;
  options.tol = 0;
  options.max_iter = 8;  // the bounds in use from the second assignment on
  options.algorithm = algorithm;
  options.init = init;
  set_threads(1);
  const auto single = fit_kmeans(comm, data.data, options);
  ASSERT_GT(single.n_iter, 2);
  for (int threads : {2, 3, 5}) {
    set_threads(threads);
    const auto multi = fit_kmeans(comm, data.data, options);
    EXPECT_TRUE(multi.centroids == single.centroids) << threads << " threads";
    EXPECT_EQ(std::memcmp(&multi.inertia, &single.inertia, sizeof(double)), 0);
    EXPECT_EQ(multi.labels, single.labels);
    EXPECT_EQ(multi.inertia_history, single.inertia_history);
    EXPECT_EQ(multi.n_iter, single.n_iter);
  }
  set_threads(1);
}

TEST(Threads, Float64ResultsIdenticalForAnyThreadCount) {
  expect_identical_for_every_thread_count<double>(6, Algorithm::Lloyd, 9);
}
TEST(Threads, Float32ResultsIdenticalForAnyThreadCount) {
  expect_identical_for_every_thread_count<float>(6, Algorithm::Lloyd, 9);
}
TEST(Threads, TileKernelIdenticalForAnyThreadCount) {
  expect_identical_for_every_thread_count<float>(40, Algorithm::Lloyd, 9);
  expect_identical_for_every_thread_count<double>(17, Algorithm::Lloyd, 9);
}
// k-means|| shares its rows among the threads too (direct scores and tiles).
TEST(Threads, KMeansParallelSeedingIdenticalForAnyThreadCount) {
  expect_identical_for_every_thread_count<float>(6, Algorithm::Lloyd, 9, InitMethod::KMeansParallel);
  expect_identical_for_every_thread_count<double>(40, Algorithm::Lloyd, 9, InitMethod::KMeansParallel);
}
TEST(Threads, HamerlyBatchesIdenticalForAnyThreadCount) {
  expect_identical_for_every_thread_count<float>(6, Algorithm::Hamerly, 9);
  expect_identical_for_every_thread_count<double>(6, Algorithm::Hamerly, 9);
  expect_identical_for_every_thread_count<float>(40, Algorithm::Hamerly, 9);
  expect_identical_for_every_thread_count<double>(40, Algorithm::Hamerly, 9);
}
TEST(Threads, YinyangBatchesIdenticalForAnyThreadCount) {
  expect_identical_for_every_thread_count<float>(6, Algorithm::Yinyang, 40);
  expect_identical_for_every_thread_count<double>(40, Algorithm::Yinyang, 40);
}

}  // namespace
}  // namespace lloyd
