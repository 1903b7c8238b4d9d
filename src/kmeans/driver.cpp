#include "lloyd/kmeans/driver.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <concepts>
#include <functional>

#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/bounded.hpp"
#include "lloyd/kmeans/cluster_sums.hpp"
#include "lloyd/kmeans/empty_clusters.hpp"
#include "lloyd/kmeans/init.hpp"
#include "lloyd/kmeans/minibatch.hpp"
#include "lloyd/kmeans/phase_clock.hpp"

namespace lloyd {

namespace {

using Clock = std::chrono::steady_clock;

double exact_total(const Comm& comm, std::span<const double> values) {
  ExactSum sum;
  sum.add(values);
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

// The assignment half of an iteration: the piece that differs between the algorithms
// (mlpack's "step"). The driver loop below is written against this concept.
template <class S, class T>
concept AssignmentStep = requires(S step, const Comm& comm, const RowMatrix<T>& centres,
                                  ClusterSums& sums) {
  // Labels of the centres the run resumes from (they count the first iteration's changes).
  step.start(&centres);
  // Assigns every row to `centres`; fills `sums` with what the ranks must reduce; returns
  // the number of local labels that changed.
  { step.assign(centres, sums) } -> std::same_as<std::int64_t>;
  // Once after the reduction of `sums`: the cluster sums of the whole assignment.
  { step.reduced(sums) } -> std::same_as<ClusterSums&>;
  // Collective: the inertia of the assignment (to `centres`) with those sums.
  { step.inertia(comm, centres, sums) } -> std::same_as<double>;
  // Every local row's squared distance to its centre (for the empty-cluster policy).
  { step.distances(centres) } -> std::same_as<std::span<const double>>;
  step.relocated();
  // Collective: the labels of the final centres and their exact inertia (`current`: the
  // last assignment was to these very centres).
  { step.finish(comm, centres, true) } -> std::same_as<double>;
  { step.labels() } -> std::same_as<std::vector<std::int32_t>&>;
};

// Lloyd: every distance, every iteration (GEMM form, Assigner).
template <class T>
class FullStep {
 public:
  FullStep(const DenseShard<T>& shard, Eigen::Index k, const DataSummary& summary)
      : shard_(shard), summary_(summary), assigner_(shard.features(), k),
        labels_(static_cast<std::size_t>(shard.local_rows()), 0),
        previous_(static_cast<std::size_t>(shard.local_rows()), -1),
        distances_(static_cast<std::size_t>(shard.local_rows())) {
    assigner_.remember_norms(shard_);
  }

  void start(const RowMatrix<T>* previous_centroids) {
    if (previous_centroids) assigner_.assign(shard_, *previous_centroids, previous_, distances_);
  }
  std::int64_t assign(const RowMatrix<T>& centres, ClusterSums& sums) {
    sums.reset();
    assigner_.assign(shard_, centres, labels_, distances_, &sums, &summary_.fixed);
    std::int64_t changed = 0;
    for (std::size_t i = 0; i < labels_.size(); ++i) changed += labels_[i] != previous_[i];
    std::swap(previous_, labels_);  // labels_ is refilled by the next assignment
    current_ = &previous_;
    return changed;
  }
  ClusterSums& reduced(ClusterSums& sums) { return sums; }
  double inertia(const Comm& comm, const RowMatrix<T>&, const ClusterSums&) {
    return exact_total(comm, distances_);
  }
  std::span<const double> distances(const RowMatrix<T>&) { return distances_; }
  void relocated() {}
  double finish(const Comm& comm, const RowMatrix<T>& centres, bool current) {
    if (!current) {
      assigner_.assign(shard_, centres, labels_, distances_);
      current_ = &labels_;
    }
    return exact_total(comm, distances_);
  }
  std::vector<std::int32_t>& labels() { return *current_; }
  std::size_t bound_bytes() const { return 0; }
  std::int64_t distances_computed() const { return 0; }

 private:
  const DenseShard<T>& shard_;
  const DataSummary& summary_;
  Assigner<T> assigner_;
  std::vector<std::int32_t> labels_, previous_;
  std::vector<std::int32_t>* current_ = &labels_;
  std::vector<double> distances_;
};

// The inertia of an assignment from its cluster sums alone, for the pruned algorithms, which
// do not see every row's distance:
//   Σ_i ‖x_i − c(i)‖² = Σ_i ‖x_i − m‖² − 2 Σ_c (c − m)·(S_c − n_c m) + Σ_c n_c ‖c − m‖²,
// taken around the data's mean m rounded to the fixed-point grid, so that S_c − n_c m is
// exact and the cancellation is that of the spread around the mean, not of the offset. It
// agrees with the row-by-row sum to about 1e-13 relative (README); the final inertia is
// always summed row by row. With more than one limb per value (FixedPoint), S_c − n_c m is
// formed exactly from the limbs instead (FixedPoint::centred_to_double).
template <class T>
class InertiaFromSums {
 public:
  InertiaFromSums(const Comm& comm, const DenseShard<T>& shard, const DataSummary& summary)
      : fixed_(summary.fixed) {
    const Eigen::Index d = shard.features();
    for (Eigen::Index j = 0; j < d; ++j) {
      const auto feature = static_cast<std::size_t>(j);
      if (!fixed_.single()) {
        mean_.push_back(summary.mean[feature]);
        continue;
      }
      grid_mean_.push_back(fixed_.to_fixed(summary.mean[feature], feature));
      mean_.push_back(fixed_.to_double(grid_mean_.back(), feature));
    }
    ExactSum spread;
    for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
      spread.add(squared_distance(shard.row(i), mean_.data(), d));
    spread.allreduce(comm);
    spread_ = spread.value();
  }

  double operator()(const RowMatrix<T>& centres, const ClusterSums& totals) const {
    const Eigen::Index d = centres.cols();
    const std::span<const Int128> sums = totals.sums();
    double inertia = spread_;
    for (Eigen::Index c = 0; c < centres.rows(); ++c) {
      const std::int64_t n = totals.count(c);
      if (n == 0) continue;
      double cross = 0, own = 0;
      for (Eigen::Index j = 0; j < d; ++j) {
        const auto feature = static_cast<std::size_t>(j);
        const double offset = static_cast<double>(centres(c, j)) - mean_[feature];
        if (fixed_.single()) {
          const Int128 centred = sums[static_cast<std::size_t>(c * d + j)] -
                                 Int128{n} * Int128{grid_mean_[feature]};
          cross += offset * fixed_.to_double(centred, feature);
        } else {
          cross += offset * fixed_.centred_to_double(sums.data() + totals.position(c, j), static_cast<std::size_t>(d),
                                                     feature, n, mean_[feature]);
        }
        own += offset * offset;
      }
      inertia += static_cast<double>(n) * own - 2 * cross;
    }
    return inertia;
  }

 private:
  const FixedPoint& fixed_;
  std::vector<std::int64_t> grid_mean_;
  std::vector<double> mean_;
  double spread_ = 0;
};

// Hamerly / Yinyang: bounds skip the distances that cannot change a label (BoundedAssigner).
// The sums are kept from iteration to iteration and only the rows that changed label are
// reduced: integer sums, so the total is the same as a fresh one.
template <class T>
class BoundedStep {
 public:
  BoundedStep(const Comm& comm, const DenseShard<T>& shard, Eigen::Index k, int groups,
              const DataSummary& summary)
      : shard_(shard), summary_(summary),
        bounded_(shard.local_rows(), shard.features(), k, groups),
        inertia_from_sums_(comm, shard, summary), totals_(k, summary.fixed),
        labels_(static_cast<std::size_t>(shard.local_rows()), -1),
        distances_(static_cast<std::size_t>(shard.local_rows())) {}

  void start(const RowMatrix<T>* previous_centroids) {
    if (!previous_centroids) return;
    // The labels before the stop, recomputed; their bounds are not known, so the next
    // assignment computes every distance.
    bounded_.assign(shard_, *previous_centroids, labels_, distances_, {.exact_distances = true});
    bounded_.reset();
  }
  std::int64_t assign(const RowMatrix<T>& centres, ClusterSums& sums) {
    sums.reset();
    const std::int64_t changed = bounded_.assign(
        shard_, centres, labels_, distances_, {.sums = &sums, .fixed = &summary_.fixed, .fresh_sums = rebuild_});
    computed_ += bounded_.distances_computed();
    return changed;
  }
  ClusterSums& reduced(ClusterSums& sums) {
    if (rebuild_) totals_.reset();
    totals_.merge(sums);  // the changes (or, rebuilt, the whole sums)
    rebuild_ = false;
    return totals_;
  }
  // Always from the sums (never the row-by-row sum when it happens to be at hand), so that a
  // resumed run's history is the same bits as an uninterrupted one's.
  double inertia(const Comm&, const RowMatrix<T>& centres, const ClusterSums& totals) {
    return inertia_from_sums_(centres, totals);
  }
  std::span<const double> distances(const RowMatrix<T>& centres) {
    if (!bounded_.computed_every_row())
      for (Eigen::Index i = 0; i < shard_.local_rows(); ++i)
        distances_[static_cast<std::size_t>(i)] = squared_distance(
            shard_.row(i), centres.row(labels_[static_cast<std::size_t>(i)]).data(), shard_.features());
    return distances_;
  }
  // The empty-cluster policy moved rows between the reduced sums without relabelling them:
  // the next sums are summed afresh.
  void relocated() { rebuild_ = true; }
  double finish(const Comm& comm, const RowMatrix<T>& centres, bool current) {
    if (current) {
      distances(centres);
    } else {
      bounded_.assign(shard_, centres, labels_, distances_, {.exact_distances = true});
      computed_ += bounded_.distances_computed();
    }
    return exact_total(comm, distances_);
  }
  std::vector<std::int32_t>& labels() { return labels_; }
  std::size_t bound_bytes() const { return bounded_.bound_bytes(); }
  std::int64_t distances_computed() const { return computed_; }

 private:
  const DenseShard<T>& shard_;
  const DataSummary& summary_;
  BoundedAssigner<T> bounded_;
  InertiaFromSums<T> inertia_from_sums_;
  ClusterSums totals_;
  std::vector<std::int32_t> labels_;
  std::vector<double> distances_;
  bool rebuild_ = true;
  std::int64_t computed_ = 0;
};

// One run of the iterations (updates `centroids`); the step's labels are those of the final
// centres.
template <class T, AssignmentStep<T> Step>
SingleRun iterate(const Comm& comm, const DenseShard<T>& shard, Step& step,
                  const KMeansOptions& options, const DataSummary& summary, double tol_absolute,
                  int restart, RunStart<T> start_from, RowMatrix<T>& centroids,
                  const IterationObserver& observer, const FitControl<T>& control,
                  const SaveRun<T>& save, PhaseTimes& phases, Clock::time_point start) {
  centroids = std::move(start_from.centroids);
  const Eigen::Index k = centroids.rows(), d = shard.features();
  ClusterSums sums(k, summary.fixed);
  if (start_from.previous_centroids) {
    PhaseClock clock(phases.assign);
    step.start(start_from.previous_centroids);
  }
  RowMatrix<T> updated = centroids;

  SingleRun run;
  run.inertia_history = std::move(start_from.inertia_history);
  run.shift_history = std::move(start_from.shift_history);
  run.n_iter = start_from.iteration;
  bool strict = false, moved_last = true;
  for (int iteration = start_from.iteration; iteration < options.max_iter; ++iteration) {
    // counters[0]: labels that changed; counters[1]: ranks asking to stop.
    std::int64_t counters[2] = {0, 0};
    {
      PhaseClock clock(phases.assign);
      counters[0] = step.assign(centroids, sums);
    }
    counters[1] = control.stop_requested && control.stop_requested() ? 1 : 0;
    double inertia = 0;
    ClusterSums* totals = nullptr;
    {
      PhaseClock clock(phases.reduce);
      sums.allreduce(comm, counters);
      totals = &step.reduced(sums);
      inertia = step.inertia(comm, centroids, *totals);
      bool empty = false;
      for (Eigen::Index c = 0; c < k; ++c) empty = empty || totals->count(c) == 0;
      if (empty && relocate_empty_clusters(comm, shard, step.labels(), step.distances(centroids),
                                           summary.fixed, *totals) > 0)
        step.relocated();
    }
    const std::int64_t changed = counters[0];
    const bool stop = counters[1] > 0 && control.save;
    double shift = 0;
    {
      PhaseClock clock(phases.update);
      updated = centroids;
      totals->means(summary.fixed, updated);
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
  }
  run.converged = run.converged || strict;
  // When the labels did not change and the centres are their means already, the last
  // assignment is the final one.
  PhaseClock clock(phases.assign);
  run.inertia = step.finish(comm, centroids, strict && !moved_last);
  return run;
}

// One run with the step that `options.algorithm` names; the labels of the final centres go
// to `labels`.
template <class T>
SingleRun lloyd(const Comm& comm, const DenseShard<T>& shard, const KMeansOptions& options,
                const DataSummary& summary, double tol_absolute, int restart,
                RunStart<T> start_from, RowMatrix<T>& centroids,
                std::vector<std::int32_t>& labels, const IterationObserver& observer,
                const FitControl<T>& control, const SaveRun<T>& save, PhaseTimes& phases,
                Clock::time_point start, KMeansResult<T>& usage) {
  const Eigen::Index k = start_from.centroids.rows(), d = shard.features();
  auto run_with = [&](auto& step) {
    SingleRun run = iterate(comm, shard, step, options, summary, tol_absolute, restart,
                            std::move(start_from), centroids, observer, control, save, phases, start);
    labels = std::move(step.labels());
    usage.bound_bytes = std::max(usage.bound_bytes, step.bound_bytes());
    usage.distances_computed += step.distances_computed();
    return run;
  };
  usage.algorithm = choose_algorithm(options.algorithm, k, d);
  if (usage.algorithm == Algorithm::Lloyd) {
    FullStep<T> step(shard, k, summary);
    return run_with(step);
  }
  // Yinyang: groups of about ten centres (Ding et al.); Hamerly: one.
  const int groups = usage.algorithm == Algorithm::Yinyang ? static_cast<int>(std::max<Eigen::Index>(k / 10, 1)) : 1;
  BoundedStep<T> step(comm, shard, k, groups, summary);
  return run_with(step);
}

}  // namespace

template <class T>
DataSummary summarize(const Comm& comm, const DenseShard<T>& shard) {
  // The in-memory shard is the one-block case of the streamed summary: one code for both.
  return summarize_blocks(comm, *shard_source(shard), true);
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
                          result.phases, start, result);
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
