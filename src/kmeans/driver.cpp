#include "lloyd/kmeans/driver.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/cluster_sums.hpp"
#include "lloyd/kmeans/empty_clusters.hpp"
#include "lloyd/kmeans/init.hpp"

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
  std::vector<double> inertia_history, shift_history;
};

// One Lloyd run from `centroids` (updated in place); labels of the final centres.
template <class T>
SingleRun lloyd(const Comm& comm, const DenseShard<T>& shard, const KMeansOptions& options,
                const DataSummary& summary, double tol_absolute, int restart,
                RowMatrix<T>& centroids, std::vector<std::int32_t>& labels,
                const IterationObserver& observer, Clock::time_point start) {
  const Eigen::Index k = centroids.rows(), d = shard.features();
  const auto n_local = static_cast<std::size_t>(shard.local_rows());
  Assigner<T> assigner(d, k);
  ClusterSums sums(k, d);
  std::vector<std::int32_t> previous(n_local, -1);
  labels.assign(n_local, 0);
  std::vector<double> distances(n_local);
  RowMatrix<T> updated = centroids;

  SingleRun run;
  bool strict = false, moved_last = true;
  for (int iteration = 0; iteration < options.max_iter; ++iteration) {
    sums.reset();
    assigner.assign(shard, centroids, labels, distances, &sums, &summary.fixed);
    std::int64_t changed = 0;
    for (std::size_t i = 0; i < n_local; ++i) changed += labels[i] != previous[i];
    sums.allreduce(comm, std::span<std::int64_t>(&changed, 1));
    const double inertia = exact_total(comm, distances);
    relocate_empty_clusters(comm, shard, labels, distances, summary.fixed, sums);

    updated = centroids;
    sums.means(summary.fixed, updated);
    const double shift = squared_shift(centroids, updated);
    moved_last = std::memcmp(centroids.data(), updated.data(), sizeof(T) * k * d) != 0;
    std::swap(centroids, updated);
    run.n_iter = iteration + 1;
    run.inertia_history.push_back(inertia);
    run.shift_history.push_back(shift);
    if (observer)
      observer({restart, iteration + 1, inertia, shift, changed,
                std::chrono::duration<double>(Clock::now() - start).count()});
    if (changed == 0) {
      strict = true;
      break;
    }
    if (shift <= tol_absolute) {
      run.converged = true;
      break;
    }
    std::swap(previous, labels);
  }
  run.converged = run.converged || strict;
  if (strict && !moved_last) {
    // The labels did not change and the centres are their means already: nothing to redo.
    run.inertia = run.inertia_history.back();
  } else {
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
                           const IterationObserver& observer) {
  const auto start = Clock::now();
  if (options.k < 1) throw AgreedError("k must be at least 1 (got " + std::to_string(options.k) + ")");
  if (static_cast<std::uint64_t>(options.k) > shard.global_rows)
    throw AgreedError("k = " + std::to_string(options.k) + " exceeds the number of rows (" +
                      std::to_string(shard.global_rows) + ")");
  if (initial && (initial->rows() != options.k || initial->cols() != shard.features()))
    throw AgreedError("initial centres are " + std::to_string(initial->rows()) + " x " +
                      std::to_string(initial->cols()) + "; expected k x d = " +
                      std::to_string(options.k) + " x " + std::to_string(shard.features()));

  const DataSummary summary = summarize(comm, shard);
  KMeansResult<T> best;
  best.tol_absolute = options.tol * summary.mean_variance;
  const int restarts = initial ? 1 : std::max(options.n_init, 1);
  for (int restart = 0; restart < restarts; ++restart) {
    RowMatrix<T> centroids = initial ? *initial
                                     : initial_centres(comm, shard, options.init, options.k,
                                                       options.seed, restart, summary.fixed);
    std::vector<std::int32_t> labels;
    SingleRun run = lloyd(comm, shard, options, summary, best.tol_absolute, restart, centroids,
                          labels, observer, start);
    best.restart_inertia.push_back(run.inertia);
    if (restart == 0 || run.inertia < best.inertia) {
      best.centroids = std::move(centroids);
      best.labels = std::move(labels);
      best.inertia = run.inertia;
      best.n_iter = run.n_iter;
      best.converged = run.converged;
      best.best_restart = restart;
      best.inertia_history = std::move(run.inertia_history);
      best.center_shift_history = std::move(run.shift_history);
    }
  }
  return best;
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
                                      const RowMatrix<T>*, const IterationObserver&);          \
  template double predict_labels(const Comm&, const DenseShard<T>&, const RowMatrix<T>&,      \
                                 std::vector<std::int32_t>&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
