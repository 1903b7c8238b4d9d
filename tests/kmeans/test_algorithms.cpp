// The pruned algorithms (Hamerly, Yinyang) are exact: from the same start they give the
// same labels, centroids, inertia and iteration count as Lloyd, bit for bit, at any rank
// and thread count; only the per-iteration inertia comes from the cluster sums.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../test_support.hpp"
#include "lloyd/generate.hpp"
#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/bounded.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/kmeans/selection.hpp"

namespace lloyd {
namespace {

struct Problem {
  const char* name;
  std::uint64_t samples;
  int features;
  int centers, k;
  double cluster_std;
  InitMethod init;
};

// Overlapping blobs and more centres than blobs: many iterations, many label changes. k = 40
// gives Yinyang four groups.
const Problem kProblems[] = {
    {"overlapping", 5003, 6, 7, 9, 2.5, InitMethod::Forgy},
    {"many-centres", 4001, 32, 30, 40, 1.5, InitMethod::KMeansPlusPlus},
    {"low-dimension", 3007, 2, 5, 20, 1.0, InitMethod::Forgy},
};

template <class T>
void expect_same_fit(const KMeansResult<T>& pruned, const KMeansResult<T>& lloyd, const char* what) {
  SCOPED_TRACE(what);
  EXPECT_TRUE(pruned.centroids == lloyd.centroids);
  EXPECT_EQ(pruned.labels, lloyd.labels);
  EXPECT_EQ(std::memcmp(&pruned.inertia, &lloyd.inertia, sizeof(double)), 0)
      << pruned.inertia << " vs " << lloyd.inertia;
  EXPECT_EQ(pruned.n_iter, lloyd.n_iter);
  EXPECT_EQ(pruned.converged, lloyd.converged);
  EXPECT_EQ(pruned.center_shift_history, lloyd.center_shift_history);
  ASSERT_EQ(pruned.inertia_history.size(), lloyd.inertia_history.size());
  for (std::size_t i = 0; i < lloyd.inertia_history.size(); ++i)
    EXPECT_NEAR(pruned.inertia_history[i], lloyd.inertia_history[i], 1e-10 * lloyd.inertia_history[i])
        << "iteration " << i + 1;
}

template <class T>
void expect_pruned_equal_lloyd() {
  Comm comm(MPI_COMM_WORLD);
  for (const Problem& problem : kProblems) {
    BlobOptions blobs;
    blobs.samples = problem.samples;
    blobs.features = problem.features;
    blobs.centers = problem.centers;
    blobs.cluster_std = problem.cluster_std;
    blobs.seed = 17;
    const auto data = make_blobs<T>(comm, blobs);
    KMeansOptions options;
    options.k = problem.k;
    options.init = problem.init;
    options.seed = 3;
    options.tol = 0;
    options.max_iter = 60;
    options.algorithm = Algorithm::Lloyd;
    const auto lloyd = fit_kmeans(comm, data.data, options);
    EXPECT_GT(lloyd.n_iter, 3) << problem.name;
    for (Algorithm algorithm : {Algorithm::Hamerly, Algorithm::Yinyang, Algorithm::Auto}) {
      options.algorithm = algorithm;
      const auto pruned = fit_kmeans(comm, data.data, options);
      expect_same_fit(pruned, lloyd, (std::string(problem.name) + " " + to_string(algorithm)).c_str());
      EXPECT_EQ(pruned.algorithm, choose_algorithm(algorithm, options.k, problem.features));
      // They prune: fewer distances than Lloyd's n·k per iteration.
      const double computed = comm.allreduce(static_cast<double>(pruned.pruning.distances), MPI_SUM);
      EXPECT_LT(computed, 0.8 * static_cast<double>(problem.samples) * options.k * pruned.n_iter)
          << problem.name << " " << to_string(algorithm);
      // Of them, the rows scored against every centre (k distances each; the rest is one
      // distance per tightened row): some (the first assignment scores every row), within the
      // distances computed.
      const double rescored = comm.allreduce(static_cast<double>(pruned.pruning.rows_rescored), MPI_SUM);
      EXPECT_GE(rescored, static_cast<double>(problem.samples)) << problem.name << " " << to_string(algorithm);
      EXPECT_LE(rescored * options.k, computed) << problem.name << " " << to_string(algorithm);
      EXPECT_GT(pruned.bound_bytes, 0u);
    }
  }
}

TEST(PrunedAlgorithms, Float64SameResultAsLloyd) { expect_pruned_equal_lloyd<double>(); }
TEST(PrunedAlgorithms, Float32SameResultAsLloyd) { expect_pruned_equal_lloyd<float>(); }

Blobs<double> small_blobs(const Comm& comm) {
  BlobOptions blobs;
  blobs.samples = 2999;
  blobs.features = 4;
  blobs.centers = 6;
  blobs.cluster_std = 2.0;
  blobs.seed = 8;
  return make_blobs<double>(comm, blobs);
}

TEST(PrunedAlgorithms, SameResultForAnyThreadCount) {
  Comm comm(MPI_COMM_WORLD);
  const auto data = small_blobs(comm);
  KMeansOptions options;
  options.k = 25;
  options.tol = 0;
  options.algorithm = Algorithm::Yinyang;
  set_threads(1);
  const auto single = fit_kmeans(comm, data.data, options);
  set_threads(3);
  const auto multi = fit_kmeans(comm, data.data, options);
  set_threads(1);
  expect_same_fit(multi, single, "3 threads");
  EXPECT_EQ(multi.inertia_history, single.inertia_history);
}

TEST(PrunedAlgorithms, EmptyClustersRelocatedLikeLloyd) {
  Comm comm(MPI_COMM_WORLD);
  const auto data = small_blobs(comm);
  // Three copies of one row and a far-away point: clusters that start empty.
  const std::vector<std::uint64_t> rows = {0, 0, 0, 10, 20, 30, 40};
  RowMatrix<double> initial = rows_as_matrix(comm, data.data, rows);
  initial.row(6).setConstant(1e3);
  KMeansOptions options;
  options.k = static_cast<int>(initial.rows());
  options.tol = 0;
  options.max_iter = 40;
  const auto lloyd = fit_kmeans(comm, data.data, options, &initial);
  for (Algorithm algorithm : {Algorithm::Hamerly, Algorithm::Yinyang}) {
    options.algorithm = algorithm;
    expect_same_fit(fit_kmeans(comm, data.data, options, &initial), lloyd, to_string(algorithm));
  }
}

TEST(PrunedAlgorithms, ResumedFitEqualsUninterruptedFit) {
  Comm comm(MPI_COMM_WORLD);
  const auto data = small_blobs(comm);
  KMeansOptions options;
  options.k = 12;
  options.n_init = 2;
  options.tol = 0;
  options.seed = 4;
  options.algorithm = Algorithm::Hamerly;
  const auto full = fit_kmeans(comm, data.data, options);
  ASSERT_GT(full.n_iter, 4);
  FitControl<double> control;
  int polls = 0;
  FitState<double> saved;
  control.stop_requested = [&] { return ++polls > 3; };
  control.save = [&](const FitState<double>& state) { saved = state; };
  ASSERT_TRUE(fit_kmeans<double>(comm, data.data, options, nullptr, {}, control).interrupted);
  FitControl<double> resume;
  resume.resume = &saved;
  const auto resumed = fit_kmeans<double>(comm, data.data, options, nullptr, {}, resume);
  expect_same_fit(resumed, full, "resumed");
  EXPECT_EQ(resumed.inertia_history, full.inertia_history);
}

TEST(PrunedAlgorithms, CentreGroupsCoverEveryCentreOnce) {
  RowMatrix<double> centres(23, 3);
  for (Eigen::Index c = 0; c < centres.rows(); ++c)
    centres.row(c) << std::sin(c), std::cos(3.0 * c), 0.1 * c;
  const std::vector<int> groups = group_centres(centres, 4);
  ASSERT_EQ(groups.size(), 23u);
  const int count = *std::max_element(groups.begin(), groups.end()) + 1;
  EXPECT_GE(count, 2);
  EXPECT_LE(count, 4);
  for (int g = 0; g < count; ++g) EXPECT_NE(std::count(groups.begin(), groups.end(), g), 0) << g;
  EXPECT_EQ(group_centres(centres, 4), groups);  // deterministic
  EXPECT_EQ(group_centres(centres, 1), std::vector<int>(23, 0));
}

TEST(PrunedAlgorithms, NamesAndAutomaticChoice) {
  EXPECT_EQ(parse_algorithm("hamerly"), Algorithm::Hamerly);
  EXPECT_EQ(parse_algorithm("yinyang"), Algorithm::Yinyang);
  EXPECT_EQ(parse_algorithm("elkan"), Algorithm::Hamerly);  // scikit-learn's name of the pruned exact algorithm
  EXPECT_THROW(parse_algorithm("elkan "), std::invalid_argument);
  EXPECT_EQ(choose_algorithm(Algorithm::Lloyd, 100, 10), Algorithm::Lloyd);
  EXPECT_NE(choose_algorithm(Algorithm::Auto, 64, 32), Algorithm::Auto);
}

}  // namespace
}  // namespace lloyd
