// k-means|| seeding (rank-count invariance is in test_reproducible.cpp).
#include <gtest/gtest.h>

#include <set>

#include "../test_support.hpp"
#include "lloyd/generate.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/kmeans/init.hpp"

namespace lloyd {
namespace {

Blobs<double> blobs(const Comm& comm, int centers, double std, std::uint64_t samples = 4001) {
  return make_blobs<double>(comm, BlobOptions{.samples = samples, .features = 5, .centers = centers,
                                              .cluster_std = std, .seed = 21});
}

// The blob whose true centre is nearest to `point`.
std::int32_t nearest_blob(const RowMatrix<double>& centers, const double* point) {
  Eigen::Index best = 0;
  for (Eigen::Index c = 1; c < centers.rows(); ++c)
    if ((centers.row(c) - Eigen::Map<const Eigen::RowVectorXd>(point, centers.cols())).squaredNorm() <
        (centers.row(best) - Eigen::Map<const Eigen::RowVectorXd>(point, centers.cols())).squaredNorm())
      best = c;
  return static_cast<std::int32_t>(best);
}

TEST(KMeansParallel, PutsOneCentreInEveryWellSeparatedBlob) {
  Comm comm(MPI_COMM_WORLD);
  const auto data = blobs(comm, 12, 0.2);
  const DataSummary summary = summarize(comm, data.data);
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    const auto centres = initial_centres(comm, data.data, InitMethod::KMeansParallel, 12, seed, 0,
                                         summary.fixed);
    ASSERT_EQ(centres.rows(), 12);
    std::set<std::int32_t> hit;
    for (Eigen::Index c = 0; c < 12; ++c) hit.insert(nearest_blob(data.centers, centres.row(c).data()));
    EXPECT_EQ(hit.size(), 12u) << "seed " << seed;
  }
}

TEST(KMeansParallel, OneRoundOfFewCandidatesStillGivesKCentres) {
  // ℓ = 1, one round: about two candidates, fewer than k: falls back to k-means++.
  Comm comm(MPI_COMM_WORLD);
  const auto data = blobs(comm, 4, 1.0, 500);
  const DataSummary summary = summarize(comm, data.data);
  const auto centres = initial_centres(comm, data.data, InitMethod::KMeansParallel, 9, 3, 0,
                                       summary.fixed, {1.0, 1});
  EXPECT_EQ(centres.rows(), 9);
  EXPECT_TRUE(centres.allFinite());
}

TEST(KMeansParallel, KEqualsNPicksEveryRow) {
  // Every row is sampled with probability 1 once ℓ·D²/ψ ≥ 1: the candidates are the rows.
  Comm comm(MPI_COMM_WORLD);
  const auto data = blobs(comm, 3, 1.0, 7);
  KMeansOptions options;
  options.k = 7;
  options.init = InitMethod::KMeansParallel;
  options.oversampling = 100;
  const auto result = fit_kmeans(comm, data.data, options);
  EXPECT_EQ(result.init_inertia, 0.0);  // the centres are the rows themselves
  EXPECT_LT(result.inertia, 1e-20);      // means of one row, through fixed point
}

TEST(KMeansParallel, ReportsTheSeedingCostForEveryInit) {
  Comm comm(MPI_COMM_WORLD);
  const auto data = blobs(comm, 6, 1.5);
  for (const InitMethod init : {InitMethod::KMeansParallel, InitMethod::KMeansPlusPlus,
                                InitMethod::Forgy, InitMethod::RandomPartition}) {
    KMeansOptions options;
    options.k = 6;
    options.init = init;
    options.seed = 2;
    const auto result = fit_kmeans(comm, data.data, options);
    ASSERT_FALSE(result.inertia_history.empty());
    // The seeding cost is the inertia of the assignment to the initial centres.
    const RowMatrix<double> initial = initial_centres(comm, data.data, init, 6, 2, 0,
                                                      summarize(comm, data.data).fixed);
    std::vector<std::int32_t> labels;
    EXPECT_EQ(result.init_inertia, predict_labels(comm, data.data, initial, labels)) << to_string(init);
    EXPECT_GE(result.init_inertia, result.inertia) << to_string(init);
  }
}

TEST(KMeansParallel, FinalInertiaComparableToKMeansPlusPlus) {
  Comm comm(MPI_COMM_WORLD);
  const auto data = blobs(comm, 10, 1.0, 6000);
  KMeansOptions options;
  options.k = 10;
  options.seed = 4;
  options.init = InitMethod::KMeansPlusPlus;
  const double plus_plus = fit_kmeans(comm, data.data, options).inertia;
  options.init = InitMethod::KMeansParallel;
  const double parallel = fit_kmeans(comm, data.data, options).inertia;
  EXPECT_LT(parallel, 1.01 * plus_plus);
}

TEST(KMeansParallel, ParsesItsName) {
  EXPECT_EQ(parse_init_method("k-means||"), InitMethod::KMeansParallel);
  EXPECT_STREQ(to_string(InitMethod::KMeansParallel), "k-means||");
}

}  // namespace
}  // namespace lloyd
