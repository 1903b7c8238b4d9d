// The one iteration loop (kmeans/engine.hpp) with a toy step: what the loop promises every
// method — the convergence rule, the history, restarts and the best of them, the seeding
// cost, Stop::Idle, stop-and-resume — and the one check of k and of initial centres.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "lloyd/kmeans/engine.hpp"

namespace lloyd {
namespace {

// One centre in one dimension that halves every iteration; its "labels" change while it is
// above 1. Inertia: the centre squared.
class HalvingStep {
 public:
  RowMatrix<double> seed(int restart) { return RowMatrix<double>::Constant(1, 1, 10.0 + restart); }
  void begin(const RowMatrix<double>*) { ++runs_; }
  std::int64_t assign(const RowMatrix<double>& centres) { return centres(0, 0) > 1 ? 1 : 0; }
  double reduce(const Comm& comm, const RowMatrix<double>& centres, std::span<std::int64_t> counters) {
    comm.allreduce(counters, MPI_SUM);
    return centres(0, 0) * centres(0, 0);
  }
  void fill_empty_clusters(const Comm&, const RowMatrix<double>&) {}
  double update(const RowMatrix<double>& centres, RowMatrix<double>& updated) {
    updated(0, 0) = centres(0, 0) / 2;
    const double change = updated(0, 0) - centres(0, 0);
    return change * change;
  }
  double finish(const Comm&, const RowMatrix<double>& centres, bool) {
    labels_ = {0};
    return centres(0, 0) * centres(0, 0);
  }
  std::vector<std::int32_t>& labels() { return labels_; }
  int runs() const { return runs_; }

 private:
  std::vector<std::int32_t> labels_;
  int runs_ = 0;
};

// The same with its own stopping rule: the iteration `idle_at` changes nothing.
class IdleStep : public HalvingStep {
 public:
  explicit IdleStep(std::int64_t idle_at) : idle_at_(idle_at) {}
  Stop stop(const IterationReport& report) const {
    return report.iteration == idle_at_ ? Stop::Idle : Stop::Continue;
  }
  double seed_inertia() const { return 1000; }

 private:
  std::int64_t idle_at_;
};

template <class Step>
KMeansResult<double> run(Step& step, int restarts, std::int64_t max_iterations,
                         const FitControl<double>& control = {}) {
  Comm comm(MPI_COMM_WORLD);
  KMeansResult<double> result;
  run_loop<double>(comm, step, {restarts, max_iterations, 0.0, 1, 1, 0}, {}, control,
                   std::chrono::steady_clock::now(), result);
  return result;
}

TEST(Engine, StopsWhenNoLabelChangesAndKeepsTheHistory) {
  HalvingStep step;
  const KMeansResult<double> result = run(step, 1, 100);
  // 10, 5, 2.5, 1.25, 0.625: the fifth assignment changes nothing.
  EXPECT_EQ(result.n_iter, 5);
  EXPECT_TRUE(result.converged);
  EXPECT_EQ(result.inertia_history, (std::vector<double>{100, 25, 6.25, 1.5625, 0.390625}));
  EXPECT_EQ(result.init_inertia, 100);  // the first assignment's: the seeding cost
  EXPECT_EQ(result.inertia, 0.3125 * 0.3125);
  EXPECT_EQ(result.labels, (std::vector<std::int32_t>{0}));
}

TEST(Engine, StopsAtTheIterationLimitWithoutConverging) {
  HalvingStep step;
  const KMeansResult<double> result = run(step, 1, 3);
  EXPECT_EQ(result.n_iter, 3);
  EXPECT_FALSE(result.converged);
  EXPECT_EQ(result.center_shift_history.size(), 3u);
}

TEST(Engine, KeepsTheBestRestart) {
  HalvingStep step;
  const KMeansResult<double> result = run(step, 3, 2);
  EXPECT_EQ(step.runs(), 3);
  ASSERT_EQ(result.restart_inertia.size(), 3u);
  EXPECT_EQ(result.best_restart, 0);  // 10 / 4 is the smallest final centre
  EXPECT_EQ(result.centroids(0, 0), 2.5);
}

TEST(Engine, AnIdleIterationEndsTheRunUncounted) {
  IdleStep step(2);
  const KMeansResult<double> result = run(step, 1, 100);
  EXPECT_EQ(result.n_iter, 2);
  EXPECT_TRUE(result.converged);
  // The seeding's inertia opens the history; the idle iteration adds nothing.
  EXPECT_EQ(result.inertia_history, (std::vector<double>{1000, 100, 25}));
}

TEST(Engine, AResumedRunEqualsAnUninterruptedOne) {
  HalvingStep whole;
  const KMeansResult<double> full = run(whole, 3, 4);
  for (int stop_after = 0; stop_after < 12; ++stop_after) {
    FitControl<double> stopping;
    int polls = 0;
    std::optional<FitState<double>> saved;
    stopping.stop_requested = [&] { return ++polls > stop_after; };
    stopping.save = [&](const FitState<double>& state) { saved = state; };
    HalvingStep first;
    const KMeansResult<double> stopped = run(first, 3, 4, stopping);
    ASSERT_TRUE(stopped.interrupted) << stop_after;
    ASSERT_TRUE(saved.has_value());
    FitControl<double> resuming;
    resuming.resume = &*saved;
    HalvingStep second;
    const KMeansResult<double> resumed = run(second, 3, 4, resuming);
    EXPECT_FALSE(resumed.interrupted);
    EXPECT_TRUE(resumed.centroids == full.centroids) << stop_after;
    EXPECT_EQ(resumed.inertia, full.inertia) << stop_after;
    EXPECT_EQ(resumed.restart_inertia, full.restart_inertia) << stop_after;
    EXPECT_EQ(resumed.inertia_history, full.inertia_history) << stop_after;
    EXPECT_EQ(resumed.best_restart, full.best_restart) << stop_after;
    EXPECT_EQ(resumed.labels, full.labels) << stop_after;
  }
}

TEST(Engine, TheDefaultRuleSeparatesUnchangedLabelsFromSmallMoves) {
  EXPECT_EQ(default_stop({0, 1.0, 5.0, 0, 1.0}), Stop::Unchanged);
  EXPECT_EQ(default_stop({0, 1.0, 0.5, 3, 1.0}), Stop::Converged);
  EXPECT_EQ(default_stop({0, 1.0, 1.5, 3, 1.0}), Stop::Continue);
}

std::string message_of(const std::function<void()>& check) {
  try {
    check();
  } catch (const AgreedError& e) {
    return e.what();
  }
  return "";
}

TEST(Engine, OneCheckOfKAndOneOfTheInitialCentres) {
  EXPECT_EQ(message_of([] { check_cluster_count(0, 50, "d.h5:/X"); }),
            "k = 0 must be between 1 and the number of rows of d.h5:/X (50)");
  EXPECT_EQ(message_of([] { check_cluster_count(51, 50); }),
            "k = 51 must be between 1 and the number of rows of the data (50)");
  EXPECT_EQ(message_of([] { check_cluster_count(50, 50); }), "");
  EXPECT_EQ(message_of([] { check_initial_centres(4, 2, 4, 3); }),
            "initial centres are 4 x 2; expected k x d = 4 x 3");
  EXPECT_EQ(message_of([] { check_initial_centres(4, 3, 4, 3); }), "");
}

}  // namespace
}  // namespace lloyd
