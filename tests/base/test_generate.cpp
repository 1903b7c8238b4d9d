#include <gtest/gtest.h>

#include "../test_support.hpp"
#include "lloyd/generate.hpp"

namespace lloyd {
namespace {

BlobOptions blob_options(std::uint64_t samples, int features, int centers, std::uint64_t seed) {
  BlobOptions options;
  options.samples = samples;
  options.features = features;
  options.centers = centers;
  options.seed = seed;
  return options;
}

TEST(Generate, BlobSizesFollowMakeBlobsAndRowsSitAroundTheirCentre) {
  Comm comm(MPI_COMM_WORLD);
  BlobOptions options = blob_options(1003, 3, 4, 2);
  options.cluster_std = 0.5;
  const auto blobs = make_blobs<double>(comm, options);
  std::vector<std::int64_t> sizes(4, 0);
  std::vector<double> sum_sq(1, 0.0);
  for (Eigen::Index i = 0; i < blobs.data.local_rows(); ++i) {
    const auto c = blobs.truth[static_cast<std::size_t>(i)];
    ++sizes[static_cast<std::size_t>(c)];
    sum_sq[0] += (blobs.data.rows.row(i) - blobs.centers.row(c)).squaredNorm();
  }
  comm.allreduce(std::span<std::int64_t>(sizes), MPI_SUM);
  comm.allreduce(std::span<double>(sum_sq), MPI_SUM);
  // make_blobs: n // C rows each, the first n % C blobs one more.
  EXPECT_EQ(sizes, (std::vector<std::int64_t>{251, 251, 251, 250}));
  // Mean squared distance to the own centre is d·σ².
  EXPECT_NEAR(sum_sq[0] / 1003, 3 * 0.25, 0.1);
  for (Eigen::Index c = 0; c < 4; ++c)
    EXPECT_LE(blobs.centers.row(c).cwiseAbs().maxCoeff(), 10.0);
}

TEST(Generate, IdenticalForEveryRankCount) {
  Comm world(MPI_COMM_WORLD);
  const BlobOptions options = blob_options(517, 5, 3, 8);
  auto flatten = [&](const Comm& comm) {
    const auto blobs = make_blobs<float>(comm, options);
    std::vector<float> local(blobs.data.rows.data(), blobs.data.rows.data() + blobs.data.rows.size());
    return std::make_pair(test::gather_all(comm, local), test::gather_all(comm, blobs.truth));
  };
  const auto full = flatten(world);
  EXPECT_EQ(full.first.size(), 517u * 5);
  for (int ranks = 1; ranks < world.size(); ++ranks) {
    auto part = world.subset(world.rank() < ranks);
    if (!part) continue;
    const auto small = flatten(*part);
    EXPECT_EQ(small.first, full.first);
    EXPECT_EQ(small.second, full.second);
  }
}

}  // namespace
}  // namespace lloyd
