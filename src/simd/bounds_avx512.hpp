#pragma once
// The AVX-512 kernels of the bounds (round_bounds, hamerly_sweep) and of the data range
// (feature_range_rows), kernels.hpp: the same IEEE operations as bounds_impl.hpp, a register
// at a time. Included by kernels_avx512.cpp after bounds_impl.hpp, in lloyd::simd::avx512.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "avx512_ops.hpp"
#include "bounds_impl.hpp"

namespace lloyd::simd::avx512 {

// (GCC 12 reports some of these intrinsics as reading an uninitialised value: a known false
// positive of the intrinsics' undefined-vector idiom.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// round_up / round_down eight at a time, the tail by the scalar forms.
inline void round_bounds_lanes(const double* nearest, const double* other, std::ptrdiff_t count, double margin,
                               bool lower_too, float* upper, float* lower) {
  std::ptrdiff_t p = 0;
  const __m512d grow = _mm512_set1_pd(1 + margin), shrink = _mm512_set1_pd(1 - margin),
                safe_up = _mm512_set1_pd(1 + 4 * std::numeric_limits<double>::epsilon()),
                safe_down = _mm512_set1_pd(1 - 4 * std::numeric_limits<double>::epsilon()),
                zero = _mm512_setzero_pd();
  const __m256i one = _mm256_set1_epi32(1);
  for (; p + 8 <= count; p += 8) {
    const __m512d high = _mm512_mul_pd(_mm512_mul_pd(_mm512_sqrt_pd(_mm512_loadu_pd(nearest + p)), grow), safe_up);
    const __m256 high_float = _mm512_cvtpd_ps(high);
    const __mmask8 up = _mm512_cmp_pd_mask(_mm512_cvtps_pd(high_float), high, _CMP_LT_OQ);
    _mm256_storeu_ps(upper + p, _mm256_castsi256_ps(_mm256_mask_add_epi32(
                                    _mm256_castps_si256(high_float), up, _mm256_castps_si256(high_float), one)));
    if (!lower_too) continue;
    const __m512d low = _mm512_mul_pd(_mm512_mul_pd(_mm512_sqrt_pd(_mm512_loadu_pd(other + p)), shrink), safe_down);
    const __m256 low_float = _mm512_cvtpd_ps(_mm512_max_pd(low, zero));  // NaN or ≤ 0: 0
    const __mmask8 down = _mm512_cmp_pd_mask(_mm512_cvtps_pd(low_float), low, _CMP_GT_OQ) &
                          _mm512_cmp_pd_mask(low, zero, _CMP_GT_OQ);
    _mm256_storeu_ps(lower + p, _mm256_castsi256_ps(_mm256_mask_sub_epi32(
                                    _mm256_castps_si256(low_float), down, _mm256_castps_si256(low_float), one)));
  }
  round_bounds(nearest + p, other + p, count - p, margin, lower_too, upper + p, lower ? lower + p : nullptr);
}

// Sixteen rows per step; the rows to tighten are compressed into the list directly.
inline std::ptrdiff_t hamerly_sweep_lanes(const HamerlyShifts& shifts, const std::int32_t* label,
                                          std::ptrdiff_t count, bool every_row, float* upper, float* lower,
                                          std::int32_t* listed, float* settled) {
  using Ops = Zmm<float>;
  const __m512 zero = _mm512_setzero_ps(), down = _mm512_set1_ps(kOutwardsDown), up = _mm512_set1_ps(kOutwardsUp),
               other_shift = _mm512_set1_ps(shifts.other_shift), fastest_shift = _mm512_set1_ps(shifts.fastest_shift);
  const __m512i one = _mm512_set1_epi32(1), fastest = _mm512_set1_epi32(shifts.fastest);
  __m512i position = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  std::ptrdiff_t open_rows = 0;
  for (std::ptrdiff_t q = 0; q < count; q += 16, position = _mm512_add_epi32(position, _mm512_set1_epi32(16))) {
    const auto rows = static_cast<__mmask16>(count - q >= 16 ? 0xffff : (1u << (count - q)) - 1);
    const __m512i own = _mm512_maskz_loadu_epi32(rows, label + q);
    const __m512i slot = _mm512_add_epi32(own, one);
    const __m512 shift = _mm512_mask_blend_ps(_mm512_cmpeq_epi32_mask(own, fastest), other_shift, fastest_shift);
    const __m512 low = _mm512_max_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(rows, lower + q), shift), down), zero);
    // Per-centre values looked up a register of 16 centres at a time (measured: the
    // gathers this replaced took 3 of the 4.5 ns per row of a sweep at k = 16).
    __m512 row_drift = zero, row_half_gap = zero;
    for (std::ptrdiff_t c = 0; c < shifts.table; c += 16) {
      const __mmask16 here = Ops::index_within(slot, static_cast<int>(c), rows);
      row_drift = Ops::pick(row_drift, here, slot, _mm512_loadu_ps(shifts.drift + c));
      row_half_gap = Ops::pick(row_half_gap, here, slot, _mm512_loadu_ps(shifts.half_gap + c));
    }
    const __m512 high = _mm512_mul_ps(_mm512_add_ps(_mm512_maskz_loadu_ps(rows, upper + q), row_drift), up);
    const __m512 keep = _mm512_max_ps(row_half_gap, low);
    _mm512_mask_storeu_ps(lower + q, rows, low);
    _mm512_mask_storeu_ps(upper + q, rows, high);
    const __mmask16 open = every_row ? rows : static_cast<__mmask16>(rows & ~_mm512_cmp_ps_mask(high, keep, _CMP_LT_OQ));
    _mm512_mask_compressstoreu_epi32(listed + open_rows, open, position);
    _mm512_mask_compressstoreu_ps(settled + open_rows, open, keep);
    open_rows += __builtin_popcount(open);
  }
  return open_rows;
}

// FeatureRange::add_rows' operations on a register of floats or doubles: loads, the largest
// magnitude and the lowest bit (lowest_bit_of, in the type's own bit layout; kNoLowestBit in
// the lanes holding 0), Bit the integer type of the lowest bits' lanes.
template <class T>
struct RangeLanes;

template <>
struct RangeLanes<float> {
  using Register = __m512;
  using Bit = std::int32_t;
  static __mmask16 mask(std::ptrdiff_t lanes) { return static_cast<__mmask16>((1u << lanes) - 1); }
  static Register load(__mmask16 mask, const float* p) { return _mm512_maskz_loadu_ps(mask, p); }
  static Register load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Register r) { _mm512_storeu_ps(p, r); }
  static Register largest(Register top, Register values) { return _mm512_max_ps(top, _mm512_abs_ps(values)); }
  static __m512i lowest(__m512i bits, Register values) { return _mm512_min_epi32(bits, lowest_bits(values)); }
  static __m512i lowest_bits(Register values) {
    const __m512i bits = _mm512_castps_si512(values);
    const __m512i biased = _mm512_and_si512(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(0xff));
    const __m512i mantissa = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fffff));
    const __m512i significand =
        _mm512_mask_or_epi32(mantissa, _mm512_test_epi32_mask(biased, biased), mantissa, _mm512_set1_epi32(0x800000));
    const __m512i low = _mm512_and_si512(significand, _mm512_sub_epi32(_mm512_setzero_si512(), significand));
    const __m512i position =
        _mm512_sub_epi32(_mm512_srli_epi32(_mm512_castps_si512(_mm512_cvtepi32_ps(low)), 23), _mm512_set1_epi32(127));
    // value = significand · 2^(max(biased, 1) − 150)
    const __m512i lowest = _mm512_add_epi32(
        position, _mm512_sub_epi32(_mm512_max_epi32(biased, _mm512_set1_epi32(1)), _mm512_set1_epi32(150)));
    return _mm512_mask_blend_epi32(_mm512_test_epi32_mask(low, low), _mm512_set1_epi32(kNoLowestBit), lowest);
  }
};

template <>
struct RangeLanes<double> {
  using Register = __m512d;
  using Bit = std::int64_t;
  static __mmask8 mask(std::ptrdiff_t lanes) { return static_cast<__mmask8>((1u << lanes) - 1); }
  static Register load(__mmask8 mask, const double* p) { return _mm512_maskz_loadu_pd(mask, p); }
  static Register load(const double* p) { return _mm512_loadu_pd(p); }
  static void store(double* p, Register r) { _mm512_storeu_pd(p, r); }
  static Register largest(Register top, Register values) { return _mm512_max_pd(top, _mm512_abs_pd(values)); }
  static __m512i lowest(__m512i bits, Register values) { return _mm512_min_epi64(bits, lowest_bits(values)); }
  static __m512i lowest_bits(Register values) {
    const __m512i bits = _mm512_castpd_si512(values);
    const __m512i biased = _mm512_and_si512(_mm512_srli_epi64(bits, 52), _mm512_set1_epi64(0x7ff));
    const __m512i mantissa = _mm512_and_si512(bits, _mm512_set1_epi64((std::int64_t{1} << 52) - 1));
    const __m512i significand = _mm512_mask_or_epi64(mantissa, _mm512_test_epi64_mask(biased, biased), mantissa,
                                                     _mm512_set1_epi64(std::int64_t{1} << 52));
    const __m512i low = _mm512_and_si512(significand, _mm512_sub_epi64(_mm512_setzero_si512(), significand));
    const __m512i position =
        _mm512_sub_epi64(_mm512_srli_epi64(_mm512_castpd_si512(_mm512_cvtepi64_pd(low)), 52), _mm512_set1_epi64(1023));
    // value = significand · 2^(max(biased, 1) − 1075)
    const __m512i lowest = _mm512_add_epi64(
        position, _mm512_sub_epi64(_mm512_max_epi64(biased, _mm512_set1_epi64(1)), _mm512_set1_epi64(1075)));
    return _mm512_mask_blend_epi64(_mm512_test_epi64_mask(low, low), _mm512_set1_epi64(kNoLowestBit), lowest);
  }
};

// Per register of features: the running maximum and lowest bit over the rows, in T's
// layout (lanes past `features` see zeros: no effect), then folded into the arrays. Rows go
// in blocks of 16 that stay in L1 while each register of features is swept (measured,
// float32: as fast as the plain maximum this replaced, 2.9 ms for 500k x 32 and 13.7 ms for
// 100k x 256; sweeping all rows per register was 4x slower, blocks of 128 rows 1.5x).
template <class T>
void feature_range_lanes(const T* rows, std::ptrdiff_t count, std::ptrdiff_t features, double* max_abs,
                         std::int64_t* lowest_bit) {
  using Lanes = RangeLanes<T>;
  constexpr std::ptrdiff_t W = 64 / sizeof(T), kBlockRows = 16;
  const std::ptrdiff_t d = features, registers = (d + W - 1) / W;
  std::vector<T> top(static_cast<std::size_t>(registers * W), T(0));
  std::vector<typename Lanes::Bit> bit(static_cast<std::size_t>(registers * W), typename Lanes::Bit{kNoLowestBit});
  for (std::ptrdiff_t first = 0; first < count; first += kBlockRows) {
    const std::ptrdiff_t end = std::min(count, first + kBlockRows);
    for (std::ptrdiff_t column = 0; column < d; column += W) {
      const auto mask = Lanes::mask(std::min(W, d - column));
      auto largest = Lanes::load(top.data() + column);
      __m512i lowest = _mm512_loadu_si512(bit.data() + column);
      for (std::ptrdiff_t i = first; i < end; ++i) {
        const auto values = Lanes::load(mask, rows + i * d + column);
        largest = Lanes::largest(largest, values);
        lowest = Lanes::lowest(lowest, values);
      }
      Lanes::store(top.data() + column, largest);
      _mm512_storeu_si512(bit.data() + column, lowest);
    }
  }
  fold_feature_range(top.data(), bit.data(), d, max_abs, lowest_bit);
}

#pragma GCC diagnostic pop

}  // namespace lloyd::simd::avx512
