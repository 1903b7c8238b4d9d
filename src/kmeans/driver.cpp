#include "lloyd/kmeans/driver.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>

#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/cluster_sums.hpp"
#include "lloyd/kmeans/empty_clusters.hpp"
#include "lloyd/kmeans/init.hpp"
#include "lloyd/kmeans/phase_clock.hpp"

namespace lloyd {

namespace {

using Clock = std::chrono::steady_clock;

double exact_total(const Comm& comm, std::span<const double> values) {
  ExactSum sum;
  for (double v : values) sum.add(v);
  sum.allreduce(comm);
  return sum.value();
}

template <class T>
double squared_shift(const RowMatrix<T>& before, const RowMatrix<T>& after) {
  double total = 0;
  for (Eigen::Index c = 0; c < before.rows(); ++c)
    total += squared_distance(before.row(c).data(), after.row(c).data(), before.cols());
  return total;
}

struct SingleRun {
  double inertia = 0;
  int n_iter = 0;
  bool converged = false;
  bool interrupted = false;
  std::vector<double> inertia_history, shift_history;
};

// Where a Lloyd run starts: fresh centres (iteration 0, no previous labels) or a saved state.
template <class T>
struct RunStart {
  RowMatrix<T> centroids;
  const RowMatrix<T>* previous_centroids = nullptr;  // centres of the last assignment
  int iteration = 0;
  std::vector<double> inertia_history, shift_history;
};

// Saves the state of a run in progress after `iteration` iterations (collective).
template <class T>
using SaveRun = std::function<void(int iteration, const RowMatrix<T>& centroids,
                                   const RowMatrix<T>& previous, const SingleRun& run)>;

// One Lloyd run (updates `centroids`); labels of the final centres.
template <class T>
SingleRun lloyd(const Comm& comm, const DenseShard<T>& shard, const KMeansOptions& options,
                const DataSummary& summary, double tol_absolute, int restart,
                RunStart<T> start_from, RowMatrix<T>& centroids,
                std::vector<std::int32_t>& labels, const IterationObserver& observer,
                const FitControl<T>& control, const SaveRun<T>& save, PhaseTimes& phases,
                Clock::time_point start) {
  centroids = std::move(start_from.centroids);
  const Eigen::Index k = centroids.rows(), d = shard.features();
  const auto n_local = static_cast<std::size_t>(shard.local_rows());
  Assigner<T> assigner(d, k);
  ClusterSums sums(k, d);
  std::vector<std::int32_t> previous(n_local, -1);
  std::vector<double> distances(n_local);
  labels.assign(n_local, 0);
  if (start_from.previous_centroids) {
    // The labels of the last assignment before the stop: recomputed, not stored.
    PhaseClock clock(phases.assign);
    assigner.assign(shard, *start_from.previous_centroids, previous, distances);
  }
  RowMatrix<T> updated = centroids;

  SingleRun run;
  run.inertia_history = std::move(start_from.inertia_history);
  run.shift_history = std::move(start_from.shift_history);
  run.n_iter = start_from.iteration;
  bool strict = false, moved_last = true;
  for (int iteration = start_from.iteration; iteration < options.max_iter; ++iteration) {
    {
      PhaseClock clock(phases.assign);
      sums.reset();
      assigner.assign(shard, centroids, labels, distances, &sums, &summary.fixed);
    }
    // counters[0]: labels that changed; counters[1]: ranks asking to stop.
    std::int64_t counters[2] = {0, control.stop_requested && control.stop_requested() ? 1 : 0};
    for (std::size_t i = 0; i < n_local; ++i) counters[0] += labels[i] != previous[i];
    double inertia = 0;
    {
      PhaseClock clock(phases.reduce);
      sums.allreduce(comm, counters);
      inertia = exact_total(comm, distances);
      relocate_empty_clusters(comm, shard, labels, distances, summary.fixed, sums);
    }
    const std::int64_t changed = counters[0];
    const bool stop = counters[1] > 0 && control.save;
    double shift = 0;
    {
      PhaseClock clock(phases.update);
      updated = centroids;
      sums.means(summary.fixed, updated);
      shift = squared_shift(centroids, updated);
      moved_last = std::memcmp(centroids.data(), updated.data(), sizeof(T) * k * d) != 0;
      std::swap(centroids, updated);  // `updated` now holds the centres of this assignment
    }
    run.n_iter = iteration + 1;
    run.inertia_history.push_back(inertia);
    run.shift_history.push_back(shift);
    if (observer)
      observer({restart, iteration + 1, inertia, shift, changed,
                std::chrono::duration<double>(Clock::now() - start).count(),
                options.n_init, options.max_iter});
    if (changed == 0) {
      strict = true;
      break;
    }
    if (shift <= tol_absolute) {
      run.converged = true;
      break;
    }
    if (iteration + 1 < options.max_iter &&
        (stop || (control.checkpoint_every > 0 && (iteration + 1) % control.checkpoint_every == 0))) {
      PhaseClock clock(phases.checkpoint);
      save(iteration + 1, centroids, updated, run);
      if (stop) {
        run.interrupted = true;
        return run;
      }
    }
    std::swap(previous, labels);
  }
  run.converged = run.converged || strict;
  if (strict && !moved_last) {
    // The labels did not change and the centres are their means already: nothing to redo.
    run.inertia = run.inertia_history.back();
  } else {
    PhaseClock clock(phases.assign);
    assigner.assign(shard, centroids, labels, distances);
    run.inertia = exact_total(comm, distances);
  }
  return run;
}

}  // namespace

template <class T>
DataSummary summarize(const Comm& comm, const DenseShard<T>& shard) {
  const Eigen::Index d = shard.features();
  std::vector<double> max_abs(static_cast<std::size_t>(d), 0.0);
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
    for (Eigen::Index j = 0; j < d; ++j)
      max_abs[j] = std::max(max_abs[j], std::abs(static_cast<double>(shard.rows(i, j))));
  comm.allreduce(std::span<double>(max_abs), MPI_MAX);
  DataSummary summary{FixedPoint(max_abs), 0.0};

  // Mean variance = Σ_i ‖x_i − mean‖² / (n d): the mean from exact sums, then one exact sum.
  ClusterSums total(1, d);
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i) total.add(0, shard.row(i), summary.fixed);
  total.allreduce(comm);
  RowMatrix<double> mean = RowMatrix<double>::Zero(1, d);
  total.means(summary.fixed, mean);
  ExactSum squares;
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
    squares.add(squared_distance(shard.row(i), mean.data(), d));
  squares.allreduce(comm);
  summary.mean_variance =
      squares.value() / (static_cast<double>(shard.global_rows) * static_cast<double>(d));
  return summary;
}

template <class T>
KMeansResult<T> fit_kmeans(const Comm& comm, const DenseShard<T>& shard,
                           const KMeansOptions& options, const RowMatrix<T>* initial,
                           const IterationObserver& observer, const FitControl<T>& control) {
  const auto start = Clock::now();
  if (options.k < 1) throw AgreedError("k must be at least 1 (got " + std::to_string(options.k) + ")");
  if (static_cast<std::uint64_t>(options.k) > shard.global_rows)
    throw AgreedError("k = " + std::to_string(options.k) + " exceeds the number of rows (" +
                      std::to_string(shard.global_rows) + ")");
  if (initial && (initial->rows() != options.k || initial->cols() != shard.features()))
    throw AgreedError("initial centres are " + std::to_string(initial->rows()) + " x " +
                      std::to_string(initial->cols()) + "; expected k x d = " +
                      std::to_string(options.k) + " x " + std::to_string(shard.features()));

  KMeansResult<T> result;
  KMeansOptions effective = options;
  effective.n_init = initial ? 1 : std::max(options.n_init, 1);
  DataSummary summary;
  {
    PhaseClock clock(result.phases.init);
    summary = summarize(comm, shard);
  }
  result.tol_absolute =
      options.tol_absolute >= 0 ? options.tol_absolute : options.tol * summary.mean_variance;

  // The state carried from restart to restart (and into checkpoints).
  FitState<T> state;
  if (control.resume) state = *control.resume;
  const bool resuming_mid_restart = control.resume && state.iteration > 0;
  bool best_labels_known = false;  // the best restart's labels are in result.labels
  auto save_state = [&](int restart, int iteration, const RowMatrix<T>& centroids,
                        const RowMatrix<T>& previous, const SingleRun& run) {
    state.restart = restart;
    state.iteration = iteration;
    state.centroids = centroids;
    state.previous_centroids = previous;
    state.inertia_history = run.inertia_history;
    state.shift_history = run.shift_history;
    control.save(state);
  };

  for (int restart = state.restart; restart < effective.n_init; ++restart) {
    RunStart<T> from;
    if (resuming_mid_restart && restart == control.resume->restart) {
      from.centroids = control.resume->centroids;
      from.previous_centroids = &control.resume->previous_centroids;
      from.iteration = control.resume->iteration;
      from.inertia_history = control.resume->inertia_history;
      from.shift_history = control.resume->shift_history;
    } else {
      PhaseClock clock(result.phases.init);
      from.centroids = initial ? *initial
                               : initial_centres(comm, shard, options.init, options.k,
                                                 options.seed, restart, summary.fixed,
                                                 {options.oversampling, options.init_rounds});
    }
    RowMatrix<T> centroids;
    std::vector<std::int32_t> labels;
    const SaveRun<T> save_run = [&](int iteration, const RowMatrix<T>& c, const RowMatrix<T>& p,
                                    const SingleRun& run) { save_state(restart, iteration, c, p, run); };
    SingleRun run = lloyd(comm, shard, effective, summary, result.tol_absolute, restart,
                          std::move(from), centroids, labels, observer, control, save_run,
                          result.phases, start);
    if (run.interrupted) {
      result.interrupted = true;
      return result;
    }
    state.restart_inertia.push_back(run.inertia);
    if (!state.has_best || run.inertia < state.best_inertia) {
      state.has_best = true;
      state.best_centroids = std::move(centroids);
      state.best_inertia = run.inertia;
      state.best_n_iter = run.n_iter;
      state.best_converged = run.converged;
      state.best_restart = restart;
      state.best_inertia_history = std::move(run.inertia_history);
      state.best_shift_history = std::move(run.shift_history);
      result.labels = std::move(labels);
      best_labels_known = true;
    }
    // Between restarts: a stop request is honoured before seeding the next one.
    if (restart + 1 < effective.n_init && control.save) {
      const bool stop = comm.allreduce(
          control.stop_requested && control.stop_requested() ? 1 : 0, MPI_MAX) > 0;
      if (stop) {
        PhaseClock clock(result.phases.checkpoint);
        save_state(restart + 1, 0, RowMatrix<T>(0, shard.features()),
                   RowMatrix<T>(0, shard.features()), SingleRun{});
        result.interrupted = true;
        return result;
      }
    }
  }

  result.centroids = state.best_centroids;
  result.inertia = state.best_inertia;
  result.n_iter = state.best_n_iter;
  result.converged = state.best_converged;
  result.best_restart = state.best_restart;
  result.inertia_history = state.best_inertia_history;
  // The first iteration assigns every row to the initial centres: its inertia is the cost
  // of the seeding, at no extra pass.
  result.init_inertia = result.inertia_history.empty() ? 0.0 : result.inertia_history.front();
  result.center_shift_history = state.best_shift_history;
  result.restart_inertia = state.restart_inertia;
  if (!best_labels_known) {
    // The best restart finished before a resume: its labels are the assignment to its
    // final centres, as they were then.
    PhaseClock clock(result.phases.assign);
    predict_labels(comm, shard, result.centroids, result.labels);
  }
  return result;
}

template <class T>
double predict_labels(const Comm& comm, const DenseShard<T>& shard, const RowMatrix<T>& centroids,
                      std::vector<std::int32_t>& labels) {
  const auto n_local = static_cast<std::size_t>(shard.local_rows());
  labels.assign(n_local, 0);
  std::vector<double> distances(n_local);
  Assigner<T> assigner(shard.features(), centroids.rows());
  assigner.assign(shard, centroids, labels, distances);
  return exact_total(comm, distances);
}

#define LLOYD_INSTANTIATE(T)                                                                   \
  template DataSummary summarize(const Comm&, const DenseShard<T>&);                          \
  template KMeansResult<T> fit_kmeans(const Comm&, const DenseShard<T>&, const KMeansOptions&, \
                                      const RowMatrix<T>*, const IterationObserver&,           \
                                      const FitControl<T>&);                                   \
  template double predict_labels(const Comm&, const DenseShard<T>&, const RowMatrix<T>&,      \
                                 std::vector<std::int32_t>&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
