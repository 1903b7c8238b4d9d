#pragma once
// The generic kernels of the bounds (round_bounds, hamerly_sweep) and of the data range
// (feature_range_rows), kernels.hpp: included by each level's translation unit
// (kernels_<level>.cpp, compiled with that level's flags) with LLOYD_SIMD_LEVEL_NAMESPACE
// defined, like kernels_impl.hpp. Plain loops over arrays, written so that the compiler
// vectorises them where the level has the instructions; the AVX-512 level has its own
// (bounds_avx512.hpp) with the same IEEE operations.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "lloyd/simd/float_bits.hpp"
#include "lloyd/simd/kernels.hpp"

namespace lloyd::simd::LLOYD_SIMD_LEVEL_NAMESPACE {

inline void round_bounds(const double* nearest, const double* other, std::ptrdiff_t count, double margin,
                         bool lower_too, float* upper, float* lower) {
  for (std::ptrdiff_t p = 0; p < count; ++p) upper[p] = round_up(std::sqrt(nearest[p]) * (1 + margin));
  if (lower_too)
    for (std::ptrdiff_t p = 0; p < count; ++p) lower[p] = round_down(std::sqrt(other[p]) * (1 - margin));
}

// The bounds moved in one pass (no branch: it vectorises, the tables by gathers), each
// row's threshold parked in settled[q]; then the open rows compacted in place (listed ≤ q).
inline std::ptrdiff_t hamerly_sweep(const HamerlyShifts& shifts, const std::int32_t* label, std::ptrdiff_t count,
                                    bool every_row, float* upper, float* lower, std::int32_t* listed,
                                    float* settled) {
  const float* drift = shifts.drift;
  const float* half_gap = shifts.half_gap;
  for (std::ptrdiff_t q = 0; q < count; ++q) {
    const float shift = label[q] == shifts.fastest ? shifts.fastest_shift : shifts.other_shift;
    lower[q] = std::max(0.0f, (lower[q] - shift) * kOutwardsDown);
    upper[q] = (upper[q] + drift[label[q] + 1]) * kOutwardsUp;
    settled[q] = std::max(lower[q], half_gap[label[q] + 1]);
  }
  std::ptrdiff_t open = 0;
  for (std::ptrdiff_t q = 0; q < count; ++q) {
    settled[open] = settled[q];
    listed[open] = static_cast<std::int32_t>(q);
    open += !(upper[q] < settled[q]) || every_row;
  }
  return open;
}

// feature_range_rows' last step: the running maxima and lowest bits of a call into the arrays.
template <class T, class Bit>
void fold_feature_range(const T* top, const Bit* bit, std::ptrdiff_t features, double* max_abs,
                        std::int64_t* lowest_bit) {
  for (std::ptrdiff_t j = 0; j < features; ++j) {
    max_abs[j] = std::max(max_abs[j], static_cast<double>(top[j]));
    lowest_bit[j] = std::min<std::int64_t>(lowest_bit[j], bit[j]);
  }
}

// Row by row into running maxima and lowest bits in T's layout (features contiguous: the
// loop over them vectorises), folded into the members' arrays at the end.
template <class T>
void feature_range_rows(const T* rows, std::ptrdiff_t count, std::ptrdiff_t features, double* max_abs,
                        std::int64_t* lowest_bit) {
  using Signed = typename BitLayout<T>::Signed;
  std::vector<T> top(static_cast<std::size_t>(features), T(0));
  std::vector<Signed> bit(static_cast<std::size_t>(features), Signed{kNoLowestBit});
  for (std::ptrdiff_t i = 0; i < count; ++i) {
    const T* row = rows + i * features;
    for (std::ptrdiff_t j = 0; j < features; ++j) {
      const T magnitude = std::abs(row[j]);
      // The vector maximum's order: the second operand unless the first is larger.
      top[static_cast<std::size_t>(j)] = top[static_cast<std::size_t>(j)] > magnitude ? top[static_cast<std::size_t>(j)] : magnitude;
      bit[static_cast<std::size_t>(j)] = std::min(bit[static_cast<std::size_t>(j)], lowest_bit_of(row[j]));
    }
  }
  fold_feature_range(top.data(), bit.data(), features, max_abs, lowest_bit);
}

}  // namespace lloyd::simd::LLOYD_SIMD_LEVEL_NAMESPACE
