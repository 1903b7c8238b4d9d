#pragma once
// The table of a level whose own kernels are only its register type's (direct scores, tiles)
// and its squared_distance: every other entry is the generic code of the *_impl.hpp headers,
// compiled for that level. Included by each such level's translation unit after those
// headers, inside its own namespace (LLOYD_SIMD_LEVEL_NAMESPACE), like them.
#include <cstddef>

#include "lloyd/simd/kernels.hpp"

namespace lloyd::simd::LLOYD_SIMD_LEVEL_NAMESPACE {

/// V: the level's register type (kernels_impl.hpp); kTileRegs × kTileGroup: the tile
/// kernel's accumulators (what the level's register file holds).
template <class V, int kTileRegs, int kTileGroup, class T>
constexpr Kernels<T> generic_table(double (*distance)(const T*, const T*, std::ptrdiff_t)) {
  return {
      .squared_distance = distance,
      .squared_distance_to_double = &lane_squared_distance<T, double>,
      .squared_norm = &squared_norm<T>,
      .direct_scores = &direct_scores<V, T>,
      .tile_scores = &tile_scores<V, kTileRegs, kTileGroup, T>,
      .add_fixed_rows = &add_fixed_rows<ScalarRowSums, T>,
      // Bounds and the data range (bounds_impl.hpp).
      .round_bounds = &round_bounds,
      .hamerly_sweep = &hamerly_sweep,
      .feature_range_rows = &feature_range_rows<T>,
      // Assignment decisions (assign_impl.hpp); grouped decisions only at avx512: the caller
      // decides row by row.
      .row_minimum = &row_minimum<T>,
      .first_minimum = &first_minimum<T>,
      .tile_nearest = nullptr,
      .direct_group_nearest = nullptr,
      .direct_group_distances = nullptr,
      // Seeding (seeding_impl.hpp); rows in lanes only at avx512: the caller goes row by row.
      .seed_fold_row = &seeding::fold_row<T>,
      .seed_rows_as_columns = &seeding::rows_as_columns<T>,
      .seed_columns_as_rows = &seeding::columns_as_rows<T>,
      .seed_fold_lanes = nullptr,
      .seed_weight_sums = &seeding::weight_sums<T>,
      // Sparse rows (kernels_impl.hpp).
      .sparse_scores = &sparse_scores<T>,
      .sparse_dot = &sparse_dot<T>,
  };
}

}  // namespace lloyd::simd::LLOYD_SIMD_LEVEL_NAMESPACE
