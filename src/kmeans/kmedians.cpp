#include "lloyd/kmeans/nearest.hpp"
#include "lloyd/kmeans/kmedians.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <type_traits>

#include "lloyd/core/exact_sum.hpp"
#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/kmeans/empty_clusters.hpp"
#include "lloyd/kmeans/init.hpp"
#include "lloyd/kmeans/phase_clock.hpp"
#include "lloyd/core/distance.hpp"

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

// The radix selection of both: for every (cluster, feature, which of the two middle values)
// slot, 8 passes each fix 8 more bits of the key from a 256-bin histogram of the rows' units
// (unit_of(i): 1 a row, or its weight in integer units; 0 leaves the row out), reduced over
// the ranks; choose(bins, remaining) picks a slot's bin and updates what remains to pass
// inside it. Returns the keys, two per (cluster, feature). Collective over comm.
template <class T, class Count, class UnitOf, class Choose>
std::vector<std::uint64_t> middle_keys(const Comm& comm, const DenseShard<T>& shard, std::span<const std::int32_t> labels,
                                       Eigen::Index k, std::vector<Count> remaining, UnitOf unit_of, Choose choose) {
  const Eigen::Index d = shard.features();
  constexpr int kBins = 256;
  const auto slots = static_cast<std::size_t>(k * d * 2);
  std::vector<std::uint64_t> prefix(slots, 0);
  std::vector<Count> histogram(slots * kBins);
  for (int shift = 56; shift >= 0; shift -= 8) {
    std::fill(histogram.begin(), histogram.end(), Count{0});
    const std::uint64_t known_mask = shift == 56 ? 0 : ~std::uint64_t{0} << (shift + 8);
    for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
      const Count unit = unit_of(i);
      if (unit == 0) continue;
      const auto c = static_cast<Eigen::Index>(labels[static_cast<std::size_t>(i)]);
      const T* x = shard.row(i);
      for (Eigen::Index j = 0; j < d; ++j) {
        const std::uint64_t key = ordered_key(static_cast<double>(x[j]));
        const auto slot = static_cast<std::size_t>((c * d + j) * 2);
        for (std::size_t t = 0; t < 2; ++t)
          if ((key & known_mask) == prefix[slot + t])
            histogram[(slot + t) * kBins + ((key >> shift) & (kBins - 1))] += unit;
      }
    }
    // In pieces: a reduction of the whole histogram (k·d·2·256 counts, 67 MB at k = 64,
    // d = 256) makes MPI allocate a temporary copy of it on every rank.
    constexpr std::size_t kPiece = (std::size_t{1} << 20) / sizeof(Count);
    for (std::size_t begin = 0; begin < histogram.size(); begin += kPiece) {
      const std::span<Count> piece(histogram.data() + begin, std::min(kPiece, histogram.size() - begin));
      if constexpr (std::is_same_v<Count, Int128>) comm.allreduce_sum(piece);
      else comm.allreduce(piece, MPI_SUM);
    }
    for (std::size_t slot = 0; slot < slots; ++slot)
      prefix[slot] |= static_cast<std::uint64_t>(choose(slot, &histogram[slot * kBins], kBins, remaining[slot])) << shift;
  }
  return prefix;
}

// The medians from the two middle keys of every (cluster, feature): their mean when they
// differ; clusters without members (`members(c)` false) keep `previous`'s row.
template <class T, class Members>
RowMatrix<T> medians_of(const std::vector<std::uint64_t>& prefix, const RowMatrix<T>& previous, Members members) {
  RowMatrix<T> medians = previous;
  const Eigen::Index d = previous.cols();
  for (Eigen::Index c = 0; c < previous.rows(); ++c) {
    if (!members(c)) continue;
    for (Eigen::Index j = 0; j < d; ++j) {
      const auto slot = static_cast<std::size_t>((c * d + j) * 2);
      const double low = from_key(prefix[slot]), high = from_key(prefix[slot + 1]);
      medians(c, j) = static_cast<T>(low == high ? low : (low + high) / 2);
    }
  }
  return medians;
}

// cluster_medians with sample weights: the weighted median, numpy.median of the rows repeated
// as often as their weight says. Each row occupies an interval of length w in the sorted
// order of a (cluster, feature), of total W: the median is the value whose interval holds
// W/2, or the mean of the two values that meet there. So the lower middle value is the
// smallest v with 2·(weight of values ≤ v) ≥ W, the upper one the smallest with > W. The
// weights are summed as integers (each rounded once to the grid of the largest weight,
// exact for integer weights below 2^52: the same medians as repeated rows), so the bins'
// totals and the medians are the same for every number of ranks. Collective over comm.
template <class T>
RowMatrix<T> weighted_cluster_medians(const Comm& comm, const DenseShard<T>& shard,
                                      std::span<const std::int32_t> labels, const RowMatrix<T>& previous) {
  const Eigen::Index k = previous.rows(), d = shard.features();
  // One int64 a row (no Int128 copy of them: 16 bytes a row more).
  const std::vector<std::int64_t> units = fixed_point_weights(comm, shard.weights);
  std::vector<Int128> totals(static_cast<std::size_t>(k), 0);
  for (std::size_t i = 0; i < units.size(); ++i) totals[static_cast<std::size_t>(labels[i])] += units[i];
  comm.allreduce_sum(totals);
  // Per slot, twice the weight still to pass inside the bin being refined (W at the start).
  std::vector<Int128> remaining(static_cast<std::size_t>(k * d * 2));
  for (std::size_t slot = 0; slot < remaining.size(); ++slot) remaining[slot] = totals[slot / 2 / static_cast<std::size_t>(d)];
  const std::vector<std::uint64_t> keys = middle_keys<T, Int128>(
      comm, shard, labels, k, std::move(remaining), [&](Eigen::Index i) { return Int128{units[static_cast<std::size_t>(i)]}; },
      [](std::size_t slot, const Int128* bins, int count, Int128& rest) {
        const bool upper = slot % 2 == 1;
        Int128 passed = 0;  // twice the weight of the bins before
        int bin = 0;
        for (; bin < count - 1; ++bin) {
          const Int128 through = passed + 2 * bins[bin];
          if (upper ? through > rest : through >= rest) break;
          passed = through;
        }
        rest -= passed;
        return bin;
      });
  return medians_of(keys, previous, [&](Eigen::Index c) { return totals[static_cast<std::size_t>(c)] != 0; });
}

}  // namespace

template <class T>
RowMatrix<T> cluster_medians(const Comm& comm, const DenseShard<T>& shard,
                             std::span<const std::int32_t> labels, const RowMatrix<T>& previous) {
  if (shard.weighted()) return weighted_cluster_medians(comm, shard, labels, previous);
  const Eigen::Index k = previous.rows(), d = shard.features();
  std::vector<std::int64_t> counts(static_cast<std::size_t>(k), 0);
  for (const std::int32_t label : labels) ++counts[static_cast<std::size_t>(label)];
  comm.allreduce(std::span<std::int64_t>(counts), MPI_SUM);
  // Per slot, how many smaller values remain to skip inside the bin being refined.
  std::vector<std::int64_t> remaining(static_cast<std::size_t>(k * d * 2), 0);
  for (Eigen::Index c = 0; c < k; ++c)
    for (Eigen::Index j = 0; j < d; ++j) {
      const std::int64_t n = counts[static_cast<std::size_t>(c)];
      remaining[static_cast<std::size_t>((c * d + j) * 2)] = (n - 1) / 2;
      remaining[static_cast<std::size_t>((c * d + j) * 2 + 1)] = n / 2;
    }
  const std::vector<std::uint64_t> keys = middle_keys<T, std::int64_t>(
      comm, shard, labels, k, std::move(remaining), [](Eigen::Index) { return std::int64_t{1}; },
      [](std::size_t, const std::int64_t* bins, int count, std::int64_t& skip) {
        int bin = 0;
        while (bin < count - 1 && skip >= bins[bin]) skip -= bins[bin++];
        return bin;
      });
  return medians_of(keys, previous, [&](Eigen::Index c) { return counts[static_cast<std::size_t>(c)] != 0; });
}

namespace {

// K-medians' step: the nearest centre in L1, the farthest rows moved to empty clusters
// (plan_empty_cluster_moves, on the labels), the exact medians as the new centres. Per row it
// keeps only the label: an assignment runs kPieceRows rows at a time, counting the changed
// labels and summing the distances exactly as it goes, and the distances the empty-cluster
// rule needs are computed again only when a cluster is empty.
template <class T>
class MediansStep {
 public:
  MediansStep(const Comm& comm, const DenseShard<T>& shard, const KMeansOptions& options,
              const DataSummary& summary, const RowMatrix<T>* initial)
      : comm_(comm), shard_(shard), options_(options), summary_(summary), initial_(initial) {}

  // The labels exist from begin() on: none is held while the seeding keeps its own (a
  // restart's are released before the next seeding).
  RowMatrix<T> seed(int restart) {
    std::vector<std::int32_t>().swap(labels_);
    return starting_centres(comm_, shard_, options_, summary_.fixed, initial_, restart);
  }
  // The first iteration compares with the labels of the last one before a stop: the
  // assignment to its centres with that iteration's empty-cluster moves.
  void begin(const RowMatrix<T>* previous_centroids) {
    labels_.assign(static_cast<std::size_t>(shard_.local_rows()), -1);
    if (!previous_centroids) return;
    assign_pieces(*previous_centroids);
    fill_empty_clusters(comm_, *previous_centroids);
  }
  std::int64_t assign(const RowMatrix<T>& centres) { return assign_pieces(centres); }
  double reduce(const Comm& comm, const RowMatrix<T>&, std::span<std::int64_t> counters) {
    comm.allreduce(counters, MPI_SUM);
    return total(comm);
  }
  void fill_empty_clusters(const Comm& comm, const RowMatrix<T>& centres) {
    // The rows of each cluster (with sample weights, of positive weight: a cluster without
    // weight is empty).
    std::vector<std::int64_t> counts(static_cast<std::size_t>(options_.k), 0);
    for (std::size_t i = 0; i < labels_.size(); ++i)
      counts[static_cast<std::size_t>(labels_[i])] += shard_.weight(static_cast<Eigen::Index>(i)) > 0;
    comm.allreduce(std::span<std::int64_t>(counts), MPI_SUM);
    if (std::find(counts.begin(), counts.end(), 0) == counts.end()) return;  // the same on every rank
    // `labels_` are the assignment to `centres`: the same labels, with their distances.
    std::vector<std::int32_t> labels(labels_.size());
    std::vector<double> distances(labels_.size());
    assign_nearest(shard_, centres, Distance::Manhattan, std::span<std::int32_t>(labels), std::span<double>(distances));
    const auto n_local = static_cast<std::uint64_t>(labels_.size());
    for (const ClusterMove& move : plan_empty_cluster_moves(comm, shard_, labels_, distances, counts))
      if (move.row >= shard_.first_row && move.row < shard_.first_row + n_local)
        labels_[move.row - shard_.first_row] = move.to;
  }
  // Collective (the distributed selection).
  double update(const RowMatrix<T>& centres, RowMatrix<T>& updated) {
    updated = cluster_medians(comm_, shard_, labels_, centres);
    double shift = 0;
    for (Eigen::Index c = 0; c < centres.rows(); ++c)
      shift += squared_distance(centres.row(c).data(), updated.row(c).data(), centres.cols());
    return shift;
  }
  // The labels of the final centres are always assigned afresh (the moves may have changed
  // the last ones).
  double finish(const Comm& comm, const RowMatrix<T>& centres, bool) {
    assign_pieces(centres);
    return total(comm);
  }
  std::vector<std::int32_t>& labels() { return labels_; }

 private:
  static constexpr Eigen::Index kPieceRows = kPassPieceRows;

  // Every row assigned to `centres`, a piece at a time (views of the shard, no copy):
  // the labels in place, the distances summed exactly (with sample weights, weighted) into
  // inertia_; returns the labels that changed.
  std::int64_t assign_pieces(const RowMatrix<T>& centres) {
    inertia_ = ExactSum{};
    std::int64_t changed = 0;
    const Eigen::Index n = shard_.local_rows(), d = shard_.features();
    std::vector<std::int32_t> labels;
    std::vector<double> distances;
    for (Eigen::Index at = 0; at < n; at += kPieceRows) {
      const Eigen::Index count = std::min(kPieceRows, n - at);
      const DenseShard<T> piece = DenseShard<T>::view_of(shard_.row(at), count, d, shard_.global_rows,
                                                         shard_.first_row + static_cast<std::uint64_t>(at));
      labels.resize(static_cast<std::size_t>(count));
      distances.resize(static_cast<std::size_t>(count));
      assign_nearest(piece, centres, Distance::Manhattan, std::span<std::int32_t>(labels), std::span<double>(distances));
      const auto first = static_cast<std::size_t>(at);
      for (std::size_t r = 0; r < labels.size(); ++r) {
        changed += labels[r] != labels_[first + r];
        labels_[first + r] = labels[r];
      }
      inertia_.add(distances, shard_.weighted() ? std::span<const double>(shard_.weights).subspan(first, labels.size())
                                                : std::span<const double>());
    }
    return changed;
  }
  // Collective: the exact inertia of the last assignment.
  double total(const Comm& comm) const {
    ExactSum sum = inertia_;
    sum.allreduce(comm);
    return sum.value();
  }

  const Comm& comm_;
  const DenseShard<T>& shard_;
  const KMeansOptions& options_;
  const DataSummary& summary_;
  const RowMatrix<T>* initial_;
  std::vector<std::int32_t> labels_;
  ExactSum inertia_;
};

}  // namespace

template <class T>
KMeansResult<T> fit_kmedians(const Comm& comm, const DenseShard<T>& shard,
                             const KMeansOptions& options, const RowMatrix<T>* initial,
                             const IterationObserver& observer, const FitControl<T>& control) {
  const auto start = std::chrono::steady_clock::now();
  KMeansResult<T> result;
  DataSummary summary;
  const LoopSettings settings = prepare_dense_fit(comm, shard, options, initial, summary, result);
  MediansStep<T> step(comm, shard, options, summary, initial);
  run_loop<T>(comm, step, settings, observer, control, start, result);
  return result;
}

#define LLOYD_INSTANTIATE(T)                                                                  \
  template RowMatrix<T> cluster_medians(const Comm&, const DenseShard<T>&,                   \
                                        std::span<const std::int32_t>, const RowMatrix<T>&); \
  template KMeansResult<T> fit_kmedians(const Comm&, const DenseShard<T>&,                   \
                                        const KMeansOptions&, const RowMatrix<T>*,           \
                                        const IterationObserver&, const FitControl<T>&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
