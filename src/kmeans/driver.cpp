#include "lloyd/kmeans/driver.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <concepts>
#include <functional>
#include <optional>

#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/bounded.hpp"
#include "lloyd/core/cluster_sums.hpp"
#include "lloyd/kmeans/empty_clusters.hpp"
#include "lloyd/kmeans/init.hpp"
#include "lloyd/kmeans/minibatch.hpp"
#include "lloyd/kmeans/phase_clock.hpp"

namespace lloyd {

namespace {

using Clock = std::chrono::steady_clock;

template <class T>
double squared_shift(const RowMatrix<T>& before, const RowMatrix<T>& after) {
  double total = 0;
  for (Eigen::Index c = 0; c < before.rows(); ++c)
    total += squared_distance(before.row(c).data(), after.row(c).data(), before.cols());
  return total;
}

// The assignment half of a means step: the piece that differs between Lloyd, Hamerly and
// Yinyang (MeansStep below holds the rest).
template <class S, class T>
concept AssignmentStep = requires(S step, const Comm& comm, const RowMatrix<T>& centres,
                                  ClusterSums& sums) {
  // Starts a run: when resuming, the labels of the centres it resumes from (they count the
  // first iteration's changes).
  step.begin(&centres);
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
        distances_(static_cast<std::size_t>(shard.local_rows())) {
    assigner_.remember_norms(shard_);
  }

  void begin(const RowMatrix<T>* previous_centroids) {
    const auto n = static_cast<std::size_t>(shard_.local_rows());
    labels_.assign(n, 0);
    previous_.assign(n, -1);
    current_ = &labels_;
    if (previous_centroids) assigner_.assign(shard_, *previous_centroids, previous_, distances_);
  }
  std::int64_t assign(const RowMatrix<T>& centres, ClusterSums& sums) {
    sums.reset();
    if (shard_.weighted()) {
      assigner_.assign(shard_, centres, labels_, distances_);
      add_weighted_rows(shard_, labels_, summary_.fixed, sums);
    } else {
      assigner_.assign(shard_, centres, labels_, distances_, &sums, &summary_.fixed);
    }
    std::int64_t changed = 0;
    for (std::size_t i = 0; i < labels_.size(); ++i) changed += labels_[i] != previous_[i];
    std::swap(previous_, labels_);  // labels_ is refilled by the next assignment
    current_ = &previous_;
    return changed;
  }
  ClusterSums& reduced(ClusterSums& sums) { return sums; }
  double inertia(const Comm& comm, const RowMatrix<T>&, const ClusterSums&) {
    return exact_total(comm, distances_, shard_.weights);
  }
  std::span<const double> distances(const RowMatrix<T>&) { return distances_; }
  void relocated() {}
  double finish(const Comm& comm, const RowMatrix<T>& centres, bool current) {
    if (!current) {
      assigner_.assign(shard_, centres, labels_, distances_);
      current_ = &labels_;
    }
    return exact_total(comm, distances_, shard_.weights);
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
          cross = std::fma(offset, fixed_.to_double(centred, feature), cross);
        } else {
          cross = std::fma(offset,
                           fixed_.centred_to_double(sums.data() + totals.position(c, j), static_cast<std::size_t>(d),
                                                    feature, n, mean_[feature]),
                           cross);
        }
        own = std::fma(offset, offset, own);
      }
      inertia += std::fma(static_cast<double>(n), own, -2 * cross);
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
      : shard_(shard), summary_(summary), k_(k), groups_(groups),
        bounded_(shard.local_rows(), shard.features(), k, groups), totals_(k, summary.fixed),
        distances_(static_cast<std::size_t>(shard.local_rows())) {
    if (!shard.weighted()) inertia_from_sums_.emplace(comm, shard, summary);
  }

  void begin(const RowMatrix<T>* previous_centroids) {
    // Every run starts with new bounds (and Yinyang's groups from its own first centres).
    if (runs_++ > 0) {
      bytes_ = std::max(bytes_, bounded_.bound_bytes());
      bounded_ = BoundedAssigner<T>(shard_.local_rows(), shard_.features(), k_, groups_);
    }
    labels_.assign(static_cast<std::size_t>(shard_.local_rows()), -1);
    rebuild_ = true;
    if (!previous_centroids) return;
    // The labels before the stop, recomputed; their bounds are not known, so the next
    // assignment computes every distance.
    bounded_.assign(shard_, *previous_centroids, labels_, distances_, {.exact_distances = true});
    bounded_.reset();
  }
  std::int64_t assign(const RowMatrix<T>& centres, ClusterSums& sums) {
    sums.reset();
    if (shard_.weighted()) {  // the sums of every row, weighted, from the labels (no changes kept)
      const std::int64_t changed = bounded_.assign(shard_, centres, labels_, distances_, {});
      computed_ += bounded_.distances_computed();
      add_weighted_rows(shard_, labels_, summary_.fixed, sums);
      return changed;
    }
    const std::int64_t changed = bounded_.assign(
        shard_, centres, labels_, distances_, {.sums = &sums, .fixed = &summary_.fixed, .fresh_sums = rebuild_});
    computed_ += bounded_.distances_computed();
    return changed;
  }
  ClusterSums& reduced(ClusterSums& sums) {
    if (shard_.weighted()) return sums;  // whole sums every iteration
    if (rebuild_) totals_.reset();
    totals_.merge(sums);  // the changes (or, rebuilt, the whole sums)
    rebuild_ = false;
    return totals_;
  }
  // Always from the sums (never the row-by-row sum when it happens to be at hand), so that a
  // resumed run's history is the same bits as an uninterrupted one's.
  // Weighted: row by row (the identity below has no weights), an exact sum.
  double inertia(const Comm& comm, const RowMatrix<T>& centres, const ClusterSums& totals) {
    if (shard_.weighted()) return exact_total(comm, distances(centres), shard_.weights);
    return (*inertia_from_sums_)(centres, totals);
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
    return exact_total(comm, distances_, shard_.weights);
  }
  std::vector<std::int32_t>& labels() { return labels_; }
  std::size_t bound_bytes() const { return std::max(bytes_, bounded_.bound_bytes()); }
  std::int64_t distances_computed() const { return computed_; }

 private:
  const DenseShard<T>& shard_;
  const DataSummary& summary_;
  Eigen::Index k_;
  int groups_;
  BoundedAssigner<T> bounded_;
  int runs_ = 0;
  std::size_t bytes_ = 0;
  std::optional<InertiaFromSums<T>> inertia_from_sums_;  ///< unweighted fits only
  ClusterSums totals_;
  std::vector<std::int32_t> labels_;
  std::vector<double> distances_;
  bool rebuild_ = true;
  std::int64_t computed_ = 0;
};

// K-Means' step: an assignment (Lloyd, Hamerly or Yinyang), the exact cluster sums reduced
// over the ranks, scikit-learn's empty-cluster policy (relocate_empty_clusters) and the
// means as the new centres.
template <class T, AssignmentStep<T> Assignment>
class MeansStep {
 public:
  MeansStep(const Comm& comm, const DenseShard<T>& shard, const KMeansOptions& options,
            const DataSummary& summary, const RowMatrix<T>* initial, Assignment& assignment)
      : comm_(comm), shard_(shard), options_(options), summary_(summary), initial_(initial),
        assignment_(assignment), sums_(options.k, summary.fixed) {}

  RowMatrix<T> seed(int restart) {
    return starting_centres(comm_, shard_, options_, summary_.fixed, initial_, restart);
  }
  void begin(const RowMatrix<T>* previous) { assignment_.begin(previous); }
  std::int64_t assign(const RowMatrix<T>& centres) { return assignment_.assign(centres, sums_); }
  double reduce(const Comm& comm, const RowMatrix<T>& centres, std::span<std::int64_t> counters) {
    sums_.allreduce(comm, counters);
    totals_ = &assignment_.reduced(sums_);
    return assignment_.inertia(comm, centres, *totals_);
  }
  void fill_empty_clusters(const Comm& comm, const RowMatrix<T>& centres) {
    bool empty = false;
    for (Eigen::Index c = 0; c < centres.rows(); ++c) empty = empty || totals_->count(c) == 0;
    if (empty && relocate_empty_clusters(comm, shard_, assignment_.labels(), assignment_.distances(centres),
                                         summary_.fixed, *totals_) > 0)
      assignment_.relocated();
  }
  double update(const RowMatrix<T>& centres, RowMatrix<T>& updated) {
    totals_->means(summary_.fixed, updated);
    return squared_shift(centres, updated);
  }
  double finish(const Comm& comm, const RowMatrix<T>& centres, bool current) {
    return assignment_.finish(comm, centres, current);
  }
  std::vector<std::int32_t>& labels() { return assignment_.labels(); }

 private:
  const Comm& comm_;
  const DenseShard<T>& shard_;
  const KMeansOptions& options_;
  const DataSummary& summary_;
  const RowMatrix<T>* initial_;
  Assignment& assignment_;
  ClusterSums sums_;
  ClusterSums* totals_ = nullptr;
};

}  // namespace

template <class T>
LoopSettings prepare_dense_fit(const Comm& comm, const DenseShard<T>& shard, const KMeansOptions& options,
                               const RowMatrix<T>* initial, DataSummary& summary, KMeansResult<T>& result) {
  check_cluster_count(options.k, shard.global_rows);
  check_weighted_rows(comm, shard, options.k);
  if (initial) check_initial_centres(initial->rows(), initial->cols(), options.k, shard.features());
  {
    PhaseClock clock(result.phases.init);
    summary = summarize(comm, shard);
  }
  result.tol_absolute =
      options.tol_absolute >= 0 ? options.tol_absolute : options.tol * summary.mean_variance;
  return {initial ? 1 : std::max(options.n_init, 1), options.max_iter, result.tol_absolute, options.k,
          shard.features(), 0};
}

template <class T>
RowMatrix<T> starting_centres(const Comm& comm, const DenseShard<T>& shard, const KMeansOptions& options,
                              const FixedPoint& fixed, const RowMatrix<T>* initial, int restart) {
  if (initial) return *initial;
  return initial_centres(comm, shard, options.init, options.k, options.seed, restart, fixed,
                         {options.oversampling, options.init_rounds});
}

template <class T>
KMeansResult<T> fit_kmeans(const Comm& comm, const DenseShard<T>& shard,
                           const KMeansOptions& options, const RowMatrix<T>* initial,
                           const IterationObserver& observer, const FitControl<T>& control) {
  const auto start = Clock::now();
  KMeansResult<T> result;
  DataSummary summary;
  const LoopSettings settings = prepare_dense_fit(comm, shard, options, initial, summary, result);
  const Eigen::Index k = options.k, d = shard.features();
  result.algorithm = choose_algorithm(options.algorithm, k, d);
  if (result.algorithm == Algorithm::Lloyd) {
    FullStep<T> assignment(shard, k, summary);
    MeansStep<T, FullStep<T>> step(comm, shard, options, summary, initial, assignment);
    run_loop<T>(comm, step, settings, observer, control, start, result);
    return result;
  }
  // Yinyang: groups of about ten centres (Ding et al.); Hamerly: one.
  const int groups = result.algorithm == Algorithm::Yinyang ? static_cast<int>(std::max<Eigen::Index>(k / 10, 1)) : 1;
  BoundedStep<T> assignment(comm, shard, k, groups, summary);
  MeansStep<T, BoundedStep<T>> step(comm, shard, options, summary, initial, assignment);
  run_loop<T>(comm, step, settings, observer, control, start, result);
  result.bound_bytes = assignment.bound_bytes();
  result.distances_computed = assignment.distances_computed();
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
  return exact_total(comm, distances, shard.weights);  // weighted: scikit-learn's −score(X, sample_weight)
}

#define LLOYD_INSTANTIATE(T)                                                                   \
  template LoopSettings prepare_dense_fit(const Comm&, const DenseShard<T>&, const KMeansOptions&, \
                                          const RowMatrix<T>*, DataSummary&, KMeansResult<T>&);   \
  template RowMatrix<T> starting_centres(const Comm&, const DenseShard<T>&, const KMeansOptions&,  \
                                         const FixedPoint&, const RowMatrix<T>*, int);             \
  template KMeansResult<T> fit_kmeans(const Comm&, const DenseShard<T>&, const KMeansOptions&, \
                                      const RowMatrix<T>*, const IterationObserver&,           \
                                      const FitControl<T>&);                                   \
  template double predict_labels(const Comm&, const DenseShard<T>&, const RowMatrix<T>&,      \
                                 std::vector<std::int32_t>&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
