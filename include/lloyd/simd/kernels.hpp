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

/// What Hamerly's bound test (Kernels::hamerly_sweep) moves the bounds by: per centre,
/// indexed by label + 1 (slot 0, no label yet, moves and settles nothing), `table` values
/// (a multiple of 16, zero beyond the last centre).
struct HamerlyShifts {
  const float* drift;     ///< how far the centre moved (rounded up)
  const float* half_gap;  ///< half the distance to its nearest other centre (rounded down)
  std::ptrdiff_t table;
  std::int32_t fastest;   ///< the centre that moved farthest (−2: none)
  float other_shift;      ///< the largest drift of all centres: the lower bound's shift …
  float fastest_shift;    ///< … but the second largest for the rows of `fastest`
};

/// The most features Kernels::direct_group_nearest / direct_group_distances take
/// (DirectScorer::kMaxFeatures).
inline constexpr std::ptrdiff_t kDirectGroupMaxFeatures = 16;
/// Kernels::first_minimum's answer.
struct FirstMinimum {
  std::ptrdiff_t best;   ///< the first index holding the minimum (−1: none)
  std::ptrdiff_t close;  ///< scores <= the threshold (the minimum included)
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
  // The triangle inequality (init.cpp TriangleBounds), nullptr labels: none. A row with
  // label j and D² ≤ bounds[t · bound_stride + j] is proven no closer to candidate t (its
  // computed d_t² ≥ D², rounding included): its term is D², as computing d_t² would give.
  // Groups where every row is so for every candidate (D² ≤ any_bound[j]) are not read.
  const std::int32_t* labels = nullptr;  ///< each row's nearest chosen centre
  const T* bounds = nullptr;             ///< trials rows of bound_stride values
  std::ptrdiff_t bound_stride = 0;
  const T* any_bound = nullptr;          ///< min over the trials of bounds[t][j]
};

template <class T>
struct Kernels {
  /// Σ_j (x_j − c_j)² in double: feature j fused-multiply-added into lane j mod 8, the lanes
  /// summed as ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
  double (*squared_distance)(const T* x, const T* c, std::ptrdiff_t features);
  /// The same sum for a row of T and a point in double (the data summary's spread about the
  /// mean).
  double (*squared_distance_to_double)(const T* x, const double* c, std::ptrdiff_t features);
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

  // --- Bounds (kmeans/bounded.cpp) and the data range (core/exact_sum.cpp) ---
  /// upper[p] = round_up(√nearest[p] · (1 + margin)) for p < count and, with `lower_too`,
  /// lower[p] = round_down(√other[p] · (1 − margin)) (float_bits.hpp): the same IEEE
  /// operations at every level.
  void (*round_bounds)(const double* nearest, const double* other, std::ptrdiff_t count, double margin,
                       bool lower_too, float* upper, float* lower);
  /// Hamerly's bound test for rows q < count with labels label[q]: with s = label[q] + 1,
  /// lower[q] = max(0, (lower[q] − shift) · kOutwardsDown) (shift: fastest_shift for the
  /// rows of `fastest`, else other_shift), upper[q] = (upper[q] + drift[s]) · kOutwardsUp,
  /// keep = max(lower[q], half_gap[s]) (std::max's order). The rows with !(upper[q] < keep)
  /// (every row with `every_row`) are listed in order: listed[n] = q, settled[n] = keep; the
  /// count is returned. `settled` has room for `count` values.
  std::ptrdiff_t (*hamerly_sweep)(const HamerlyShifts& shifts, const std::int32_t* label, std::ptrdiff_t count,
                                  bool every_row, float* upper, float* lower, std::int32_t* listed,
                                  float* settled);
  /// FeatureRange::add_rows (exact_sum.hpp): for each feature j < features of `count` rows
  /// (row-major), max_abs[j] = max(max_abs[j], largest |x_j| in T) and lowest_bit[j] =
  /// min(lowest_bit[j], lowest_bit_of(x_j) in T's layout) (float_bits.hpp).
  void (*feature_range_rows)(const T* rows, std::ptrdiff_t count, std::ptrdiff_t features, double* max_abs,
                             std::int64_t* lowest_bit);
  // --- Assignment decisions (Assigner, kmeans/assign.cpp; src/simd/assign_*.hpp) ---
  /// The smallest of score[0..padded) (padded a multiple of 64 / sizeof(T); padding +inf).
  /// Exact in any order for scores that are not NaN.
  T (*row_minimum)(const T* score, std::ptrdiff_t padded);
  /// Of score[0..padded): the first index holding `lowest` (−1 if none, e.g. NaN scores) and
  /// how many scores are <= threshold.
  FirstMinimum (*first_minimum)(const T* score, std::ptrdiff_t padded, T lowest, T threshold);
  /// Assigner::nearest's decisions for the rows of a tile whose scores tile_scores wrote
  /// (row r's padded scores at score + r · stride, `centres` of them real; row r itself at
  /// rows[r]; centre c's coordinates in double at centre_rows + c · features). For r < count:
  /// the scores' minimum and how many scores are <= threshold = T(double(minimum) + margin),
  /// margin = slack · (double(norms[r]) + double(largest_norm)) (Assigner::nearest's; without
  /// `norms`, squared_norm(row r) computed here); where that is one centre (then the first at
  /// the minimum), best[r] is it, distance[r] the squared_distance to it (the same bits) and,
  /// with `second`, second[r] the smallest score of the other centres (Assigner::
  /// minimum_except). Returns the rows left undecided (bit r: NaN scores, no centre at the
  /// minimum, or others within the margin; best[r] is then meaningless): there the caller
  /// decides (Assigner::nearest on the stored scores). nullptr where the level has no such
  /// kernel (avx2, portable): the caller decides every row.
  std::uint32_t (*tile_nearest)(const T* score, std::ptrdiff_t stride, std::ptrdiff_t padded, std::ptrdiff_t centres,
                                const T* const* rows, const double* centre_rows, std::ptrdiff_t features,
                                const T* norms, double slack, T largest_norm, int count, std::int32_t* best,
                                double* distance, T* second);
  /// Assigner::nearest_direct_rows' decisions for up to kWidth = 64 / sizeof(T) rows (row r
  /// at base + offset[r], `features` ≤ kDirectGroupMaxFeatures of them, its squared_norm in
  /// row_norms[r]) against `centres` centres laid out as DirectScorer (scaled = −2cᵀ and
  /// transpose = cᵀ, features × columns; norms[columns]), one row per lane. Per row: the
  /// first centre reaching the smallest score (lowest) best[r], the smallest score of the
  /// other centres (counted with multiplicity) second[r], and the squared_distance to best
  /// distance[r]. Scores by the arithmetic of direct_scores, distances by that of
  /// squared_distance: the same bits as row by row. Returns the rows (bit r) the scores
  /// cannot decide: second[r] <= T(fma(slack, double(row_norms[r]) + double(largest_norm),
  /// double(lowest))), one rounding as std::fma (there the caller decides on stored scores).
  /// second, best and distance hold kWidth values. nullptr where the level has no such
  /// kernel (avx2, portable): the caller decides row by row (direct_scores, then the row
  /// scans above).
  std::uint32_t (*direct_group_nearest)(const T* scaled, const T* norms, const T* transpose,
                                        std::ptrdiff_t columns, std::ptrdiff_t centres, std::ptrdiff_t features,
                                        const T* base, const std::int32_t* offset, int count, const T* row_norms,
                                        T largest_norm, double slack, T* second, std::int32_t* best,
                                        double* distance);
  /// squared_distance of up to kWidth rows (as above) to the centres numbered centre[r] of
  /// `transpose` (cᵀ, features × columns), into distance[0..count): the same bits as row by
  /// row. nullptr where the level has no such kernel (avx2, portable): the caller computes
  /// squared_distance row by row.
  void (*direct_group_distances)(const T* transpose, std::ptrdiff_t columns, std::ptrdiff_t features,
                                 const T* base, const std::int32_t* offset, int count, const std::int32_t* centre,
                                 double* distance);
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
  /// max(‖x‖² + s, 0) with s as direct_scores computes it and ‖x‖² as squared_norm (computed
  /// here from the rows read), folded as seed_fold_row: the same
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
  // --- Sparse rows (spherical K-Means, kmeans/spherical.cpp) ---
  // Here for the fused multiply-add: at the baseline level of the rest of the code std::fma is
  // a call into the C library per term (a sixth of the speed of these at AVX-512).
  /// score[c] = Σ_e values[e] · columns[indices[e] · stride + c] for c < k, each a chain of
  /// fused multiply-adds in e's order from 0 (the same bits at every level).
  void (*sparse_scores)(const T* values, const std::int32_t* indices, std::ptrdiff_t count, const T* columns,
                        std::ptrdiff_t stride, std::ptrdiff_t k, T* score);
  /// Σ_e values[e] · dense[indices[e]] as one chain of fused multiply-adds in e's order from 0.
  T (*sparse_dot)(const T* values, const std::int32_t* indices, std::ptrdiff_t count, const T* dense);
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
