// A fit stopped on request and resumed from its checkpoint ends bit-identical to an
// uninterrupted fit — also when the resumed run uses another number of ranks.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>

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
  return {options, "k-means++", "generated", 3001, 5, "float64", 0x5eed};
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

TEST(Checkpoint, TheFingerprintIsTheSameForAnyNumberOfRanksAndFollowsTheContent) {
  Comm world(MPI_COMM_WORLD);
  const auto blobs = overlapping_blobs(world);
  const std::uint64_t everywhere = data_fingerprint(world, blobs.data);
  std::uint64_t alone_value = 0;
  if (auto alone = world.subset(world.rank() == 0)) {
    const auto all_rows = overlapping_blobs(*alone);
    alone_value = data_fingerprint(*alone, all_rows.data);
    // One value changed by one ulp, two rows swapped, the same values as float32: all differ.
    DenseShard<double> changed = all_rows.data;
    changed.rows.mutable_matrix()(1234, 3) = std::nextafter(changed.rows(1234, 3), 1e300);
    EXPECT_NE(data_fingerprint(*alone, changed), alone_value);
    DenseShard<double> swapped = all_rows.data;
    swapped.rows.mutable_matrix().row(5).swap(swapped.rows.mutable_matrix().row(6));
    EXPECT_NE(data_fingerprint(*alone, swapped), alone_value);
    DenseShard<float> narrow{all_rows.data.global_rows, 0, all_rows.data.rows.matrix().cast<float>()};
    EXPECT_NE(data_fingerprint(*alone, narrow), alone_value);
  }
  world.bcast(std::span<std::uint64_t>(&alone_value, 1), 0);
  EXPECT_EQ(everywhere, alone_value);
}

// A checkpoint written by the real writer, then edited on rank 0 as a damaged or forged
// file would be, then read back by every rank.
class DamagedCheckpoint : public testing::Test {
 protected:
  void SetUp() override {
    path_ = test::scratch_path(comm_, "damaged");
    const auto blobs = overlapping_blobs(comm_);
    // Stopped early in the second restart: every field is in use (a best restart exists).
    // Where that is depends on the seeds: count the first restart's iterations.
    int first_restart_iterations = 0;
    fit_kmeans<double>(comm_, blobs.data, options_, nullptr, [&](const IterationStats& s) {
      if (s.restart == 0) first_restart_iterations = std::max(first_restart_iterations, s.iteration);
    });
    write_checkpoint(comm_, path_, stopped_state(comm_, blobs.data, options_, first_restart_iterations + 2),
                     identity_of(options_));
  }
  void TearDown() override {
    comm_.barrier();
    if (comm_.rank() == 0) std::filesystem::remove(path_);
  }
  void edit(const std::function<void(hid_t)>& change) {
    if (comm_.rank() == 0) {
      Hid file(H5Fopen(path_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
      ASSERT_GE(file.get(), 0);
      change(file.get());
    }
    comm_.barrier();
  }
  void replace_dataset(const std::string& name, const std::vector<double>& values, hsize_t rows, hsize_t cols) {
    edit([&](hid_t file) {
      H5Ldelete(file, name.c_str(), H5P_DEFAULT);
      const hsize_t dims[2] = {rows, cols};
      Hid space(H5Screate_simple(cols ? 2 : 1, dims, nullptr), H5Sclose);
      Hid dataset(H5Dcreate2(file, name.c_str(), H5T_NATIVE_DOUBLE, space.get(), H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT),
                  H5Dclose);
      H5Dwrite(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    });
  }
  // read_checkpoint must refuse the file on every rank with a message holding `expected`.
  void expect_refused(const std::string& expected, const CheckpointIdentity& identity) {
    try {
      read_checkpoint<double>(comm_, path_, identity);
      ADD_FAILURE() << "the damaged checkpoint was accepted; expected: " << expected;
    } catch (const AgreedError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(expected), std::string::npos) << message;
      EXPECT_NE(message.find(path_), std::string::npos) << "the message must name the file: " << message;
    }
  }
  void expect_refused(const std::string& expected) { expect_refused(expected, identity_of(options_)); }

  Comm comm_{MPI_COMM_WORLD};
  KMeansOptions options_ = restarting_options();
  std::string path_;
};

TEST_F(DamagedCheckpoint, TheIntactFileIsAccepted) {
  const auto state = read_checkpoint<double>(comm_, path_, identity_of(options_));
  ASSERT_TRUE(state.has_value());
  EXPECT_TRUE(state->has_best);
  EXPECT_EQ(state->centroids.rows(), options_.k);
  EXPECT_TRUE(is_checkpoint_of(path_, identity_of(options_)));
}

TEST_F(DamagedCheckpoint, BestCentroidsOfTooFewRows) {
  replace_dataset("/best_centroids", std::vector<double>(15, 1.0), 3, 5);
  expect_refused("/best_centroids is 3 x 5; expected 8 x 5");
}

TEST_F(DamagedCheckpoint, CentroidsOfAnotherWidth) {
  replace_dataset("/centroids", std::vector<double>(8 * 4, 1.0), 8, 4);
  expect_refused("/centroids is 8 x 4; expected 8 x 5");
}

TEST_F(DamagedCheckpoint, NaNCentroids) {
  std::vector<double> values(8 * 5, 1.0);
  values[7] = std::numeric_limits<double>::quiet_NaN();
  replace_dataset("/centroids", values, 8, 5);
  expect_refused("/centroids: row 1 contains NaN (column 2)");
}

TEST_F(DamagedCheckpoint, FloatCentroidsForFloat64Data) {
  edit([](hid_t file) {
    H5Ldelete(file, "/previous_centroids", H5P_DEFAULT);
    const hsize_t dims[2] = {8, 5};
    const std::vector<float> values(40, 1.0f);
    Hid space(H5Screate_simple(2, dims, nullptr), H5Sclose);
    Hid dataset(H5Dcreate2(file, "/previous_centroids", H5T_NATIVE_FLOAT, space.get(), H5P_DEFAULT,
                           H5P_DEFAULT, H5P_DEFAULT),
                H5Dclose);
    H5Dwrite(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  });
  expect_refused("/previous_centroids holds 32-bit floats; expected float64");
}

TEST_F(DamagedCheckpoint, NegativeIteration) {
  edit([](hid_t file) { write_attribute(file, "iteration", std::int64_t{-5}); });
  expect_refused("attribute iteration = -5 lies outside [0, max_iter = 300)");
}

TEST_F(DamagedCheckpoint, HugeRestart) {
  edit([](hid_t file) { write_attribute(file, "restart", std::int64_t{1} << 40); });
  expect_refused("attribute restart = 1099511627776 lies outside [0, restarts = 3)");
}

TEST_F(DamagedCheckpoint, HistoryShorterThanTheIterations) {
  // One entry more than the iterations the checkpoint says were done.
  const auto intact = read_checkpoint<double>(comm_, path_, identity_of(options_));
  ASSERT_TRUE(intact.has_value());
  const std::size_t wrong = intact->inertia_history.size() + 1;
  replace_dataset("/inertia_history", std::vector<double>(wrong, 1.0), wrong, 0);
  expect_refused("/inertia_history is " + std::to_string(wrong) + "; expected");
}

TEST_F(DamagedCheckpoint, NegativeInertia) {
  edit([](hid_t file) {
    Hid dataset(H5Dopen2(file, "/restart_inertia", H5P_DEFAULT), H5Dclose);
    const double negative = -1;
    const hsize_t one = 1, first = 0;
    Hid memory(H5Screate_simple(1, &one, nullptr), H5Sclose);
    Hid space(H5Dget_space(dataset.get()), H5Sclose);
    H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, &first, nullptr, &one, nullptr);
    H5Dwrite(dataset.get(), H5T_NATIVE_DOUBLE, memory.get(), space.get(), H5P_DEFAULT, &negative);
  });
  expect_refused("/restart_inertia element 0 is negative");
}

TEST_F(DamagedCheckpoint, BestInertiaThatNoRestartHad) {
  edit([](hid_t file) { write_attribute(file, "best_inertia", 1.5); });
  expect_refused("best_inertia = 1.5 differs from /restart_inertia");
}

TEST_F(DamagedCheckpoint, InfiniteBestInertia) {
  edit([](hid_t file) { write_attribute(file, "best_inertia", std::numeric_limits<double>::infinity()); });
  expect_refused("attribute best_inertia is Inf");
}

TEST_F(DamagedCheckpoint, NoBestAfterARestartFinished) {
  edit([](hid_t file) { write_attribute(file, "has_best", std::int64_t{0}); });
  expect_refused("has_best = 0 does not fit restart = ");
}

TEST_F(DamagedCheckpoint, AnAttributeOfSeveralValues) {
  edit([](hid_t file) {
    H5Adelete(file, "k");
    const hsize_t three = 3;
    const std::int64_t values[3] = {8, 8, 8};
    Hid space(H5Screate_simple(1, &three, nullptr), H5Sclose);
    Hid attribute(H5Acreate2(file, "k", H5T_NATIVE_INT64, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    H5Awrite(attribute.get(), H5T_NATIVE_INT64, values);
  });
  expect_refused("attribute k is not a single integer");
}

TEST_F(DamagedCheckpoint, AnOlderFormat) {
  edit([](hid_t file) { write_attribute(file, "format_version", std::int64_t{1}); });
  expect_refused("has format version 1; this lloyd reads version 3");
}

TEST_F(DamagedCheckpoint, OtherDataOfTheSameShape) {
  CheckpointIdentity other = identity_of(options_);
  other.data_fingerprint ^= 1;
  expect_refused("was written for other data (the same shape, other values)", other);
  EXPECT_FALSE(is_checkpoint_of(path_, other));
}

TEST_F(DamagedCheckpoint, OtherDataOfAnotherShape) {
  CheckpointIdentity other = identity_of(options_);
  other.n_samples = 3000;
  expect_refused("was written for other data (3001 x 5 float64, now 3000 x 5 float64)", other);
}

TEST_F(DamagedCheckpoint, TheInputPathIsNotPartOfTheIdentity) {
  CheckpointIdentity moved = identity_of(options_);
  moved.input = "elsewhere.h5:/X";
  EXPECT_TRUE(read_checkpoint<double>(comm_, path_, moved).has_value());
  EXPECT_TRUE(is_checkpoint_of(path_, moved));
}

TEST(Checkpoint, OnlyACheckpointOfThisFitIsRecognised) {
  Comm comm(MPI_COMM_WORLD);
  const KMeansOptions options = restarting_options();
  // The data file, a directory, a missing path and a FIFO are not checkpoints (and a FIFO
  // must not block the question).
  EXPECT_FALSE(is_checkpoint_of(test::data_path("bad/good.h5"), identity_of(options)));
  EXPECT_FALSE(is_checkpoint_of(test::data_path("bad"), identity_of(options)));
  EXPECT_FALSE(is_checkpoint_of(test::data_path("bad/absent.h5"), identity_of(options)));
  const std::string fifo = test::scratch_path(comm, "fifo");
  if (comm.rank() == 0) {
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  }
  comm.barrier();
  EXPECT_FALSE(is_checkpoint_of(fifo, identity_of(options)));
  try {
    read_checkpoint<double>(comm, fifo, identity_of(options));
    ADD_FAILURE() << "a FIFO was read as a checkpoint";
  } catch (const AgreedError& e) {
    EXPECT_NE(std::string(e.what()).find("is not a regular file"), std::string::npos) << e.what();
  }
  try {
    read_checkpoint<double>(comm, test::data_path("bad/good.h5"), identity_of(options));
    ADD_FAILURE() << "a data file was read as a checkpoint";
  } catch (const AgreedError& e) {
    EXPECT_NE(std::string(e.what()).find("is not a lloyd checkpoint"), std::string::npos) << e.what();
  }
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove(fifo);
}

}  // namespace
}  // namespace lloyd
