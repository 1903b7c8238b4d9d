#pragma once
// Scalar operations on IEEE values' bits that the kernels (kernels.hpp) and the layers above
// share: bounds rounded outwards to float (kmeans/bounded.cpp; Kernels::round_bounds and
// hamerly_sweep) and the exponent of a value's lowest set bit (core/exact_sum.hpp's
// FeatureRange; Kernels::feature_range_rows).
//
// Included at file scope by code of any layer above simd (compiled for baseline x86-64: the
// functions are lloyd::simd::…), and by each level's kernels (src/simd/kernels_<level>.cpp,
// with LLOYD_SIMD_LEVEL_NAMESPACE defined: lloyd::simd::<level>::…), so that no copy compiled
// with one level's flags can stand in for another's at link time.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>

#ifdef LLOYD_SIMD_LEVEL_NAMESPACE
namespace lloyd::simd::LLOYD_SIMD_LEVEL_NAMESPACE {
#else
namespace lloyd::simd {
#endif

// Bounds rounded outwards: an upper bound never below the value, a lower bound never above
// it. From a double, the factor covers the rounding of the double arithmetic before; the last
// float step goes one representable value outwards when needed. Branch-free: whether the
// float rounding went the wrong way is data, not a pattern the branch predictor could learn
// (measured: a mispredicted branch per bound was a third of a full assignment at d = 8).
inline float round_up(double value) {
  value *= 1 + 4 * std::numeric_limits<double>::epsilon();
  const auto rounded = static_cast<float>(value);
  // One representable value up (value ≥ 0 and finite here): the next bit pattern.
  const std::uint32_t up = static_cast<double>(rounded) < value;
  return std::bit_cast<float>(std::bit_cast<std::uint32_t>(rounded) + up);
}

inline float round_down(double value) {
  value *= 1 - 4 * std::numeric_limits<double>::epsilon();
  const auto rounded = static_cast<float>(std::max(0.0, value));  // NaN or ≤ 0: 0
  // rounded > value > 0: the previous bit pattern (never below 0: then rounded is 0).
  const std::uint32_t down = (static_cast<double>(rounded) > value) & (value > 0);
  return std::bit_cast<float>(std::bit_cast<std::uint32_t>(rounded) - down);
}

// Moving a bound by a drift in float arithmetic: each of the two roundings is within 2^-24
// relative, so a factor of 1 ± 2^-22 after the sum keeps the result on the safe side
// (and +inf stays +inf; a lower bound that would go negative becomes 0).
inline constexpr float kOutwardsUp = 1.0f + 0x1p-22f, kOutwardsDown = 1.0f - 0x1p-22f;

/// lowest_bit_of a value with no set bit (±0).
inline constexpr int kNoLowestBit = 1 << 20;

/// The IEEE binary layout of T: Bits its unsigned integer image, Signed the same width signed.
template <class T>
struct BitLayout;
template <>
struct BitLayout<float> {
  using Bits = std::uint32_t;
  using Signed = std::int32_t;
  static constexpr int kSignificandBits = 23, kBias = 127;
  static constexpr Bits kExponentMask = 0xff;
};
template <>
struct BitLayout<double> {
  using Bits = std::uint64_t;
  using Signed = std::int64_t;
  static constexpr int kSignificandBits = 52, kBias = 1023;
  static constexpr Bits kExponentMask = 0x7ff;
};

/// The exponent of value's lowest set bit (kNoLowestBit for ±0; value is a multiple of 2^that):
/// the significand's lowest bit isolated (m & −m) and converted to T (exact: a power of two)
/// gives its position. Integer operations of T's width only, so that loops over it vectorise.
template <class T>
inline typename BitLayout<T>::Signed lowest_bit_of(T value) {
  using Layout = BitLayout<T>;
  using Bits = typename Layout::Bits;
  using Signed = typename Layout::Signed;
  constexpr int kSignificand = Layout::kSignificandBits;
  const auto bits = std::bit_cast<Bits>(value);
  const auto biased = static_cast<Signed>((bits >> kSignificand) & Layout::kExponentMask);
  const Bits significand = (bits & ((Bits{1} << kSignificand) - 1)) | (static_cast<Bits>(biased != 0) << kSignificand);
  const Bits low = significand & (~significand + 1);
  // low ≤ 2^kSignificand: exact through the signed conversion (the one vector units have).
  const Bits low_as_t = std::bit_cast<Bits>(static_cast<T>(static_cast<Signed>(low)));
  const auto position = static_cast<Signed>(low_as_t >> kSignificand) - Layout::kBias;
  // value = significand · 2^(max(biased, 1) − bias − kSignificand)
  return low == 0 ? Signed{kNoLowestBit}
                  : position + std::max<Signed>(biased, 1) - (Layout::kBias + kSignificand);
}

}  // namespace
