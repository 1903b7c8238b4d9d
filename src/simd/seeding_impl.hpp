#pragma once
// The seeding kernels of include/lloyd/simd/kernels.hpp (k-means++ steps) written once, in
// plain C++, included by each level's translation unit (kernels_<level>.cpp, compiled with
// that level's flags) inside its own namespace, after kernels_impl.hpp. The avx512 level
// replaces seed_fold_row and the column groups by its own (seeding_avx512.hpp): the same bits.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "lloyd/simd/kernels.hpp"

namespace lloyd::simd::LLOYD_SIMD_LEVEL_NAMESPACE::seeding {

// Kernels::seed_fold_row. Branch-free over the candidates, so that the compiler can
// vectorise the minimum, maximum and comparison (the rounding to an integer stays scalar
// below AVX-512: no packed double → int64 conversion).
template <class T>
bool fold_row(const T* distance, T current, double factor, int trials, std::ptrdiff_t stride, std::int64_t* words,
              double* largest) {
  const auto against = static_cast<double>(current);
  bool nearer = false;
  for (std::ptrdiff_t t = 0; t < stride; ++t) {
    const double kept = std::min(static_cast<double>(distance[t]), against);
    words[t] += static_cast<std::int64_t>(std::rint(kept * factor));
    largest[t] = std::max(largest[t], kept);
    nearer |= (t < trials) & (distance[t] < current);
  }
  return nearer;
}

// One weight of Kernels::seed_weight_sums: FixedPoint::to_fixed of the clamped weight.
template <class T>
std::int64_t fixed_weight(T weight, double largest, double factor) {
  const auto value = static_cast<double>(weight);
  return static_cast<std::int64_t>(std::nearbyint((value > 0 ? (value < largest ? value : largest) : 0.0) * factor));
}
// Kernels::seed_weight_sums, weight by weight.
template <class T>
void weight_sums(const T* weights, std::ptrdiff_t count, double largest, double factor, std::ptrdiff_t block,
                 std::int64_t* sums) {
  for (std::ptrdiff_t first = 0, b = 0; first < count; first += block, ++b) {
    std::int64_t sum = 0;
    const std::ptrdiff_t end = std::min(count, first + block);
    for (std::ptrdiff_t i = first; i < end; ++i) sum += fixed_weight(weights[i], largest, factor);
    sums[b] = sum;
  }
}

// Kernels::seed_rows_as_columns and seed_columns_as_rows, value by value.
template <class T>
void rows_as_columns(const T* first, int count, std::ptrdiff_t features, T* columns) {
  constexpr int W = SeedBlock<T>::kGroupRows;
  for (std::ptrdiff_t j = 0; j < features; ++j)
    for (int r = 0; r < W; ++r) columns[j * W + r] = r < count ? first[r * features + j] : T(0);
}
template <class T>
void columns_as_rows(const T* columns, std::ptrdiff_t features, T* first) {
  constexpr int W = SeedBlock<T>::kGroupRows;
  for (std::ptrdiff_t j = 0; j < features; ++j)
    for (int r = 0; r < W; ++r) first[r * features + j] = columns[j * W + r];
}

}  // namespace lloyd::simd::LLOYD_SIMD_LEVEL_NAMESPACE::seeding
