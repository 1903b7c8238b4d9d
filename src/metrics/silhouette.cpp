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

/// The one-hot labels (kTile × k) of a tile's rows; padding rows stay 0, so they add nothing.
void load_one_hot(Tile& one_hot, RowRange range, std::uint64_t tile_start, const std::int32_t* labels,
                  std::uint64_t first) {
  one_hot.setZero();
  for (std::uint64_t g = range.begin; g < range.end; ++g)
    one_hot(static_cast<Eigen::Index>(g - tile_start), labels[g - first]) = 1.0;
}

/// Dense rows on the ring, Euclidean distances in the GEMM form over tiles.
template <class T>
class DenseRing {
 public:
  /// One kTile-row tile of a block: its rows (see pairwise::TileRows) and one-hot labels.
  struct Side : pairwise::TileRows {
    Side(Eigen::Index d, std::int32_t k) : TileRows(d), one_hot(kTile, k) {}
    Tile one_hot;
  };
  explicit DenseRing(const DenseShard<T>& shard)
      : shard_(shard), own_norms_(pairwise::row_norms(Distance::Euclidean, shard.rows.data(), rows(), features())) {}
  Side side(std::int32_t k) const { return Side(features(), k); }
  std::uint64_t rows() const { return static_cast<std::uint64_t>(shard_.local_rows()); }
  std::uint64_t stored() const { return 0; }  ///< the rows are all there is to carry
  /// The visiting block starts as this rank's own, with room for the largest block.
  void start_visiting(std::uint64_t capacity_rows, std::uint64_t) {
    visiting_.assign(capacity_rows * static_cast<std::uint64_t>(features()), T{0});
    std::copy_n(shard_.rows.data(), rows() * static_cast<std::uint64_t>(features()), visiting_.begin());
  }
  void shift(const Comm& comm, std::uint64_t visiting_count) {
    pairwise::shift_bytes(comm, visiting_.data(), visiting_.size() * sizeof(T), 0);
    visiting_norms_ = pairwise::row_norms(Distance::Euclidean, visiting_.data(), visiting_count, features());
  }
  void load(Side& side, bool visiting, const std::int32_t* labels, std::uint64_t first, std::uint64_t count,
            std::uint64_t tile_start) const {
    side.TileRows::load(visiting ? visiting_.data() : shard_.rows.data(), first, count,
                        visiting ? visiting_norms_ : own_norms_, tile_start);
    load_one_hot(side.one_hot, side.range, tile_start, labels, first);
  }
  void distances(const Side& lhs, const Side& rhs, double scale, Tile& out) const {
    pairwise::quantised_distances(Distance::Euclidean, lhs, rhs, scale, out);
  }

 private:
  Eigen::Index features() const { return shard_.features(); }
  const DenseShard<T>& shard_;
  std::vector<T> visiting_;
  std::vector<double> own_norms_, visiting_norms_;
};

/// Unit CSR rows on the ring, cosine distances: the blocks travel as their three CSR arrays,
/// and only the tile on the right is rearranged, by column (quantised_unit_cosines).
template <class T>
class SparseRing {
 public:
  struct Side : pairwise::SparseTileRows<T> {
    Side(std::int32_t k) : one_hot(kTile, k) {}
    Tile one_hot;
  };
  explicit SparseRing(const CsrShard<T>& shard) : shard_(shard), by_column_(shard.columns) {}
  Side side(std::int32_t k) const { return Side(k); }
  std::uint64_t rows() const { return static_cast<std::uint64_t>(shard_.local_rows()); }
  std::uint64_t stored() const { return shard_.nonzeros(); }
  void start_visiting(std::uint64_t capacity_rows, std::uint64_t capacity_stored) {
    indptr_.assign(capacity_rows + 1, 0);
    indices_.assign(capacity_stored, 0);
    values_.assign(capacity_stored, T{0});
    std::copy(shard_.indptr.begin(), shard_.indptr.end(), indptr_.begin());
    std::copy(shard_.indices.begin(), shard_.indices.end(), indices_.begin());
    std::copy(shard_.values.begin(), shard_.values.end(), values_.begin());
  }
  void shift(const Comm& comm, std::uint64_t) {
    pairwise::shift_bytes(comm, indptr_.data(), indptr_.size() * sizeof(std::int64_t), 0);
    pairwise::shift_bytes(comm, indices_.data(), indices_.size() * sizeof(std::int32_t), 4);
    pairwise::shift_bytes(comm, values_.data(), values_.size() * sizeof(T), 5);
  }
  void load(Side& side, bool visiting, const std::int32_t* labels, std::uint64_t first, std::uint64_t count,
            std::uint64_t tile_start) const {
    if (visiting)
      side.load(indptr_.data(), indices_.data(), values_.data(), first, count, tile_start);
    else
      side.load(shard_.indptr.data(), shard_.indices.data(), shard_.values.data(), first, count, tile_start);
    load_one_hot(side.one_hot, side.range, tile_start, labels, first);
  }
  void distances(const Side& lhs, const Side& rhs, double scale, Tile& out) const {
    pairwise::quantised_unit_cosines(lhs, rhs, scale, by_column_, out);
  }

 private:
  const CsrShard<T>& shard_;
  std::vector<std::int64_t> indptr_;
  std::vector<std::int32_t> indices_;
  std::vector<T> values_;
  mutable pairwise::SparseColumnScratch by_column_;
};

/// Adds the per-cluster sums of `partial` (kTile × k, exact integers in doubles) to the
/// exact sums (int64 or Int128, see kInt64DistanceSumRows) of the tile's rows.
template <class Sum, class Side>
void add_sums(const Tile& partial, const Side& side, std::uint64_t block_first, std::int32_t k,
              std::vector<Sum>& sums) {
  for (std::uint64_t g = side.range.begin; g < side.range.end; ++g) {
    Sum* target = &sums[(g - block_first) * static_cast<std::uint64_t>(k)];
    const double* source = partial.row(static_cast<Eigen::Index>(g - side.start)).data();
    for (std::int32_t c = 0; c < k; ++c) target[c] += static_cast<std::int64_t>(source[c]);
  }
}

/// Collective over comm: every own row's summed quantised distance to each cluster, over a
/// half ring of the blocks `ring` carries (DenseRing or SparseRing), as exact integers of type
/// Sum (int64 where the rows scored are few enough, kInt64DistanceSumRows: half the bytes).
template <class Sum, class Ring>
std::vector<Sum> cluster_distance_sums(const Comm& comm, Ring& ring, std::uint64_t first_row,
                                          std::span<const std::int32_t> labels, std::int32_t k,
                                          double scale) {
  const std::uint64_t local = ring.rows();
  // Where every rank's block starts, how long it is and how many values it stores: the ring
  // passes blocks, not headers.
  const std::uint64_t mine[3] = {first_row, local, ring.stored()};
  const std::vector<std::uint64_t> layout =
      comm.allgatherv(std::span<const std::uint64_t>(mine, 3));
  std::uint64_t capacity = 0, capacity_stored = 0;
  for (int r = 0; r < comm.size(); ++r) {
    capacity = std::max(capacity, layout[3 * r + 1]);
    capacity_stored = std::max(capacity_stored, layout[3 * r + 2]);
  }
  const std::uint64_t k64 = static_cast<std::uint64_t>(k);

  // Each pair of rows is visited once (a half ring): rank r meets the blocks of ranks r,
  // r-1, …, r-⌊p/2⌋, and adds each distance to both rows' sums. The sums of the visiting
  // rows travel with them and go home at the end. With p even, the blocks p/2 apart meet
  // twice, so in that last step each of the two ranks takes half of their tile pairs.
  std::vector<std::int32_t> visiting_labels(capacity);
  std::vector<Sum> sums(local * k64, Sum{0}), visiting_sums;
  const int ranks = comm.size();
  const int last_step = ranks / 2;
  if (last_step > 0) {
    ring.start_visiting(capacity, capacity_stored);
    std::copy(labels.begin(), labels.end(), visiting_labels.begin());
    visiting_sums.assign(capacity * k64, Sum{0});
  }
  typename Ring::Side own = ring.side(k), other = ring.side(k);
  Tile distances(kTile, kTile), partial(kTile, k);
  const std::uint64_t o_begin = first_row / kTile * kTile, o_end = first_row + local;

  for (int step = 0; step <= last_step; ++step) {
    const int owner = (comm.rank() - step + ranks) % ranks;
    const std::uint64_t v_first = layout[3 * owner], v_count = layout[3 * owner + 1];
    if (step > 0) {
      ring.shift(comm, v_count);
      pairwise::shift_bytes(comm, visiting_labels.data(), capacity * sizeof(std::int32_t), 1);
      pairwise::shift_bytes(comm, visiting_sums.data(), visiting_sums.size() * sizeof(Sum), 2);
    }
    const bool both = step > 0;
    const bool halved = step > 0 && ranks % 2 == 0 && step == last_step;
    const std::uint64_t my_parity = comm.rank() < owner ? 0 : 1;
    const std::int32_t* v_labels = step == 0 ? labels.data() : visiting_labels.data();
    std::vector<Sum>& v_sums = step == 0 ? sums : visiting_sums;
    for (std::uint64_t v_tile = v_first / kTile * kTile; v_tile < v_first + v_count;
         v_tile += kTile) {
      ring.load(other, step > 0, v_labels, v_first, v_count, v_tile);
      for (std::uint64_t o_tile = o_begin; o_tile < o_end; o_tile += kTile) {
        if (step == 0 && o_tile > v_tile) continue;  // the pair (v_tile, o_tile) did it
        if (halved && (o_tile / kTile + v_tile / kTile) % 2 != my_parity) continue;
        ring.load(own, false, labels.data(), first_row, local, o_tile);
        // A pair of different tiles is always computed with the lower tile on the left, so
        // its bits do not depend on which rank computes it.
        if (o_tile < v_tile) {
          ring.distances(own, other, scale, distances);
          // Integer-valued doubles below 2^52 in total: these products are exact.
          partial.noalias() = distances * other.one_hot;
          add_sums(partial, own, first_row, k, sums);
          if (both || step == 0) {
            partial.noalias() = distances.transpose() * own.one_hot;
            add_sums(partial, other, v_first, k, v_sums);
          }
        } else if (o_tile > v_tile) {
          ring.distances(other, own, scale, distances);
          partial.noalias() = distances.transpose() * other.one_hot;
          add_sums(partial, own, first_row, k, sums);
          if (both) {
            partial.noalias() = distances * own.one_hot;
            add_sums(partial, other, v_first, k, v_sums);
          }
        } else {  // one tile, maybe split between two ranks: each side from its own rows
          ring.distances(own, other, scale, distances);
          partial.noalias() = distances * other.one_hot;
          add_sums(partial, own, first_row, k, sums);
          if (both) {
            ring.distances(other, own, scale, distances);
            partial.noalias() = distances * own.one_hot;
            add_sums(partial, other, v_first, k, v_sums);
          }
        }
      }
    }
  }
  if (last_step > 0) {
    // The visiting sums belong to the block `last_step` ranks back: send them home, a piece
    // at a time (a second copy of them all would be as large as the sums themselves).
    const std::uint64_t piece = std::max<std::uint64_t>(pairwise::kShiftPieceBytes / sizeof(Sum), 1);
    std::vector<Sum> returned(std::min<std::uint64_t>(piece, visiting_sums.size()));
    for (std::uint64_t at = 0; at < visiting_sums.size(); at += piece) {
      const std::uint64_t count = std::min(piece, visiting_sums.size() - at);
      check_mpi(MPI_Sendrecv(visiting_sums.data() + at, static_cast<int>(count * sizeof(Sum)), MPI_BYTE,
                             (comm.rank() - last_step + ranks) % ranks, 3, returned.data(),
                             static_cast<int>(count * sizeof(Sum)), MPI_BYTE, (comm.rank() + last_step) % ranks, 3,
                             comm.get(), MPI_STATUS_IGNORE),
                "MPI_Sendrecv");
      for (std::uint64_t i = at; i < std::min(at + count, local * k64); ++i) sums[i] += returned[i - at];
    }
  }
  return sums;
}

/// Collective over comm: the cluster sizes (identical on every rank) after checking that
/// 2 to n − 1 of them are in use.
std::vector<std::int64_t> silhouette_cluster_sizes(const Comm& comm, std::span<const std::int32_t> labels,
                                                   std::uint64_t n) {
  const std::int32_t k = check_cluster_labels(comm, labels, "labels");
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(k), 0);
  for (const std::int32_t label : labels) ++sizes[static_cast<std::size_t>(label)];
  comm.allreduce(std::span<std::int64_t>(sizes), MPI_SUM);
  const auto used = std::count_if(sizes.begin(), sizes.end(), [](std::int64_t s) { return s > 0; });
  if (used < 2 || static_cast<std::uint64_t>(used) > n - 1)
    throw AgreedError("the silhouette needs 2 to n-1 clusters (got " + std::to_string(used) +
                      " clusters for " + std::to_string(n) + " rows)");
  return sizes;
}

/// Collective over comm: each row's silhouette (b − a)/max(a, b) from its distance sums to
/// every cluster, and their mean over the n rows.
template <class Sum>
SilhouetteResult silhouette_from_sums(const Comm& comm, const std::vector<Sum>& sums,
                                      std::span<const std::int32_t> labels,
                                      const std::vector<std::int64_t>& sizes, double scale, std::uint64_t n) {
  const auto k = static_cast<std::int32_t>(sizes.size());
  const std::uint64_t local = labels.size();
  SilhouetteResult result;
  result.rows = n;
  result.values.resize(local);
  ExactSum total;
  for (std::uint64_t i = 0; i < local; ++i) {
    const std::int32_t own_cluster = labels[i];
    const std::int64_t own_size = sizes[static_cast<std::size_t>(own_cluster)];
    const Sum* row_sums = &sums[i * static_cast<std::uint64_t>(k)];
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

/// Collective over comm: the silhouette of the rows `ring` carries, its sums in int64 where the
/// n rows allow (the same integers as in Int128, so the same bits).
template <class Ring>
SilhouetteResult silhouette_of_ring(const Comm& comm, Ring& ring, std::uint64_t first_row,
                                    std::span<const std::int32_t> labels, const std::vector<std::int64_t>& sizes,
                                    double scale, std::uint64_t n) {
  const auto k = static_cast<std::int32_t>(sizes.size());
  if (n <= pairwise::kInt64DistanceSumRows)
    return silhouette_from_sums(comm, cluster_distance_sums<std::int64_t>(comm, ring, first_row, labels, k, scale),
                                labels, sizes, scale, n);
  return silhouette_from_sums(comm, cluster_distance_sums<Int128>(comm, ring, first_row, labels, k, scale), labels,
                              sizes, scale, n);
}

/// Collective over comm: scikit-learn's sampled score, of the rows `subset_shard` keeps, with
/// its standard error; `exact` scores a shard and its labels.
template <class Shard, class Exact>
SilhouetteResult sampled(const Comm& comm, const Shard& shard, std::span<const std::int32_t> labels,
                         std::uint64_t sample_size, std::uint64_t seed, Exact&& exact) {
  const CounterRng rng(seed);
  std::vector<Eigen::Index> kept;
  const Shard sample = subset_shard(
      comm, shard,
      distinct_random_rows(comm, shard, static_cast<std::size_t>(sample_size), rng,
                           stream_id(Stream::SilhouetteSample)),
      kept);
  std::vector<std::int32_t> sample_labels;
  for (const Eigen::Index i : kept) sample_labels.push_back(labels[static_cast<std::size_t>(i)]);
  SilhouetteResult result = exact(sample, sample_labels);
  ExactSum squares;
  for (const double s : result.values) squares.add((s - result.mean) * (s - result.mean));
  squares.allreduce(comm);
  const double m = static_cast<double>(sample_size);
  result.standard_error = std::sqrt(squares.value() / (m - 1)) / std::sqrt(m);
  result.sampled = true;
  result.values.clear();
  return result;
}

void check_sample_size(std::uint64_t sample_size) {
  if (sample_size < 2)
    throw AgreedError("the silhouette sample size must be at least 2 (got " +
                      std::to_string(sample_size) + ")");
}

}  // namespace

template <class T>
SilhouetteResult silhouette(const Comm& comm, const DenseShard<T>& shard,
                            std::span<const std::int32_t> labels) {
  const std::vector<std::int64_t> sizes = silhouette_cluster_sizes(comm, labels, shard.global_rows);
  const double scale = pairwise::fixed_point_scale(comm, shard, Distance::Euclidean);
  DenseRing<T> ring(shard);
  return silhouette_of_ring(comm, ring, shard.first_row, labels, sizes, scale, shard.global_rows);
}

template <class T>
SilhouetteResult cosine_silhouette(const Comm& comm, const CsrShard<T>& unit_rows,
                                   std::span<const std::int32_t> labels) {
  const std::vector<std::int64_t> sizes = silhouette_cluster_sizes(comm, labels, unit_rows.global_rows);
  const double scale = pairwise::fixed_point_scale(2.0);  // cosine distances lie in [0, 2]
  SparseRing<T> ring(unit_rows);
  return silhouette_of_ring(comm, ring, unit_rows.first_row, labels, sizes, scale, unit_rows.global_rows);
}

template <class T>
SilhouetteResult sampled_cosine_silhouette(const Comm& comm, const CsrShard<T>& unit_rows,
                                           std::span<const std::int32_t> labels, std::uint64_t sample_size,
                                           std::uint64_t seed) {
  check_sample_size(sample_size);
  if (sample_size >= unit_rows.global_rows) return cosine_silhouette(comm, unit_rows, labels);
  return sampled(comm, unit_rows, labels, sample_size, seed,
                 [&](const CsrShard<T>& sample, std::span<const std::int32_t> sample_labels) {
                   return cosine_silhouette(comm, sample, sample_labels);
                 });
}

template <class T>
SilhouetteResult sampled_silhouette(const Comm& comm, const DenseShard<T>& shard,
                                    std::span<const std::int32_t> labels, std::uint64_t sample_size,
                                    std::uint64_t seed) {
  check_sample_size(sample_size);
  if (sample_size >= shard.global_rows) return silhouette(comm, shard, labels);
  return sampled(comm, shard, labels, sample_size, seed,
                 [&](const DenseShard<T>& sample, std::span<const std::int32_t> sample_labels) {
                   return silhouette(comm, sample, sample_labels);
                 });
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
template SilhouetteResult cosine_silhouette(const Comm&, const CsrShard<float>&,
                                            std::span<const std::int32_t>);
template SilhouetteResult cosine_silhouette(const Comm&, const CsrShard<double>&,
                                            std::span<const std::int32_t>);
template SilhouetteResult sampled_cosine_silhouette(const Comm&, const CsrShard<float>&,
                                                    std::span<const std::int32_t>, std::uint64_t,
                                                    std::uint64_t);
template SilhouetteResult sampled_cosine_silhouette(const Comm&, const CsrShard<double>&,
                                                    std::span<const std::int32_t>, std::uint64_t,
                                                    std::uint64_t);

}  // namespace lloyd
