#pragma once
// Distances between rows, the building blocks below kmeans/ and metrics/: squared_distance (the
// one definition of "the" distance of a row to a centre), the distances of K-medoids and the
// metrics, and their exact, distributed pairwise form.
//
// Pairwise distances between rows, exact and distributed: blocks of rows travel around a
// ring of ranks so that every rank meets every row while holding only its own block and one
// visiting block (no rank gathers the data). Distances are computed over tiles of kTile rows
// aligned to global row indices — so a pair's distance is the same bits on any layout — and
// quantised to integers (a power-of-two unit of 2^-44 of the data's diameter): sums of them
// are exact in integers, so every result built on them is identical for any rank count.
// Used by the silhouette (a half ring, each pair once) and k-medoids (a full ring).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/error.hpp"
#include "lloyd/shard.hpp"
#include "lloyd/simd/kernels.hpp"

namespace lloyd {

/// The fixed tree that sums eight lanes: ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), the
/// order of every lane sum here and of the kernels (src/simd/, which keep their own copy
/// inside each level's namespace, compiled for that level).
inline double eight_lane_total(const double* lane) {
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

/// Squared Euclidean distance accumulated in double: the one definition of "the" distance
/// of a row to a centre (inertia, relocation, ties). The terms go into eight lanes (feature
/// j into lane j mod 8, each term fused-multiply-added) summed in a fixed tree at the end:
/// a fixed order, so the result does not depend on where the row lives, nor on the SIMD
/// level (simd::Kernels::squared_distance, the same bits at every level).
template <class T, class U>
double squared_distance(const T* x, const U* c, Eigen::Index features) {
  if constexpr (std::is_same_v<T, U>) {
    return simd::kernels<T>().squared_distance(x, c, features);
  } else if constexpr (std::is_same_v<U, double>) {
    return simd::kernels<T>().squared_distance_to_double(x, c, features);
  } else {
    constexpr int kLanes = 8;
    double lane[kLanes] = {};
    Eigen::Index j = 0;
    for (; j + kLanes <= features; j += kLanes)
      for (int l = 0; l < kLanes; ++l) {
        const double diff = static_cast<double>(x[j + l]) - static_cast<double>(c[j + l]);
        lane[l] = std::fma(diff, diff, lane[l]);
      }
    for (int l = 0; j < features; ++j, ++l) {
      const double diff = static_cast<double>(x[j]) - static_cast<double>(c[j]);
      lane[l] = std::fma(diff, diff, lane[l]);
    }
    return eight_lane_total(lane);
  }
}

/// ‖x‖² in T with the same fixed lane order, each term fused-multiply-added (used for
/// rounding-error bounds).
template <class T>
T squared_norm(const T* x, Eigen::Index features) {
  return simd::kernels<T>().squared_norm(x, features);
}

enum class Distance { Euclidean, Manhattan, Cosine };
/// "euclidean", "manhattan" (alias "l1", "cityblock") or "cosine"; anything else is an Error.
Distance parse_distance(const std::string& name);
const char* to_string(Distance distance);

/// The distance of two rows in double with a fixed lane order (the same bits wherever the
/// rows live). Cosine: 1 − x·y/(‖x‖‖y‖), and 1 when either row is zero (scikit-learn's
/// cosine_distances).
template <class T, class U>
double row_distance(Distance distance, const T* x, const U* y, Eigen::Index features) {
  // Euclidean: squared_distance's lanes are exactly the loop's below (feature j into lane
  // j mod 8, fused multiply-add, the same tree), so the SIMD kernels give the same bits —
  // several times faster than the loop, whose switch keeps it scalar (k-medoids' ring).
  if (distance == Distance::Euclidean) return std::sqrt(squared_distance(x, y, features));
  constexpr int kLanes = 8;
  double lane[kLanes] = {}, x2[kLanes] = {}, y2[kLanes] = {};
  for (Eigen::Index j = 0; j < features; ++j) {
    const double a = static_cast<double>(x[j]), b = static_cast<double>(y[j]);
    const int l = static_cast<int>(j % kLanes);
    switch (distance) {
      case Distance::Euclidean: break;  // above
      case Distance::Manhattan: lane[l] += std::abs(a - b); break;
      case Distance::Cosine:
        lane[l] = std::fma(a, b, lane[l]);
        x2[l] = std::fma(a, a, x2[l]);
        y2[l] = std::fma(b, b, y2[l]);
        break;
    }
  }
  auto total = eight_lane_total;
  if (distance == Distance::Manhattan) return total(lane);
  const double norms = std::sqrt(total(x2)) * std::sqrt(total(y2));
  return norms > 0 ? std::clamp(1.0 - total(lane) / norms, 0.0, 2.0) : 1.0;
}

namespace pairwise {

constexpr Eigen::Index kTile = 256;
using Tile = RowMatrix<double>;
using TileMap = Eigen::Map<const Tile>;

/// Per-row values for a tile's distances, in double, term by term: ‖x‖² (Euclidean) or ‖x‖
/// (cosine); unused for Manhattan.
template <class T>
std::vector<double> row_norms(Distance distance, const T* rows, std::uint64_t count,
                              Eigen::Index d);

/// Collective over comm: the power of two `scale` such that every distance between rows
/// of the data, times scale, is at most 2^44: kTile quantised distances then sum to below
/// 2^52, exactly, in double.
template <class T>
double fixed_point_scale(const Comm& comm, const DenseShard<T>& shard, Distance distance);

/// The power of two `scale` for distances of at most `diameter` (see fixed_point_scale).
/// Not collective: cosine distances, for one, are at most 2 whatever the data.
double fixed_point_scale(double diameter);

/// A row's exact sum of quantised distances (each at most 2^44) to the rows of a set of at
/// most this many fits an int64 (with a factor 2 to spare: 2^18 · 2^44 = 2^62), half an
/// Int128's bytes; larger sets sum in Int128.
inline constexpr std::uint64_t kInt64DistanceSumRows = std::uint64_t{1} << 18;

/// The piece shift_bytes passes at a time: Open MPI's MPI_Sendrecv_replace copies the whole
/// message into a temporary buffer, so this bounds that copy.
inline constexpr std::uint64_t kShiftPieceBytes = std::uint64_t{1} << 20;

/// Passes a buffer to the next rank of the ring and receives the previous rank's, in
/// pieces of at most kShiftPieceBytes, so that MPI's temporary copy stays small. Collective
/// over comm.
void shift_bytes(const Comm& comm, void* data, std::uint64_t bytes, int tag);

/// The rows of a block [first, first + count) that fall in global tile `tile_start`, as a
/// kTile × d double matrix with every row at its in-tile position: a view of the block when
/// the tile lies wholly inside it (and T is double), else a zero-padded copy in `scratch`.
/// Either way the kernels see the same shape and values, so a pair's distance does not
/// depend on the layout. Also sets `norms` (zero-padded) and returns the rows' global range.
struct TileRows {
  explicit TileRows(Eigen::Index d) : scratch(kTile, d), norms(kTile), features(d) {}
  template <class T>
  void load(const T* rows, std::uint64_t first, std::uint64_t count,
            const std::vector<double>& block_norms, std::uint64_t tile_start);
  TileMap matrix() const { return TileMap(data, kTile, features); }
  Tile scratch;
  Eigen::VectorXd norms;
  const double* data = nullptr;
  RowRange range;
  std::uint64_t start = 0;
  Eigen::Index features = 0;
};

/// The CSR rows of a block [first, first + count) that fall in global tile `tile_start`, as
/// views of the block's arrays (`indptr` has count + 1 offsets from the block's first value):
/// sparse rows stay sparse (quantised_unit_cosines).
template <class T>
struct SparseTileRows {
  void load(const std::int64_t* block_indptr, const std::int32_t* block_indices, const T* block_values,
            std::uint64_t block_first, std::uint64_t block_count, std::uint64_t tile_start) {
    indptr = block_indptr;
    indices = block_indices;
    values = block_values;
    first = block_first;
    start = tile_start;
    range = {std::max(tile_start, block_first), std::min(tile_start + kTile, block_first + block_count)};
  }
  const std::int64_t* indptr = nullptr;
  const std::int32_t* indices = nullptr;
  const T* values = nullptr;
  std::uint64_t first = 0, start = 0;
  RowRange range;
};

/// Scratch of quantised_unit_cosines: rhs's tile by column (its rows' values under each
/// column they store), built per call in O(rhs's nonzeros) — never O(d) after construction.
class SparseColumnScratch {
 public:
  explicit SparseColumnScratch(std::uint64_t columns) : slot_(columns, 0) {}

 private:
  template <class T>
  friend void quantised_unit_cosines(const SparseTileRows<T>&, const SparseTileRows<T>&, double,
                                     SparseColumnScratch&, Tile&);
  std::vector<std::int32_t> slot_;     ///< per column: 1 + its place in touched_, 0 if unused
  std::vector<std::int32_t> touched_;  ///< the columns rhs stores
  std::vector<std::int64_t> begin_;    ///< touched column t's entries: [begin_[t], begin_[t+1])
  std::vector<std::int32_t> rows_;     ///< entries: rhs row (in tile), ascending per column
  std::vector<double> values_;
};

/// Quantised cosine distances of lhs's rows (rows of `out`) to rhs's rows (columns), the rows
/// already scaled to unit norm (normalize_rows): round(clip(1 − x·y, 0, 2) × scale), as
/// scikit-learn's cosine_distances on the normalised rows — a zero row is at distance 1 from
/// every other row — and 0 on the diagonal of a tile with itself and in the padding. x·y is
/// summed in double, in ascending column order, over the columns both rows store (no other
/// term), so (x, y) and (y, x) give the same bits wherever the rows live. Work: rhs's
/// nonzeros plus the products that are not zero (each lhs value meets only the rhs rows that
/// store its column).
template <class T>
void quantised_unit_cosines(const SparseTileRows<T>& lhs, const SparseTileRows<T>& rhs, double scale,
                            SparseColumnScratch& scratch, Tile& out);

/// Quantised distances of lhs's rows (rows of `out`) to rhs's rows (columns): integers
/// round(distance × scale) held in doubles; 0 on the diagonal of a tile with itself.
void quantised_distances(Distance distance, const TileRows& lhs, const TileRows& rhs, double scale,
                         Tile& out);

/// round(distance × scale): a distance in the integer units of fixed_point_scale, held in
/// a double. The same bits for (x, y) and (y, x) and wherever the rows live.
template <class T, class U>
double quantised_distance(Distance distance, const T* x, const U* y, Eigen::Index features,
                          double scale) {
  constexpr double kRound = 0x1.8p52;  // rounds x ≥ 0 below 2^51 to nearest, ties to even
  return (row_distance(distance, x, y, features) * scale + kRound) - kRound;
}

/// The rows of the data set, block by block, visiting this rank (a full ring): at step s
/// the rank holds the block of rank (rank − s) mod p, with a payload of one P per row that
/// travels with it (e.g. labels, nearest distances). Collective over comm.
/// visit(i, g, q, payload) is called for every local row i (local index) and every global
/// row g, with q = quantised_distance of the two rows and `payload` g's; pairs are visited
/// in tiles of kTile × kTile rows for cache reuse. Every own row thus meets every row once.
/// Work O(n²d/p), memory O((n/p)·d) — for modest n (k-medoids; its --sample otherwise).
template <class T, class P, class Visit>
void for_each_pair(const Comm& comm, const DenseShard<T>& shard, std::span<const P> payload,
                   Distance distance, double scale, Visit&& visit) {
  static_assert(std::is_trivially_copyable_v<P>);
  const Eigen::Index d = shard.features();
  const std::uint64_t local = static_cast<std::uint64_t>(shard.local_rows());
  const std::uint64_t mine[2] = {shard.first_row, local};
  const std::vector<std::uint64_t> layout = comm.allgatherv(std::span<const std::uint64_t>(mine, 2));
  std::uint64_t capacity = 0;
  for (int r = 0; r < comm.size(); ++r) capacity = std::max(capacity, layout[2 * r + 1]);
  std::vector<T> visiting(capacity * static_cast<std::uint64_t>(d));
  std::vector<P> visiting_payload(capacity);
  std::copy_n(shard.rows.data(), local * static_cast<std::uint64_t>(d), visiting.begin());
  std::copy(payload.begin(), payload.end(), visiting_payload.begin());
  const int ranks = comm.size();
  const auto tile = static_cast<std::uint64_t>(kTile);
  for (int step = 0; step < ranks; ++step) {
    if (step > 0) {
      shift_bytes(comm, visiting.data(), visiting.size() * sizeof(T), 0);
      shift_bytes(comm, visiting_payload.data(), capacity * sizeof(P), 1);
    }
    const int owner = (comm.rank() - step + ranks) % ranks;
    const std::uint64_t v_first = layout[2 * owner], v_count = layout[2 * owner + 1];
    for (std::uint64_t v0 = 0; v0 < v_count; v0 += tile)
      for (std::uint64_t o0 = 0; o0 < local; o0 += tile)
        for (std::uint64_t i = o0; i < std::min(local, o0 + tile); ++i) {
          const T* x = shard.row(static_cast<Eigen::Index>(i));
          for (std::uint64_t v = v0; v < std::min(v_count, v0 + tile); ++v)
            visit(static_cast<Eigen::Index>(i), v_first + v,
                  quantised_distance(distance, x, visiting.data() + v * static_cast<std::uint64_t>(d), d, scale),
                  static_cast<const P&>(visiting_payload[v]));
        }
  }
}

}  // namespace pairwise

}  // namespace lloyd
