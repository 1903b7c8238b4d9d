#pragma once
// Bounds rounded outwards to float (kmeans/bounded.cpp; the kernels round_bounds and
// hamerly_sweep, kernels.hpp): an upper bound never below the value, a lower bound never
// above it.
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

// From a double, the factor covers the rounding of the double arithmetic before; the last
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

}  // namespace
