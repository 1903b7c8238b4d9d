#include "lloyd/metrics/silhouette.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "lloyd/error.hpp"
#include "lloyd/core/exact_sum.hpp"
#include "lloyd/int128.hpp"
#include "lloyd/kmeans/selection.hpp"
#include "lloyd/metrics/labels.hpp"
#include "lloyd/core/distance.hpp"
#include "lloyd/rng.hpp"

namespace lloyd {

namespace {

using pairwise::kTile;
using pairwise::Tile;

/// One kTile-row tile of a block: its rows (see pairwise::TileRows) and one-hot labels.
struct TileSide : pairwise::TileRows {
  explicit TileSide(Eigen::Index d, std::int32_t k) : TileRows(d), one_hot(kTile, k) {}
  template <class T>
  void load(const T* rows, std::uint64_t first, std::uint64_t count,
            const std::vector<double>& block_norms, const std::int32_t* labels,
            std::uint64_t tile_start) {
    TileRows::load(rows, first, count, block_norms, tile_start);
    one_hot.setZero();
    for (std::uint64_t g = range.begin; g < range.end; ++g)
      one_hot(static_cast<Eigen::Index>(g - tile_start), labels[g - first]) = 1.0;
  }
  Tile one_hot;
};

/// Quantised Euclidean distances of lhs's rows (rows of `out`) to rhs's rows (columns).
void quantised_distances(const TileSide& lhs, const TileSide& rhs, double scale, Tile& out) {
  pairwise::quantised_distances(Distance::Euclidean, lhs, rhs, scale, out);
}

/// Adds the per-cluster sums of `partial` (kTile × k, exact integers in doubles) to the
/// Int128 sums of the tile's rows.
void add_sums(const Tile& partial, const TileSide& side, std::uint64_t block_first, std::int32_t k,
              std::vector<Int128>& sums) {
  for (std::uint64_t g = side.range.begin; g < side.range.end; ++g) {
    Int128* target = &sums[(g - block_first) * static_cast<std::uint64_t>(k)];
    const double* source = partial.row(static_cast<Eigen::Index>(g - side.start)).data();
    for (std::int32_t c = 0; c < k; ++c) target[c] += static_cast<std::int64_t>(source[c]);
  }
}

}  // namespace

template <class T>
SilhouetteResult silhouette(const Comm& comm, const DenseShard<T>& shard,
                            std::span<const std::int32_t> labels) {
  const Eigen::Index d = shard.features();
  const std::uint64_t n = shard.global_rows;
  const std::uint64_t local = static_cast<std::uint64_t>(shard.local_rows());
  const std::int32_t k = check_cluster_labels(comm, labels, "labels");
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(k), 0);
  for (const std::int32_t label : labels) ++sizes[static_cast<std::size_t>(label)];
  comm.allreduce(std::span<std::int64_t>(sizes), MPI_SUM);
  const auto used = std::count_if(sizes.begin(), sizes.end(), [](std::int64_t s) { return s > 0; });
  if (used < 2 || static_cast<std::uint64_t>(used) > n - 1)
    throw AgreedError("the silhouette needs 2 to n-1 clusters (got " + std::to_string(used) +
                      " clusters for " + std::to_string(n) + " rows)");
  const double scale = pairwise::fixed_point_scale(comm, shard, Distance::Euclidean);

  // Where every rank's block starts and how long it is: the ring passes blocks, not headers.
  const std::uint64_t mine[2] = {shard.first_row, local};
  const std::vector<std::uint64_t> layout =
      comm.allgatherv(std::span<const std::uint64_t>(mine, 2));
  std::uint64_t capacity = 0;
  for (int r = 0; r < comm.size(); ++r) capacity = std::max(capacity, layout[2 * r + 1]);
  const std::uint64_t k64 = static_cast<std::uint64_t>(k);

  // Each pair of rows is visited once (a half ring): rank r meets the blocks of ranks r,
  // r-1, …, r-⌊p/2⌋, and adds each distance to both rows' sums. The sums of the visiting
  // rows travel with them and go home at the end. With p even, the blocks p/2 apart meet
  // twice, so in that last step each of the two ranks takes half of their tile pairs.
  std::vector<T> visiting(capacity * static_cast<std::uint64_t>(d));
  std::vector<std::int32_t> visiting_labels(capacity);
  std::vector<Int128> sums(local * k64, Int128{0}), visiting_sums;
  const int ranks = comm.size();
  const int last_step = ranks / 2;
  if (last_step > 0) {
    std::copy_n(shard.rows.data(), local * static_cast<std::uint64_t>(d), visiting.begin());
    std::copy(labels.begin(), labels.end(), visiting_labels.begin());
    visiting_sums.assign(capacity * k64, Int128{0});
  }
  const std::vector<double> own_norms = pairwise::row_norms(Distance::Euclidean, shard.rows.data(), local, d);
  TileSide own(d, k), other(d, k);
  Tile distances(kTile, kTile), partial(kTile, k);
  const std::uint64_t o_begin = shard.first_row / kTile * kTile, o_end = shard.first_row + local;

  for (int step = 0; step <= last_step; ++step) {
    if (step > 0) {
      pairwise::shift_bytes(comm, visiting.data(), visiting.size() * sizeof(T), 0);
      pairwise::shift_bytes(comm, visiting_labels.data(), capacity * sizeof(std::int32_t), 1);
      pairwise::shift_bytes(comm, visiting_sums.data(), visiting_sums.size() * sizeof(Int128), 2);
    }
    const int owner = (comm.rank() - step + ranks) % ranks;
    const bool both = step > 0;
    const bool halved = step > 0 && ranks % 2 == 0 && step == last_step;
    const std::uint64_t my_parity = comm.rank() < owner ? 0 : 1;
    const T* v_rows = step == 0 ? shard.rows.data() : visiting.data();
    const std::int32_t* v_labels = step == 0 ? labels.data() : visiting_labels.data();
    const std::uint64_t v_first = layout[2 * owner], v_count = layout[2 * owner + 1];
    std::vector<Int128>& v_sums = step == 0 ? sums : visiting_sums;
    const std::vector<double> v_norms = step == 0 ? own_norms : pairwise::row_norms(Distance::Euclidean, v_rows, v_count, d);
    for (std::uint64_t v_tile = v_first / kTile * kTile; v_tile < v_first + v_count;
         v_tile += kTile) {
      other.load(v_rows, v_first, v_count, v_norms, v_labels, v_tile);
      for (std::uint64_t o_tile = o_begin; o_tile < o_end; o_tile += kTile) {
        if (step == 0 && o_tile > v_tile) continue;  // the pair (v_tile, o_tile) did it
        if (halved && (o_tile / kTile + v_tile / kTile) % 2 != my_parity) continue;
        own.load(shard.rows.data(), shard.first_row, local, own_norms, labels.data(), o_tile);
        // A pair of different tiles is always computed with the lower tile on the left, so
        // its bits do not depend on which rank computes it.
        if (o_tile < v_tile) {
          quantised_distances(own, other, scale, distances);
          // Integer-valued doubles below 2^52 in total: these products are exact.
          partial.noalias() = distances * other.one_hot;
          add_sums(partial, own, shard.first_row, k, sums);
          if (both || step == 0) {
            partial.noalias() = distances.transpose() * own.one_hot;
            add_sums(partial, other, v_first, k, v_sums);
          }
        } else if (o_tile > v_tile) {
          quantised_distances(other, own, scale, distances);
          partial.noalias() = distances.transpose() * other.one_hot;
          add_sums(partial, own, shard.first_row, k, sums);
          if (both) {
            partial.noalias() = distances * own.one_hot;
            add_sums(partial, other, v_first, k, v_sums);
          }
        } else {  // one tile, maybe split between two ranks: each side from its own rows
          quantised_distances(own, other, scale, distances);
          partial.noalias() = distances * other.one_hot;
          add_sums(partial, own, shard.first_row, k, sums);
          if (both) {
            quantised_distances(other, own, scale, distances);
            partial.noalias() = distances * own.one_hot;
            add_sums(partial, other, v_first, k, v_sums);
          }
        }
      }
    }
  }
  if (last_step > 0) {
    // The visiting sums belong to the block `last_step` ranks back: send them home.
    std::vector<Int128> returned(capacity * k64);
    check_mpi(
        MPI_Sendrecv(visiting_sums.data(), static_cast<int>(visiting_sums.size() * sizeof(Int128)),
                     MPI_BYTE, (comm.rank() - last_step + ranks) % ranks, 3, returned.data(),
                     static_cast<int>(returned.size() * sizeof(Int128)), MPI_BYTE,
                     (comm.rank() + last_step) % ranks, 3, comm.get(), MPI_STATUS_IGNORE),
        "MPI_Sendrecv");
    for (std::uint64_t i = 0; i < local * k64; ++i) sums[i] += returned[i];
  }

  SilhouetteResult result;
  result.rows = n;
  result.values.resize(local);
  ExactSum total;
  for (std::uint64_t i = 0; i < local; ++i) {
    const std::int32_t own_cluster = labels[i];
    const std::int64_t own_size = sizes[static_cast<std::size_t>(own_cluster)];
    const Int128* row_sums = &sums[i * static_cast<std::uint64_t>(k)];
    double s = 0;
    if (own_size > 1) {
      const double a =
          static_cast<double>(row_sums[own_cluster]) / scale / static_cast<double>(own_size - 1);
      double b = std::numeric_limits<double>::infinity();
      for (std::int32_t c = 0; c < k; ++c)
        if (c != own_cluster && sizes[static_cast<std::size_t>(c)] > 0)
          b = std::min(b, static_cast<double>(row_sums[c]) / scale /
                              static_cast<double>(sizes[static_cast<std::size_t>(c)]));
      const double largest = std::max(a, b);
      s = largest > 0 ? (b - a) / largest : 0.0;  // scikit-learn: nan_to_num(0/0) = 0
    }
    result.values[i] = s;
    total.add(s);
  }
  total.allreduce(comm);
  result.mean = total.value() / static_cast<double>(n);
  return result;
}

template <class T>
SilhouetteResult sampled_silhouette(const Comm& comm, const DenseShard<T>& shard,
                                    std::span<const std::int32_t> labels, std::uint64_t sample_size,
                                    std::uint64_t seed) {
  if (sample_size < 2)
    throw AgreedError("the silhouette sample size must be at least 2 (got " +
                      std::to_string(sample_size) + ")");
  if (sample_size >= shard.global_rows) return silhouette(comm, shard, labels);
  const CounterRng rng(seed);
  std::vector<Eigen::Index> kept;
  const DenseShard<T> sample = subset_shard(
      comm, shard,
      distinct_random_rows(comm, shard, static_cast<std::size_t>(sample_size), rng,
                           stream_id(Stream::SilhouetteSample)),
      kept);
  std::vector<std::int32_t> sample_labels;
  for (const Eigen::Index i : kept) sample_labels.push_back(labels[static_cast<std::size_t>(i)]);
  SilhouetteResult result = silhouette(comm, sample, sample_labels);
  ExactSum squares;
  for (const double s : result.values) squares.add((s - result.mean) * (s - result.mean));
  squares.allreduce(comm);
  const double m = static_cast<double>(sample_size);
  result.standard_error = std::sqrt(squares.value() / (m - 1)) / std::sqrt(m);
  result.sampled = true;
  result.values.clear();
  return result;
}

template SilhouetteResult silhouette(const Comm&, const DenseShard<float>&,
                                     std::span<const std::int32_t>);
template SilhouetteResult silhouette(const Comm&, const DenseShard<double>&,
                                     std::span<const std::int32_t>);
template SilhouetteResult sampled_silhouette(const Comm&, const DenseShard<float>&,
                                             std::span<const std::int32_t>, std::uint64_t,
                                             std::uint64_t);
template SilhouetteResult sampled_silhouette(const Comm&, const DenseShard<double>&,
                                             std::span<const std::int32_t>, std::uint64_t,
                                             std::uint64_t);

}  // namespace lloyd
