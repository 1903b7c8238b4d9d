#include "lloyd/kmeans/kmedians.hpp"

#include <bit>
#include <chrono>
#include <cmath>

#include "lloyd/exact_sum.hpp"
#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/kmeans/empty_clusters.hpp"
#include "lloyd/kmeans/init.hpp"
#include "lloyd/kmeans/phase_clock.hpp"
#include "lloyd/metrics/pairwise.hpp"

namespace lloyd {

namespace {

// A key whose unsigned order is the order of the doubles (−0 is folded onto +0 first).
std::uint64_t ordered_key(double value) {
  const auto bits = std::bit_cast<std::uint64_t>(value + 0.0);
  return bits >> 63 ? ~bits : bits | (std::uint64_t{1} << 63);
}
double from_key(std::uint64_t key) {
  return std::bit_cast<double>(key >> 63 ? key & ~(std::uint64_t{1} << 63) : ~key);
}

}  // namespace

template <class T>
RowMatrix<T> cluster_medians(const Comm& comm, const DenseShard<T>& shard,
                             std::span<const std::int32_t> labels, const RowMatrix<T>& previous) {
  const Eigen::Index k = previous.rows(), d = shard.features();
  std::vector<std::int64_t> counts(static_cast<std::size_t>(k), 0);
  for (const std::int32_t label : labels) ++counts[static_cast<std::size_t>(label)];
  comm.allreduce(std::span<std::int64_t>(counts), MPI_SUM);

  // For every (cluster, feature, which of the two middle values): the key bits found so far
  // and how many smaller values remain to skip inside the bin being refined.
  constexpr int kBins = 256;
  const auto slots = static_cast<std::size_t>(k * d * 2);
  std::vector<std::uint64_t> prefix(slots, 0);
  std::vector<std::int64_t> remaining(slots, 0);
  for (Eigen::Index c = 0; c < k; ++c)
    for (Eigen::Index j = 0; j < d; ++j) {
      const std::int64_t n = counts[static_cast<std::size_t>(c)];
      remaining[static_cast<std::size_t>((c * d + j) * 2)] = (n - 1) / 2;
      remaining[static_cast<std::size_t>((c * d + j) * 2 + 1)] = n / 2;
    }
  std::vector<std::int64_t> histogram(slots * kBins);
  for (int shift = 56; shift >= 0; shift -= 8) {
    std::fill(histogram.begin(), histogram.end(), 0);
    const std::uint64_t known_mask = shift == 56 ? 0 : ~std::uint64_t{0} << (shift + 8);
    for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
      const auto c = static_cast<Eigen::Index>(labels[static_cast<std::size_t>(i)]);
      const T* x = shard.row(i);
      for (Eigen::Index j = 0; j < d; ++j) {
        const std::uint64_t key = ordered_key(static_cast<double>(x[j]));
        const auto slot = static_cast<std::size_t>((c * d + j) * 2);
        for (std::size_t t = 0; t < 2; ++t)
          if ((key & known_mask) == prefix[slot + t])
            ++histogram[(slot + t) * kBins + ((key >> shift) & (kBins - 1))];
      }
    }
    comm.allreduce(std::span<std::int64_t>(histogram), MPI_SUM);
    for (std::size_t slot = 0; slot < slots; ++slot) {
      const std::int64_t* bins = &histogram[slot * kBins];
      std::int64_t skip = remaining[slot];
      int bin = 0;
      while (bin < kBins - 1 && skip >= bins[bin]) skip -= bins[bin++];
      prefix[slot] |= static_cast<std::uint64_t>(bin) << shift;
      remaining[slot] = skip;
    }
  }
  RowMatrix<T> medians = previous;
  for (Eigen::Index c = 0; c < k; ++c) {
    if (counts[static_cast<std::size_t>(c)] == 0) continue;
    for (Eigen::Index j = 0; j < d; ++j) {
      const auto slot = static_cast<std::size_t>((c * d + j) * 2);
      const double low = from_key(prefix[slot]), high = from_key(prefix[slot + 1]);
      medians(c, j) = static_cast<T>(low == high ? low : (low + high) / 2);
    }
  }
  return medians;
}

template <class T>
KMeansResult<T> fit_kmedians(const Comm& comm, const DenseShard<T>& shard,
                             const KMeansOptions& options, const RowMatrix<T>* initial,
                             const IterationObserver& observer) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  if (options.k < 1 || static_cast<std::uint64_t>(options.k) > shard.global_rows)
    throw AgreedError("k = " + std::to_string(options.k) + " must be between 1 and the number of rows (" +
                      std::to_string(shard.global_rows) + ")");
  KMeansResult<T> result;
  PhaseTimes& phases = result.phases;
  DataSummary summary;
  RowMatrix<T> centres;
  {
    PhaseClock clock(phases.init);
    summary = summarize(comm, shard);
    centres = initial ? *initial
                      : initial_centres(comm, shard, options.init, options.k, options.seed, 0,
                                        summary.fixed, {options.oversampling, options.init_rounds});
  }
  result.tol_absolute = options.tol * summary.mean_variance;
  const auto n_local = static_cast<std::size_t>(shard.local_rows());
  std::vector<std::int32_t> labels(n_local), previous(n_local, -1);
  std::vector<double> distances(n_local);
  auto exact_total = [&](std::span<const double> values) {
    ExactSum sum;
    for (const double v : values) sum.add(v);
    sum.allreduce(comm);
    return sum.value();
  };
  for (int iteration = 0; iteration < options.max_iter; ++iteration) {
    {
      PhaseClock clock(phases.assign);
      assign_nearest(shard, centres, Distance::Manhattan, labels, distances);
    }
    std::int64_t changed = 0;
    double inertia = 0;
    {
      PhaseClock clock(phases.reduce);
      for (std::size_t i = 0; i < n_local; ++i) changed += labels[i] != previous[i];
      changed = comm.allreduce(changed, MPI_SUM);
      inertia = exact_total(distances);
      std::vector<std::int64_t> counts(static_cast<std::size_t>(options.k), 0);
      for (const std::int32_t label : labels) ++counts[static_cast<std::size_t>(label)];
      comm.allreduce(std::span<std::int64_t>(counts), MPI_SUM);
      for (const ClusterMove& move : plan_empty_cluster_moves(comm, shard, labels, distances, counts))
        if (move.row >= shard.first_row && move.row < shard.first_row + n_local)
          labels[move.row - shard.first_row] = move.to;
    }
    RowMatrix<T> updated;
    {
      PhaseClock clock(phases.update);  // the distributed selection, reductions included
      updated = cluster_medians(comm, shard, labels, centres);
    }
    double shift = 0;
    for (Eigen::Index c = 0; c < centres.rows(); ++c)
      shift += squared_distance(centres.row(c).data(), updated.row(c).data(), centres.cols());
    centres = updated;
    result.n_iter = iteration + 1;
    result.inertia_history.push_back(inertia);
    result.center_shift_history.push_back(shift);
    if (observer)
      observer({0, iteration + 1, inertia, shift, changed,
                std::chrono::duration<double>(Clock::now() - start).count(), 1, options.max_iter});
    if (changed == 0 || shift <= result.tol_absolute) {
      result.converged = true;
      break;
    }
    std::swap(previous, labels);
  }
  {
    PhaseClock clock(phases.assign);
    assign_nearest(shard, centres, Distance::Manhattan, labels, distances);
    result.inertia = exact_total(distances);
  }
  result.init_inertia = result.inertia_history.front();
  result.restart_inertia = {result.inertia};
  result.centroids = std::move(centres);
  result.labels = std::move(labels);
  return result;
}

#define LLOYD_INSTANTIATE(T)                                                                  \
  template RowMatrix<T> cluster_medians(const Comm&, const DenseShard<T>&,                   \
                                        std::span<const std::int32_t>, const RowMatrix<T>&); \
  template KMeansResult<T> fit_kmedians(const Comm&, const DenseShard<T>&,                   \
                                        const KMeansOptions&, const RowMatrix<T>*,           \
                                        const IterationObserver&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
