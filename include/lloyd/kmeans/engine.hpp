#pragma once
// The one iteration loop of every fit (in the spirit of mlpack's KMeans::Cluster): restarts,
// checkpoint and resume, the observer, phase timings, the convergence rule, the seeding cost
// and the history belong to the loop; what differs between the methods — seeding, the
// assignment, the reduction, the empty-cluster policy and the update — is a step
// (IterationStep below). A new method is one step class and a function that builds it.
#include <chrono>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/io/checkpoint.hpp"
#include "lloyd/core/options.hpp"
#include "lloyd/kmeans/phase_clock.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

// ------------------------------------------------------------------ preconditions

/// Throws AgreedError unless 1 ≤ k ≤ rows: the one check of k of every fit. `data` names the
/// rows in the message ("the data", or the input file).
void check_cluster_count(std::int64_t k, std::uint64_t rows, const std::string& data = "the data");

/// Collective over comm (when the shard has sample weights): throws AgreedError unless at
/// least k rows have positive weight (the others can neither seed nor hold a centre).
template <class Shard>
void check_weighted_rows(const Comm& comm, const Shard& shard, std::int64_t k) {
  if (!shard.weighted()) return;
  std::int64_t positive = 0;
  for (const double weight : shard.weights) positive += weight > 0;
  positive = comm.allreduce(positive, MPI_SUM);
  if (positive < k)
    throw AgreedError("k = " + std::to_string(k) + " exceeds the " + std::to_string(positive) +
                      " rows of positive sample weight");
}

/// Throws AgreedError unless `centres` are k × d: the one check of explicit initial centres.
/// `name` names them in the message ("initial centres", or the file).
void check_initial_centres(Eigen::Index rows, Eigen::Index cols, std::int64_t k, Eigen::Index d,
                           const std::string& name = "initial centres");

// ------------------------------------------------------------------ control

/// How a long fit can be stopped and continued (all optional).
template <class T>
struct FitControl {
  /// Polled on every rank at the end of each iteration; the ranks agree (any rank asking
  /// is enough), finish that iteration, save the state and return `interrupted`.
  std::function<bool()> stop_requested;
  /// Save the state every this many iterations (0: only when stopped).
  int checkpoint_every = 0;
  /// Collective: persists a state (see write_checkpoint). Required for stopping.
  std::function<void(const FitState<T>&)> save;
  /// Continue from this state instead of starting afresh.
  const FitState<T>* resume = nullptr;
  /// Collective, called once before the fit when set: the state to continue from (e.g.
  /// read_checkpoint with these limits), or none. Takes precedence over `resume`.
  std::function<std::optional<FitState<T>>(const FitLimits&)> load;
};

// ------------------------------------------------------------------ the step

/// How an iteration ends the run (the loop's convergence rule, see default_stop).
enum class Stop {
  Continue,
  Unchanged,  ///< no label changed: the last assignment may already be the final one
  Converged,  ///< the centres moved no more than the tolerance (or the step's own test)
  Idle,       ///< the iteration changed nothing and does not count (k-medoids' last pass)
};

/// What the loop knows after an iteration, for the step's stopping test.
struct IterationReport {
  std::int64_t iteration = 0;  ///< 0-based
  double inertia = 0;
  double shift = 0;            ///< the step's own measure of how far the centres moved
  std::int64_t changed = 0;    ///< labels that changed (over all ranks)
  double tol = 0;              ///< the absolute tolerance
};

/// scikit-learn's Lloyd rule, the default: stop when no label changed, or when the summed
/// squared centre shift is ≤ tol.
inline Stop default_stop(const IterationReport& report) {
  if (report.changed == 0) return Stop::Unchanged;
  if (report.shift <= report.tol) return Stop::Converged;
  return Stop::Continue;
}

/// One iteration of a method, both halves (mlpack's "LloydStepType" grown to own the
/// update), with its empty-cluster policy. The loop calls every member on every rank in the
/// same order, so any of them may be collective where the method needs it (K-medians'
/// update selects medians across ranks, a K-medoids pass streams the ring).
template <class S, class T>
concept IterationStep = requires(S step, const Comm& comm, const RowMatrix<T>& centres,
                                 RowMatrix<T>& updated, std::span<std::int64_t> counters,
                                 const FitState<T>& state, int restart) {
  // Collective: the starting centres of a restart (timed as init).
  { step.seed(restart) } -> std::same_as<RowMatrix<T>>;
  // Collective: starts a run; when it resumes, `centres` (non-null) are those of the last
  // assignment before the stop, whose labels the first iteration compares with.
  step.begin(&centres);
  // Assigns the rows to `centres` and prepares what the ranks reduce; returns the local
  // labels that changed.
  { step.assign(centres) } -> std::same_as<std::int64_t>;
  // Collective: reduces the partial results together with `counters` (summed over ranks in
  // the same reduction); returns the inertia of the assignment.
  { step.reduce(comm, centres, counters) } -> std::same_as<double>;
  // Collective: the empty-cluster policy, on the reduced results.
  step.fill_empty_clusters(comm, centres);
  // The next centres into `updated` (a copy of `centres` on entry); returns the shift that
  // the convergence test compares with the tolerance.
  { step.update(centres, updated) } -> std::same_as<double>;
  // Collective: the labels of the final centres and their exact inertia; `current`: the
  // last assignment was to these very centres and no label changed.
  { step.finish(comm, centres, true) } -> std::same_as<double>;
  { step.labels() } -> std::same_as<std::vector<std::int32_t>&>;
};
// Optional members, used when a step has them:
//   load(iteration)                collective, timed as io: fetch this iteration's rows
//   stop(report) -> Stop           the step's own convergence rule (else default_stop)
//   seed_inertia() -> double       the seeding's inertia opens the history (history_lead 1)
//   seeding_cost(comm, centres) -> double   collective: the inertia of the initial centres
//                                  on the whole data, when the first iteration does not
//                                  assign the whole data (else the first history entry)
//   save(FitState&) / restore(const FitState&)   the step's own state beyond the centres,
//                                  in FitState::step_integers

/// How the loop runs: restarts and the iteration limit of each.
struct LoopSettings {
  int restarts = 1;
  std::int64_t max_iterations = 300;
  double tol = 0;  ///< absolute tolerance, passed to the convergence test
  Eigen::Index k = 0, d = 0;      ///< the centres' shape (checked in a resumed state)
  std::size_t step_integers = 0;  ///< see FitLimits
};

namespace engine_detail {

struct Run {
  double inertia = 0, init_inertia = 0;
  std::int64_t n_iter = 0;
  bool converged = false, interrupted = false;
  std::vector<double> inertia_history, shift_history;
};

}  // namespace engine_detail

/// Collective over comm: the loop. `result` comes with what the caller measured before
/// (phases.init of the data summary, tol_absolute) and leaves with the fit: the best
/// restart's centres, labels (this rank's), inertia, n_iter, histories, the seeding cost
/// (init_inertia, of the whole data), each restart's inertia and the phase times. Results
/// depend on the step, the settings and the data only: a run stopped and resumed through
/// `control` ends bit-identical to an uninterrupted one.
template <class T, IterationStep<T> Step>
void run_loop(const Comm& comm, Step& step, const LoopSettings& settings,
              const IterationObserver& observer, const FitControl<T>& control,
              std::chrono::steady_clock::time_point start, KMeansResult<T>& result) {
  using engine_detail::Run;
  PhaseTimes& phases = result.phases;
  constexpr bool kSeedLeads = requires { step.seed_inertia(); };
  const int observed_max_iter =
      static_cast<int>(std::min<std::int64_t>(settings.max_iterations, 0x7fffffff));

  FitState<T> state;
  std::optional<FitState<T>> loaded;
  if (control.load)
    loaded = control.load({settings.restarts, settings.max_iterations, kSeedLeads ? 1 : 0,
                           settings.k, settings.d, settings.step_integers});
  const FitState<T>* resume = loaded ? &*loaded : control.resume;
  if (resume) state = *resume;
  const bool resuming_mid_restart = resume && state.iteration > 0;
  bool best_labels_known = false;  // the best restart's labels are in result.labels

  auto save_state = [&](int restart, std::int64_t iteration, const RowMatrix<T>& centroids,
                        const RowMatrix<T>& previous, const Run& run) {
    state.restart = restart;
    state.iteration = iteration;
    state.centroids = centroids;
    state.previous_centroids = previous;
    state.inertia_history = run.inertia_history;
    state.shift_history = run.shift_history;
    state.init_inertia = run.init_inertia;
    state.step_integers.clear();
    if constexpr (requires { step.save(state); })
      if (iteration > 0) step.save(state);  // between restarts there is no run to continue
    control.save(state);
  };

  for (int restart = state.restart; restart < settings.restarts; ++restart) {
    Run run;
    RowMatrix<T> centroids;
    const RowMatrix<T>* previous = nullptr;
    if (resuming_mid_restart && restart == resume->restart) {
      centroids = resume->centroids;
      previous = &resume->previous_centroids;
      run.n_iter = resume->iteration;
      run.inertia_history = resume->inertia_history;
      run.shift_history = resume->shift_history;
      run.init_inertia = resume->init_inertia;
      if constexpr (requires { step.restore(*resume); }) step.restore(*resume);
    } else {
      PhaseClock clock(phases.init);
      centroids = step.seed(restart);
      if constexpr (kSeedLeads) run.inertia_history.push_back(step.seed_inertia());
      if constexpr (requires { step.seeding_cost(comm, centroids); })
        run.init_inertia = step.seeding_cost(comm, centroids);
    }
    if (previous) {  // the labels before the stop are assigned again
      PhaseClock clock(phases.assign);
      step.begin(previous);
    } else {
      step.begin(nullptr);
    }

    RowMatrix<T> updated = centroids;
    bool strict = false, moved_last = true;
    for (std::int64_t iteration = run.n_iter; iteration < settings.max_iterations; ++iteration) {
      if constexpr (requires { step.load(iteration); }) {
        PhaseClock clock(phases.io);
        step.load(iteration);
      }
      // counters[0]: labels that changed; counters[1]: ranks asking to stop.
      std::int64_t counters[2] = {0, 0};
      {
        PhaseClock clock(phases.assign);
        counters[0] = step.assign(centroids);
      }
      counters[1] = control.stop_requested && control.stop_requested() ? 1 : 0;
      double inertia = 0;
      {
        PhaseClock clock(phases.reduce);
        inertia = step.reduce(comm, centroids, std::span<std::int64_t>(counters, 2));
        step.fill_empty_clusters(comm, centroids);
      }
      const std::int64_t changed = counters[0];
      const bool stop = counters[1] > 0 && control.save;
      double shift = 0;
      {
        PhaseClock clock(phases.update);
        updated = centroids;
        shift = step.update(centroids, updated);
        moved_last = centroids.size() != updated.size() ||
                     std::memcmp(centroids.data(), updated.data(),
                                 sizeof(T) * static_cast<std::size_t>(centroids.size())) != 0;
        std::swap(centroids, updated);  // `updated` now holds the centres of this assignment
      }
      const IterationReport report{iteration, inertia, shift, changed, settings.tol};
      Stop verdict = Stop::Continue;
      if constexpr (requires { step.stop(report); }) verdict = step.stop(report);
      else verdict = default_stop(report);
      if (verdict == Stop::Idle) {
        run.converged = true;
        break;
      }
      run.n_iter = iteration + 1;
      run.inertia_history.push_back(inertia);
      run.shift_history.push_back(shift);
      if (observer)
        observer({restart, static_cast<int>(std::min<std::int64_t>(iteration + 1, 0x7fffffff)),
                  inertia, shift, changed,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                  settings.restarts, observed_max_iter});
      if (verdict == Stop::Unchanged) {
        strict = true;
        break;
      }
      if (verdict == Stop::Converged) {
        run.converged = true;
        break;
      }
      if (iteration + 1 < settings.max_iterations &&
          (stop || (control.checkpoint_every > 0 && (iteration + 1) % control.checkpoint_every == 0))) {
        PhaseClock clock(phases.checkpoint);
        save_state(restart, iteration + 1, centroids, updated, run);
        if (stop) {
          result.interrupted = true;
          return;
        }
      }
    }
    run.converged = run.converged || strict;
    {
      // When the labels did not change and the centres are their means already, the last
      // assignment is the final one.
      PhaseClock clock(phases.assign);
      run.inertia = step.finish(comm, centroids, strict && !moved_last);
    }
    if constexpr (!requires { step.seeding_cost(comm, centroids); }) {
      // The first iteration assigns every row to the initial centres: its inertia is the
      // cost of the seeding, at no extra pass.
      run.init_inertia = run.inertia_history.empty() ? 0.0 : run.inertia_history.front();
    }
    state.restart_inertia.push_back(run.inertia);
    if (!state.has_best || run.inertia < state.best_inertia) {
      state.has_best = true;
      state.best_centroids = std::move(centroids);
      state.best_inertia = run.inertia;
      state.best_init_inertia = run.init_inertia;
      state.best_n_iter = run.n_iter;
      state.best_converged = run.converged;
      state.best_restart = restart;
      state.best_inertia_history = std::move(run.inertia_history);
      state.best_shift_history = std::move(run.shift_history);
      result.labels = std::move(step.labels());
      best_labels_known = true;
    }
    // Between restarts: a stop request is honoured before seeding the next one.
    if (restart + 1 < settings.restarts && control.save) {
      const bool stop_now = comm.allreduce(
          control.stop_requested && control.stop_requested() ? 1 : 0, MPI_MAX) > 0;
      if (stop_now) {
        PhaseClock clock(phases.checkpoint);
        const RowMatrix<T> none(0, state.best_centroids.cols());
        save_state(restart + 1, 0, none, none, Run{});
        result.interrupted = true;
        return;
      }
    }
  }

  result.centroids = state.best_centroids;
  result.inertia = state.best_inertia;
  result.init_inertia = state.best_init_inertia;
  result.n_iter = static_cast<int>(std::min<std::int64_t>(state.best_n_iter, 0x7fffffff));
  result.converged = state.best_converged;
  result.best_restart = state.best_restart;
  result.inertia_history = state.best_inertia_history;
  result.center_shift_history = state.best_shift_history;
  result.restart_inertia = state.restart_inertia;
  if (!best_labels_known) {
    // The best restart finished before a resume: its labels are the assignment to its
    // final centres, as they were then.
    PhaseClock clock(phases.assign);
    step.begin(nullptr);
    step.finish(comm, result.centroids, false);
    result.labels = std::move(step.labels());
  }
}

}  // namespace lloyd
