#pragma once
// The kernels that decide assignments, one table per instruction-set level (level.hpp).
// Every entry computes the same bits at every level; the callers (kmeans/assign.hpp,
// kmeans/score_tiles.hpp) document what they compute.
#include <cstddef>
#include <cstdint>

#include "lloyd/simd/level.hpp"

namespace lloyd::simd {

/// The layout of ScoreTiles (the same at every level, so packed centres serve any level):
/// a panel of kPanel centres is two 64-byte registers wide; a tile holds kRows rows, copied
/// slice by slice of kSlice features.
template <class T>
struct TileShape {
  static constexpr int kPanel = 128 / static_cast<int>(sizeof(T));
  static constexpr int kRows = 12;
  static constexpr int kSlice = 16;
};

/// One block of rows of a k-means++ step with at most eight candidates, the rows in register
/// lanes (Kernels::seed_fold_lanes; kmeans/init.cpp documents the step). Raw views of the
/// caller's data; kGroupRows rows make one column group (one 64-byte register of T).
template <class T>
struct SeedBlock {
  static constexpr int kGroupRows = 64 / static_cast<int>(sizeof(T));
  const T* rows;             ///< rows [0, count), `features` values each, consecutive; the first
                             ///< `grouped` (a multiple of kGroupRows) stored as column groups
                             ///< (seed_rows_as_columns of each kGroupRows rows, in place)
  std::ptrdiff_t grouped, count, features;  ///< count ≤ 1024: the int64 potentials cannot overflow
  const T* row_norms;        ///< ‖x‖² of each row
  const T* closest;          ///< D² of each row (its distance to the nearest chosen centre)
  const T* scaled;           ///< features × kGroupRows: −2 · candidate t in column t (zero padding)
  const T* norms;            ///< kGroupRows values: ‖candidate t‖² (padding: 0)
  int trials;                ///< candidates, 1 to 8
  double factor;             ///< the fixed-point scale of the weights (a power of two)
  T* scratch;                ///< features × kGroupRows values, for a partial group's columns
  std::int64_t* potential;   ///< out, 8: for t < trials, Σ_rows round(min(D², d_t²) · factor)
  double* largest;           ///< in/out, 8: for t < trials raised to max min(D², d_t²)
  std::ptrdiff_t* kept;      ///< out: the rows some candidate comes closer to than D² (≤ count)
  T* kept_distances;         ///< out: their distances to candidates 0 … 7, 8 values per kept row
};

template <class T>
struct Kernels {
  /// Σ_j (x_j − c_j)² in double: feature j fused-multiply-added into lane j mod 8, the lanes
  /// summed as ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
  double (*squared_distance)(const T* x, const T* c, std::ptrdiff_t features);
  /// Σ_j x_j² in T with the same lanes and tree.
  T (*squared_norm)(const T* x, std::ptrdiff_t features);
  /// score[c] = norms[c] + Σ_j x_j · scaled[j · columns + c] for c < columns (a multiple of
  /// 64 / sizeof(T)): feature j fused into accumulator j mod 4, summed (a0 + a1) + (a2 + a3).
  void (*direct_scores)(const T* scaled, const T* norms, std::ptrdiff_t columns, std::ptrdiff_t features,
                        const T* x, T* score);
  /// The scores of rows[0..count) (count ≤ TileShape::kRows) against `panels` packed panels:
  /// score[r · stride + c] = norms[c] + Σ_j rows[r][j] · packed[panel(c), j, c], one chain in
  /// feature order. `tile` is scratch of kRows · ⌈features / kSlice⌉ · kSlice values.
  void (*tile_scores)(const T* packed, const T* norms, std::ptrdiff_t panels, std::ptrdiff_t features,
                      const T* const* rows, int count, T* score, std::ptrdiff_t stride, T* tile);
  /// FixedPoint::add_rows (exact_sum.hpp) for `sign` = ±1: for r < count, the `limbs` limbs
  /// of every feature j of row r (at rows + r · features), limb l added into
  /// sum[clusters[r] · cluster_stride + l · features + j]. f = x_j · scale[j] (times second[j]
  /// when `two_step`), in double; each limb but the last is nearbyint(f), f then
  /// (f − limb) · 2^52; the last is nearbyint(f). Exact integer sums of IEEE results: the
  /// same at every level.
  void (*add_fixed_rows)(std::int64_t* sum, std::ptrdiff_t cluster_stride, const std::int32_t* clusters,
                         const T* rows, int count, const double* scale, const double* second, bool two_step,
                         int limbs, std::ptrdiff_t features, int sign);

  // seeding (kmeans/init.cpp: the steps of k-means++)
  /// One row's share of a k-means++ step against `stride` candidates (a multiple of 8): for
  /// t < stride, with kept = min(distance[t], current) in double, words[t] += kept · factor
  /// rounded to the nearest integer (ties to even; FixedPoint::to_fixed's arithmetic) and
  /// largest[t] = max(largest[t], kept). Returns whether distance[t] < current for some
  /// t < trials.
  bool (*seed_fold_row)(const T* distance, T current, double factor, int trials, std::ptrdiff_t stride,
                        std::int64_t* words, double* largest);
  /// Rows first[0, count) (count ≤ SeedBlock::kGroupRows, `features` values each) as one
  /// column group: columns[j · kGroupRows + r] = row r's feature j, rows beyond count 0.
  void (*seed_rows_as_columns)(const T* first, int count, std::ptrdiff_t features, T* columns);
  /// The inverse for a whole group: seed_rows_as_columns' output back to kGroupRows rows.
  void (*seed_columns_as_rows)(const T* columns, std::ptrdiff_t features, T* first);
  /// One SeedBlock of a k-means++ step; returns the number of kept rows. The distances are
  /// max(‖x‖² + s, 0) with s as direct_scores computes it, folded as seed_fold_row: the same
  /// potentials, largest values, kept rows and distances as direct_scores and seed_fold_row
  /// row by row (padding candidates' distances: ‖x‖²). nullptr at the levels without a
  /// version with the rows in lanes (portable, avx2): the caller then goes row by row, which
  /// gives the same bits.
  std::ptrdiff_t (*seed_fold_lanes)(const SeedBlock<T>& block);
  /// The D² weights of k-means++'s sampling in fixed point, summed per block: for each block
  /// b of `block` weights (the last one partial), sums[b] = Σ nearbyint(w · factor) with w
  /// = weights[i] clamped to [0, largest] (NaN: 0), ties to even; each term below 2^52 and
  /// block ≤ 2048, so no sum overflows.
  void (*seed_weight_sums)(const T* weights, std::ptrdiff_t count, double largest, double factor,
                           std::ptrdiff_t block, std::int64_t* sums);
};

/// The kernels of `level` (which this CPU must support).
template <class T>
const Kernels<T>& kernels(Level level);

namespace detail {
extern const Kernels<float>* active_float;
extern const Kernels<double>* active_double;
void choose();
}  // namespace detail

/// The kernels of the level in use (level()).
template <class T>
inline const Kernels<T>& kernels() {
  const Kernels<T>* active;
  if constexpr (sizeof(T) == sizeof(float)) active = detail::active_float;
  else active = detail::active_double;
  if (!active) [[unlikely]] {
    detail::choose();
    return kernels<T>();
  }
  return *active;
}

// The tables of each level (src/simd/kernels_<level>.cpp).
template <class T> const Kernels<T>& portable_kernels();
template <class T> const Kernels<T>& avx2_kernels();
template <class T> const Kernels<T>& avx512_kernels();

}  // namespace lloyd::simd
