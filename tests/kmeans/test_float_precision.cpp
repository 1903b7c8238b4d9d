// The same data as float64 and rounded to float32 must give the same seeds and so the same
// fit (item 13 of issue 15; scikit-learn's test_float_precision): a D² draw is a uniform
// integer scaled to the exact total (scaled_draw), continuous in the weights, where u mod
// total reshuffled every draw at the slightest change of the total.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "../test_support.hpp"
#include "lloyd/generate.hpp"
#include "lloyd/kmeans/bisecting.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/kmeans/init.hpp"
#include "lloyd/rng.hpp"

namespace lloyd {
namespace {

TEST(ScaledDraw, IsTheHighHalfOfTheProductAndMonotoneInTheTotal) {
  EXPECT_EQ(scaled_draw(0, 1000), 0u);
  EXPECT_EQ(scaled_draw(std::uint64_t{1} << 63, 1000), 500u);
  EXPECT_EQ(scaled_draw(~std::uint64_t{0}, 1000), 999u);
  const UInt128 wide = (static_cast<UInt128>(3) << 100) + 12345;
  EXPECT_EQ(scaled_draw(std::uint64_t{1} << 62, wide), wide / 4);
  EXPECT_LT(scaled_draw(~std::uint64_t{0}, wide), wide);
  // A total changed in its last digits moves a draw by about as little (u mod total would
  // move it anywhere).
  const std::uint64_t u = 0x9e3779b97f4a7c15ull;
  const UInt128 total = static_cast<UInt128>(1) << 80, nudged = total + total / 10'000'000;
  EXPECT_LE(scaled_draw(u, nudged) - scaled_draw(u, total), total / 10'000'000);
}

template <class T>
DenseShard<T> cast_shard(const DenseShard<double>& shard) {
  DenseShard<T> out;
  out.global_rows = shard.global_rows;
  out.first_row = shard.first_row;
  out.rows = shard.rows.matrix().cast<T>();
  return out;
}

// scikit-learn's data for test_float_precision (make_blobs of 100 rows around three centres
// in 5-D, std 1), made larger; and uniform data, where other seeds end in other local minima.
DenseShard<double> blobs(const Comm& comm) {
  return make_blobs<double>(comm, BlobOptions{.samples = 1000, .features = 5, .centers = 3, .cluster_std = 1.0, .seed = 42})
      .data;
}
DenseShard<double> uniform(const Comm& comm) {
  const std::uint64_t n = 777;
  const Eigen::Index d = 3;
  const RowRange mine = block_rows(n, comm.size(), comm.rank());
  DenseShard<double> shard;
  shard.global_rows = n;
  shard.first_row = mine.begin;
  shard.rows.resize(static_cast<Eigen::Index>(mine.size()), d);
  const CounterRng rng(3);
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
    for (Eigen::Index j = 0; j < d; ++j) shard.rows.mutable_matrix()(i, j) = rng.uniform(0, shard.global_index(i) * d + j);
  return shard;
}

// Labels equal, centres within float32 precision of the largest centre coordinate (as
// scikit-learn's assert_allclose(atol=centers.max() * 1e-4), but tighter).
void expect_same_fit(const RowMatrix<float>& centres32, const RowMatrix<double>& centres64,
                     const std::vector<std::int32_t>& labels32, const std::vector<std::int32_t>& labels64,
                     const std::string& what) {
  EXPECT_EQ(labels32, labels64) << what;
  ASSERT_EQ(centres32.rows(), centres64.rows());
  const double scale = centres64.cwiseAbs().maxCoeff();
  for (Eigen::Index c = 0; c < centres64.rows(); ++c)
    for (Eigen::Index j = 0; j < centres64.cols(); ++j)
      EXPECT_NEAR(centres32(c, j), centres64(c, j), 1e-5 * scale) << what << " centre " << c << " feature " << j;
}

TEST(FloatPrecision, KMeansPlusPlusPicksTheSameRowsInFloat32AndFloat64) {
  Comm comm(MPI_COMM_WORLD);
  for (const auto& [name, data] : {std::pair{"blobs", blobs(comm)}, std::pair{"uniform", uniform(comm)}}) {
    const DenseShard<float> data32 = cast_shard<float>(data);
    const DataSummary summary64 = summarize(comm, data), summary32 = summarize(comm, data32);
    for (const int k : {3, 8}) {
      for (std::uint64_t seed = 0; seed < 4; ++seed) {
        const RowMatrix<double> seeds64 =
            initial_centres(comm, data, InitMethod::KMeansPlusPlus, k, seed, 0, summary64.fixed);
        const RowMatrix<float> seeds32 =
            initial_centres(comm, data32, InitMethod::KMeansPlusPlus, k, seed, 0, summary32.fixed);
        // The same rows: each float32 seed is the rounding of the float64 one.
        EXPECT_EQ(seeds32, seeds64.cast<float>()) << name << " k=" << k << " seed=" << seed;
      }
    }
  }
}

TEST(FloatPrecision, FitsAgreeInFloat32AndFloat64) {
  Comm comm(MPI_COMM_WORLD);
  for (const auto& [name, data] : {std::pair{"blobs", blobs(comm)}, std::pair{"uniform", uniform(comm)}}) {
    const DenseShard<float> data32 = cast_shard<float>(data);
    for (const int k : {3, 8}) {
      for (std::uint64_t seed = 0; seed < 3; ++seed) {
        KMeansOptions options;
        options.k = k;
        options.seed = seed;
        const std::string what = std::string(name) + " k=" + std::to_string(k) + " seed=" + std::to_string(seed);
        const auto fit64 = fit_kmeans(comm, data, options);
        const auto fit32 = fit_kmeans(comm, data32, options);
        expect_same_fit(fit32.centroids, fit64.centroids, test::gather_all(comm, fit32.labels),
                        test::gather_all(comm, fit64.labels), "k-means++ " + what);
        EXPECT_NEAR(fit32.inertia, fit64.inertia, 1e-4 * fit64.inertia) << what;

        const auto bisect64 = fit_bisecting(comm, data, options, BisectingStrategy::BiggestInertia);
        const auto bisect32 = fit_bisecting(comm, data32, options, BisectingStrategy::BiggestInertia);
        expect_same_fit(bisect32.centroids, bisect64.centroids, test::gather_all(comm, bisect32.labels),
                        test::gather_all(comm, bisect64.labels), "bisecting " + what);
      }
    }
  }
}

}  // namespace
}  // namespace lloyd
