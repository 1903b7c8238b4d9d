// Results do not depend on the number of threads per rank either (--threads).
#include <gtest/gtest.h>

#include <cstring>

#include "../test_support.hpp"
#include "lloyd/generate.hpp"
#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/driver.hpp"

namespace lloyd {
namespace {

template <class T>
void expect_identical_for_every_thread_count() {
  Comm comm(MPI_COMM_WORLD);
  BlobOptions blobs;
  blobs.samples = 5003;  // many blocks, an uneven last one
  blobs.features = 6;
  blobs.centers = 7;
  blobs.cluster_std = 2.5;
  blobs.seed = 31;
  const auto data = make_blobs<T>(comm, blobs);
  KMeansOptions options;
  options.k = 9;
  options.seed = 5;
  options.tol = 0;
  set_threads(1);
  const auto single = fit_kmeans(comm, data.data, options);
  for (int threads : {2, 3, 5}) {
    set_threads(threads);
    const auto multi = fit_kmeans(comm, data.data, options);
    EXPECT_TRUE(multi.centroids == single.centroids) << threads << " threads";
    EXPECT_EQ(std::memcmp(&multi.inertia, &single.inertia, sizeof(double)), 0);
    EXPECT_EQ(multi.labels, single.labels);
    EXPECT_EQ(multi.inertia_history, single.inertia_history);
  }
  set_threads(1);
}

TEST(Threads, Float64ResultsIdenticalForAnyThreadCount) { expect_identical_for_every_thread_count<double>(); }
TEST(Threads, Float32ResultsIdenticalForAnyThreadCount) { expect_identical_for_every_thread_count<float>(); }

}  // namespace
}  // namespace lloyd
