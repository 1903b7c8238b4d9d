#pragma once
// The exponent of a value's lowest set bit, in the value's own bit layout (float or double):
// FeatureRange (core/exact_sum.hpp) and the kernel feature_range_rows (kernels.hpp).
//
// Included at file scope by code of any layer above simd (lloyd::simd::…), and by each
// level's kernels with LLOYD_SIMD_LEVEL_NAMESPACE defined (lloyd::simd::<level>::…), so that
// no copy compiled with one level's flags can stand in for another's at link time.
#include <algorithm>
#include <bit>
#include <cstdint>

#ifdef LLOYD_SIMD_LEVEL_NAMESPACE
namespace lloyd::simd::LLOYD_SIMD_LEVEL_NAMESPACE {
#else
namespace lloyd::simd {
#endif

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
