// A fit stopped on request and resumed from its checkpoint ends bit-identical to an
// uninterrupted fit — also when the resumed run uses another number of ranks.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "../test_support.hpp"
#include "lloyd/generate.hpp"
#include "lloyd/kmeans/driver.hpp"

namespace lloyd {
namespace {

Blobs<double> overlapping_blobs(const Comm& comm) {
  BlobOptions blobs;
  blobs.samples = 3001;
  blobs.features = 5;
  blobs.centers = 6;
  blobs.cluster_std = 3.0;  // overlapping: many iterations before convergence
  blobs.seed = 12;
  return make_blobs<double>(comm, blobs);
}

KMeansOptions restarting_options() {
  KMeansOptions options;
  options.k = 8;
  options.init = InitMethod::KMeansPlusPlus;
  options.n_init = 3;
  options.tol = 0;
  options.seed = 21;
  return options;
}

CheckpointIdentity identity_of(const KMeansOptions& options) {
  return {options, "k-means++", "generated", 3001, 5, "float64"};
}

void expect_same_fit(const KMeansResult<double>& a, const KMeansResult<double>& b) {
  EXPECT_TRUE(a.centroids == b.centroids);
  EXPECT_EQ(std::memcmp(&a.inertia, &b.inertia, sizeof(double)), 0);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.n_iter, b.n_iter);
  EXPECT_EQ(a.best_restart, b.best_restart);
  EXPECT_EQ(a.restart_inertia, b.restart_inertia);
  EXPECT_EQ(a.inertia_history, b.inertia_history);
  EXPECT_EQ(a.center_shift_history, b.center_shift_history);
}

// Fits with a stop request after `stop_after` polls; returns the saved state.
FitState<double> stopped_state(const Comm& comm, const DenseShard<double>& shard,
                               const KMeansOptions& options, int stop_after) {
  FitControl<double> control;
  int polls = 0;
  FitState<double> saved;
  control.stop_requested = [&] { return ++polls > stop_after; };
  control.save = [&](const FitState<double>& state) { saved = state; };
  const auto result = fit_kmeans<double>(comm, shard, options, nullptr, {}, control);
  EXPECT_TRUE(result.interrupted);
  return saved;
}

TEST(Checkpoint, ResumedFitEqualsUninterruptedFitForEveryStopPoint) {
  Comm comm(MPI_COMM_WORLD);
  const auto blobs = overlapping_blobs(comm);
  const KMeansOptions options = restarting_options();
  const auto full = fit_kmeans(comm, blobs.data, options);
  ASSERT_GT(full.n_iter, 5);
  // Stops early in restart 0, mid-way, and late (in a later restart).
  for (int stop_after : {1, 7, full.n_iter + 3}) {
    const FitState<double> state = stopped_state(comm, blobs.data, options, stop_after);
    FitControl<double> resume;
    resume.resume = &state;
    const auto resumed = fit_kmeans<double>(comm, blobs.data, options, nullptr, {}, resume);
    ASSERT_FALSE(resumed.interrupted);
    expect_same_fit(resumed, full);
  }
}

TEST(Checkpoint, FileRoundTripAndResumeOnAnotherRankCount) {
  Comm world(MPI_COMM_WORLD);
  const KMeansOptions options = restarting_options();
  const std::string path = test::scratch_path(world, "checkpoint");
  {
    const auto blobs = overlapping_blobs(world);
    const FitState<double> state = stopped_state(world, blobs.data, options, 9);
    write_checkpoint(world, path, state, identity_of(options));
  }
  // Resume on the first rank only (a different layout) and compare with a fresh full fit.
  auto alone = world.subset(world.rank() == 0);
  if (alone) {
    const auto blobs = overlapping_blobs(*alone);
    const auto state = read_checkpoint<double>(*alone, path, identity_of(options));
    ASSERT_TRUE(state.has_value());
    FitControl<double> resume;
    resume.resume = &*state;
    const auto resumed = fit_kmeans<double>(*alone, blobs.data, options, nullptr, {}, resume);
    expect_same_fit(resumed, fit_kmeans(*alone, blobs.data, options));
  }
  world.barrier();
  if (world.rank() == 0) std::filesystem::remove(path);
}

TEST(Checkpoint, ACheckpointOfAnotherFitIsRefused) {
  Comm comm(MPI_COMM_WORLD);
  const KMeansOptions options = restarting_options();
  const std::string path = test::scratch_path(comm, "foreign");
  const auto blobs = overlapping_blobs(comm);
  write_checkpoint(comm, path, stopped_state(comm, blobs.data, options, 2), identity_of(options));
  KMeansOptions other = options;
  other.seed = 22;
  try {
    read_checkpoint<double>(comm, path, identity_of(other));
    FAIL() << "a checkpoint of another seed was accepted";
  } catch (const AgreedError& e) {
    EXPECT_NE(std::string(e.what()).find("--seed"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(read_checkpoint<double>(comm, path + ".missing", identity_of(options)).has_value());
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove(path);
}

}  // namespace
}  // namespace lloyd
