// Every mode runs through the one loop (kmeans/engine.hpp), so every mode checkpoints: a
// fit stopped on request after any iteration, written to a checkpoint file and resumed from
// it, ends bit-identical to an uninterrupted fit — spherical, K-medians (with restarts),
// mini-batch, K-medoids (alternate and PAM), the pruned algorithms and bisecting K-Means.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <functional>

#include "../test_support.hpp"
#include "lloyd/generate.hpp"
#include "lloyd/kmeans/bisecting.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/kmeans/kmedians.hpp"
#include "lloyd/kmeans/kmedoids.hpp"
#include "lloyd/kmeans/minibatch.hpp"
#include "lloyd/kmeans/spherical.hpp"

namespace lloyd {
namespace {

DenseShard<double> blobs(const Comm& comm, std::uint64_t samples, double cluster_std = 2.5) {
  BlobOptions options;
  options.samples = samples;
  options.features = 4;
  options.centers = 5;
  options.cluster_std = cluster_std;  // overlapping: several iterations
  options.seed = 31;
  return make_blobs<double>(comm, options).data;
}

using test::same_bits;

void expect_same(const KMeansResult<double>& resumed, const KMeansResult<double>& full, const std::string& what) {
  EXPECT_FALSE(resumed.interrupted) << what;
  test::expect_same_fit(resumed, full, what);
}

// Runs `fit` stopped after `stop_after` polls of every rank, with each state written to a
// checkpoint file, then resumed from that file; `compare` checks the resumed result against
// the uninterrupted one. Every stop point that falls inside the fit must interrupt it.
template <class Result, class Fit, class Compare>
void expect_resumes_identically(const Comm& comm, const std::string& method, const KMeansOptions& options,
                                std::uint64_t rows, Fit fit, Compare compare) {
  const Result full = fit(FitControl<double>{});
  ASSERT_FALSE(full.interrupted);
  CheckpointIdentity identity{options, "k-means++", "generated", rows, 4, "float64", 0x5eed};
  identity.method = method;
  int interrupted = 0;
  for (const int stop_after : {0, 1, 4, 11, 29}) {
    const std::string path = test::scratch_path(comm, "resume-" + method.substr(0, method.find(' ')));
    FitControl<double> stopping;
    int polls = 0;
    stopping.stop_requested = [&] { return ++polls > stop_after; };
    stopping.save = [&](const FitState<double>& state) { write_checkpoint(comm, path, state, identity); };
    const Result stopped = fit(stopping);
    if (!stopped.interrupted) {
      compare(stopped, full, method + ": finished before stop point " + std::to_string(stop_after));
    } else {
      ++interrupted;
      FitControl<double> resuming;
      resuming.save = stopping.save;
      resuming.load = [&](const FitLimits& limits) { return read_checkpoint<double>(comm, path, identity, limits); };
      compare(fit(resuming), full, method + ": stopped after " + std::to_string(stop_after) + " polls");
    }
    comm.barrier();
    if (comm.rank() == 0) std::filesystem::remove(path);
  }
  EXPECT_GE(interrupted, 2) << method << ": too few stop points fell inside the fit";
}

KMeansOptions options_of(int k, int n_init, int max_iter, std::uint64_t seed) {
  KMeansOptions options;
  options.k = k;
  options.n_init = n_init;
  options.max_iter = max_iter;
  options.tol = 0;
  options.seed = seed;
  return options;
}

TEST(ResumeEveryMode, YinyangAndHamerly) {
  Comm comm(MPI_COMM_WORLD);
  const DenseShard<double> shard = blobs(comm, 2003);
  for (const Algorithm algorithm : {Algorithm::Yinyang, Algorithm::Hamerly}) {
    KMeansOptions options = options_of(23, 2, 40, 3);
    options.algorithm = algorithm;
    expect_resumes_identically<KMeansResult<double>>(
        comm, "lloyd", options, shard.global_rows,
        [&](const FitControl<double>& control) { return fit_kmeans<double>(comm, shard, options, nullptr, {}, control); },
        expect_same);
  }
}

TEST(ResumeEveryMode, Spherical) {
  Comm comm(MPI_COMM_WORLD);
  CsrShard<double> rows = to_csr(blobs(comm, 1501));
  normalize_rows(rows);
  KMeansOptions options = options_of(7, 2, 40, 5);
  options.tol_absolute = 0;
  expect_resumes_identically<KMeansResult<double>>(
      comm, "cosine", options, rows.global_rows,
      [&](const FitControl<double>& control) { return fit_spherical<double>(comm, rows, options, nullptr, {}, control); },
      expect_same);
}

TEST(ResumeEveryMode, KMediansWithRestarts) {
  Comm comm(MPI_COMM_WORLD);
  const DenseShard<double> shard = blobs(comm, 901);
  const KMeansOptions options = options_of(6, 2, 30, 7);
  expect_resumes_identically<KMeansResult<double>>(
      comm, "kmedians", options, shard.global_rows,
      [&](const FitControl<double>& control) { return fit_kmedians<double>(comm, shard, options, nullptr, {}, control); },
      expect_same);
}

TEST(ResumeEveryMode, MiniBatch) {
  Comm comm(MPI_COMM_WORLD);
  const DenseShard<double> shard = blobs(comm, 1201);
  KMeansOptions options = options_of(6, 3, 1, 9);
  MiniBatchOptions batch;
  batch.batch_size = 50;
  batch.max_no_improvement = 6;
  expect_resumes_identically<MiniBatchResult<double>>(
      comm, "minibatch", options, shard.global_rows,
      [&](const FitControl<double>& control) {
        auto source = shard_source(shard);
        return fit_minibatch<double>(comm, *source, options, batch, {}, {}, control);
      },
      [](const MiniBatchResult<double>& resumed, const MiniBatchResult<double>& full, const std::string& what) {
        expect_same(resumed, full, what);
        EXPECT_EQ(resumed.counts, full.counts) << what;
        EXPECT_EQ(resumed.n_steps, full.n_steps) << what;
        EXPECT_EQ(resumed.ewa_inertia_history, full.ewa_inertia_history) << what;
      });
}

TEST(ResumeEveryMode, KMedoids) {
  Comm comm(MPI_COMM_WORLD);
  const DenseShard<double> shard = blobs(comm, 301, 12.0);  // a cloud: BUILD leaves work to do
  const KMeansOptions options = options_of(14, 1, 40, 11);
  // Alternate on a sample converges in BUILD's first pass here: PAM covers the sample.
  const std::pair<MedoidMethod, std::uint64_t> cases[] = {
      {MedoidMethod::Pam, 0}, {MedoidMethod::Pam, 120}, {MedoidMethod::Alternate, 0}};
  for (const auto& [method, sample] : cases) {
    {
      KMedoidsOptions medoids;
      medoids.method = method;
      medoids.sample = sample;
      const KMedoidsResult<double> full = fit_kmedoids(comm, shard, options, medoids);
      ASSERT_GE(full.n_iter, 2) << to_string(method) << " sample " << sample << ": too short a fit to stop it at several points";
      expect_resumes_identically<KMedoidsResult<double>>(
          comm, std::string("kmedoids ") + to_string(method), options, shard.global_rows,
          [&](const FitControl<double>& control) { return fit_kmedoids<double>(comm, shard, options, medoids, {}, control); },
          [](const KMedoidsResult<double>& resumed, const KMedoidsResult<double>& full, const std::string& what) {
            expect_same(resumed, full, what);
            EXPECT_EQ(resumed.medoid_indices, full.medoid_indices) << what;
          });
    }
  }
}

TEST(ResumeEveryMode, BisectingResumesAtItsCurrentSplit) {
  Comm comm(MPI_COMM_WORLD);
  const DenseShard<double> shard = blobs(comm, 1503);
  const KMeansOptions options = options_of(6, 2, 30, 13);
  for (const BisectingStrategy strategy : {BisectingStrategy::BiggestInertia, BisectingStrategy::LargestCluster}) {
    expect_resumes_identically<BisectingResult<double>>(
        comm, std::string("bisecting ") + to_string(strategy), options, shard.global_rows,
        [&](const FitControl<double>& control) {
          return fit_bisecting<double>(comm, shard, options, strategy, {}, control);
        },
        [](const BisectingResult<double>& resumed, const BisectingResult<double>& full, const std::string& what) {
          EXPECT_FALSE(resumed.interrupted) << what;
          EXPECT_TRUE(resumed.centroids == full.centroids) << what;
          EXPECT_EQ(resumed.labels, full.labels) << what;
          EXPECT_TRUE(same_bits(resumed.inertia, full.inertia)) << what;
          EXPECT_EQ(resumed.inertia_history, full.inertia_history) << what;
          EXPECT_EQ(resumed.tree.parent, full.tree.parent) << what;
          EXPECT_EQ(resumed.tree.left, full.tree.left) << what;
          EXPECT_EQ(resumed.tree.right, full.tree.right) << what;
          EXPECT_EQ(resumed.tree.size, full.tree.size) << what;
          EXPECT_EQ(resumed.tree.label, full.tree.label) << what;
          EXPECT_EQ(resumed.tree.inertia, full.tree.inertia) << what;
          EXPECT_TRUE(resumed.tree.centres == full.tree.centres) << what;
        });
  }
}

TEST(ResumeEveryMode, ACheckpointOfAnotherModeIsRefused) {
  Comm comm(MPI_COMM_WORLD);
  const DenseShard<double> shard = blobs(comm, 901);
  const KMeansOptions options = options_of(6, 1, 30, 7);
  CheckpointIdentity identity{options, "k-means++", "generated", shard.global_rows, 4, "float64", 0x5eed};
  identity.method = "kmedians";
  const std::string path = test::scratch_path(comm, "other-mode");
  FitControl<double> stopping;
  stopping.stop_requested = [] { return true; };
  stopping.save = [&](const FitState<double>& state) { write_checkpoint(comm, path, state, identity); };
  ASSERT_TRUE(fit_kmedians<double>(comm, shard, options, nullptr, {}, stopping).interrupted);
  identity.method = "lloyd";
  try {
    read_checkpoint<double>(comm, path, identity);
    ADD_FAILURE() << "a K-medians checkpoint was accepted by a Lloyd fit";
  } catch (const AgreedError& e) {
    EXPECT_NE(std::string(e.what()).find("belongs to another fit: the method"), std::string::npos) << e.what();
  }
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove(path);
}

}  // namespace
}  // namespace lloyd
