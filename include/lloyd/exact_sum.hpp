#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "lloyd/comm.hpp"

namespace lloyd {

/// An exact accumulator for sums of doubles (a small Kulisch-style superaccumulator):
/// every finite double is added without rounding into 32-bit digits held in int64 words, so
/// the sum does not depend on the order of the additions or on how rows are split between
/// ranks. The only rounding happens once, in value(), which rounds to nearest.
class ExactSum {
 public:
  /// Enough digits for every finite double (2^-1074 .. 2^1024) plus carry room.
  static constexpr int kDigits = 68;

  void add(double value) {
    if (value == 0.0) return;
    add_nonzero(value);
  }
  /// Adds many finite values: the same sum as adding them one by one, in about a third of
  /// the operations (values of one binary exponent are summed as integers first).
  void add(std::span<const double> values);
  /// Collective over comm: replaces the local sum with the sum over all ranks.
  void allreduce(const Comm& comm);
  /// Collective over comm: the same for many accumulators in one message.
  static void allreduce(std::span<ExactSum> sums, const Comm& comm);
  /// The sum, correctly rounded to the nearest double.
  double value() const;

 private:
  void add_nonzero(double value);
  // Adds significand · 2^(offset − 1074) exactly (|significand| < 2^63).
  void add_scaled(std::int64_t significand, int offset);
  void normalize();
  std::array<std::int64_t, kDigits> digits_{};
  std::uint32_t pending_ = 0;  ///< additions since the last carry propagation
};

#if defined(__AVX512F__) && defined(__AVX512DQ__)
/// round(value × scale) to int64, eight lanes at a time: FixedPoint::to_fixed's arithmetic
/// (the product in double, rounded to nearest even), for the vectorised fixed-point sums.
inline __m512i to_fixed_lanes(__m512d value, __m512d scale) {
  return _mm512_cvttpd_epi64(
      _mm512_roundscale_pd(_mm512_mul_pd(value, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
#endif

/// Per-feature fixed-point representation used for the centroid sums: feature j is stored
/// as round(x * 2^shift_j) in an int64, where 2^shift_j * max|x_j| < 2^62, and summed in an
/// Int128. Integer addition is associative, so the sums are identical for every split of
/// the rows; 2^65 rows fit before an overflow could happen. The quantisation error is below
/// 2^-62 of the feature's largest magnitude: finer than a double-precision sum.
class FixedPoint {
 public:
  static constexpr int kValueBits = 52;  ///< |value| < 2^kValueBits
  FixedPoint() = default;
  /// `max_abs[j]` is the global maximum of |x_j| (identical on every rank).
  explicit FixedPoint(std::span<const double> max_abs);

  std::size_t features() const { return scale_.size(); }
  std::int64_t to_fixed(double value, std::size_t feature) const {
    return static_cast<std::int64_t>(std::nearbyint(value * scale_[feature]));
  }
  /// Adds round(row[j] * 2^shift_j) to sum[j] for every feature: the vectorisable form of
  /// to_fixed for whole rows (nearbyint rounds like to_fixed, to nearest even).
  /// With Sign = −1 the row is subtracted instead.
  template <int Sign = 1, class T>
  void add_row(std::int64_t* __restrict sum, const T* __restrict row) const {
    const double* __restrict scale = scale_.data();
    const std::size_t d = scale_.size();
    std::size_t j = 0;
#if defined(__AVX512F__) && defined(__AVX512DQ__)
    // Eight features per step (measured: the scalar loop was a quarter of a full assignment
    // at d = 8): the same products, roundings to nearest even and integer sums.
    for (; j < d; j += 8) {
      const auto mask = static_cast<__mmask8>(d - j >= 8 ? 0xff : (1u << (d - j)) - 1);
      __m512d value;
      if constexpr (std::is_same_v<T, float>) value = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(mask, row + j));
      else value = _mm512_maskz_loadu_pd(mask, row + j);
      const __m512i fixed = to_fixed_lanes(value, _mm512_maskz_loadu_pd(mask, scale + j));
      const __m512i old = _mm512_maskz_loadu_epi64(mask, sum + j);
      _mm512_mask_storeu_epi64(sum + j, mask, Sign > 0 ? _mm512_add_epi64(old, fixed) : _mm512_sub_epi64(old, fixed));
    }
#endif
    for (; j < d; ++j)
      sum[j] += Sign * static_cast<std::int64_t>(std::nearbyint(static_cast<double>(row[j]) * scale[j]));
  }
  double to_double(Int128 sum, std::size_t feature) const {
    return static_cast<double>(sum) * inverse_scale_[feature];
  }

 private:
  std::vector<double> scale_, inverse_scale_;
};

}  // namespace lloyd
