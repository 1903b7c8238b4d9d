#include "lloyd/core/exact_sum.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace lloyd {

namespace {
constexpr int kDigitBits = 32;
constexpr std::int64_t kDigitMask = (std::int64_t{1} << kDigitBits) - 1;
// Each addition puts less than 2^32 into a digit, so 2^30 additions cannot overflow an int64.
constexpr std::uint32_t kCarryInterval = std::uint32_t{1} << 30;
}  // namespace

namespace {
// value = significand · 2^(offset − 1074), offset = biased exponent − 1 (0 for subnormals,
// whose significand has no implicit bit); |significand| < 2^53, signed like value.
struct Scaled {
  std::int64_t significand;
  int offset;
};
Scaled decompose(double value) {
  const auto bits = std::bit_cast<std::uint64_t>(value);
  const auto biased = static_cast<int>((bits >> 52) & 0x7ff);
  const auto magnitude = static_cast<std::int64_t>((bits & ((std::uint64_t{1} << 52) - 1)) |
                                                   (static_cast<std::uint64_t>(biased != 0) << 52));
  return {(bits >> 63) ? -magnitude : magnitude, biased - (biased != 0)};
}
}  // namespace

void ExactSum::add_nonzero(double value) {
  const Scaled scaled = decompose(value);
  add_scaled(scaled.significand, scaled.offset);
}

void ExactSum::add_scaled(std::int64_t significand, int offset) {
  if (significand == 0) return;
  // |significand| < 2^63 shifted by < 32 bits: three 32-bit digits hold it.
  const auto magnitude = static_cast<UInt128>(significand < 0 ? -static_cast<Int128>(significand)
                                                              : static_cast<Int128>(significand));
  const UInt128 shifted = magnitude << (offset % kDigitBits);
  const std::int64_t sign = significand < 0 ? -1 : 1;
  const int digit = offset / kDigitBits;
  digits_[digit] += sign * static_cast<std::int64_t>(shifted & kDigitMask);
  digits_[digit + 1] += sign * static_cast<std::int64_t>((shifted >> 32) & kDigitMask);
  digits_[digit + 2] += sign * static_cast<std::int64_t>(shifted >> 64);
  if (++pending_ == kCarryInterval) normalize();
}

void ExactSum::add_integer(Int128 value, int exponent) {
  if (value == 0) return;
  const std::int64_t sign = value < 0 ? -1 : 1;
  auto magnitude = static_cast<UInt128>(value < 0 ? -value : value);
  if (exponent < -1074) {  // the bits below 2^−1074 are zero (precondition)
    magnitude >>= -1074 - exponent;
    exponent = -1074;
  }
  const int offset = exponent + 1074;
  const int first = offset / kDigitBits, shift = offset % kDigitBits;
  // magnitude · 2^shift in five 32-bit digits (160 bits).
  const UInt128 low = magnitude << shift;
  const UInt128 high = shift ? magnitude >> (128 - shift) : 0;
  const std::uint64_t pieces[5] = {static_cast<std::uint64_t>(low) & kDigitMask,
                                   static_cast<std::uint64_t>(low >> 32) & kDigitMask,
                                   static_cast<std::uint64_t>(low >> 64) & kDigitMask,
                                   static_cast<std::uint64_t>(low >> 96) & kDigitMask,
                                   static_cast<std::uint64_t>(high)};
  for (int i = 0; i < 5; ++i) {
    if (pieces[i] == 0) continue;
    if (first + i >= kDigits) throw std::overflow_error("ExactSum::add_integer: beyond 2^1100");
    digits_[first + i] += sign * static_cast<std::int64_t>(pieces[i]);
  }
  if (++pending_ == kCarryInterval) normalize();
}

void ExactSum::add(std::span<const double> values) {
  // One int64 per offset sums up to 2^10 significands (each below 2^53) exactly; they are
  // carried into the digits per chunk.
  constexpr std::size_t kChunk = 1024;
  constexpr int kOffsets = 2047;
  std::vector<std::int64_t> by_offset(kOffsets, 0);
  std::array<std::uint64_t, (kOffsets + 63) / 64> used{};
  for (std::size_t begin = 0; begin < values.size(); begin += kChunk) {
    const std::size_t end = std::min(values.size(), begin + kChunk);
    for (std::size_t i = begin; i < end; ++i) {
      const Scaled scaled = decompose(values[i]);
      by_offset[static_cast<std::size_t>(scaled.offset)] += scaled.significand;
      used[static_cast<std::size_t>(scaled.offset / 64)] |= std::uint64_t{1} << (scaled.offset % 64);
    }
    for (std::size_t word = 0; word < used.size(); ++word) {
      for (std::uint64_t set = used[word]; set != 0; set &= set - 1) {
        const int offset = static_cast<int>(word * 64) + std::countr_zero(set);
        add_scaled(by_offset[static_cast<std::size_t>(offset)], offset);
        by_offset[static_cast<std::size_t>(offset)] = 0;
      }
      used[word] = 0;
    }
  }
}

void ExactSum::normalize() {
  // Afterwards every digit but the last lies in [0, 2^32); the last carries the sign.
  for (int i = 0; i + 1 < kDigits; ++i) {
    const std::int64_t carry = digits_[i] >> kDigitBits;  // floor division
    digits_[i] -= carry * (std::int64_t{1} << kDigitBits);
    digits_[i + 1] += carry;
  }
  pending_ = 0;
}

void ExactSum::allreduce(const Comm& comm) { allreduce(std::span<ExactSum>(this, 1), comm); }

void ExactSum::allreduce(std::span<ExactSum> sums, const Comm& comm) {
  std::vector<std::int64_t> words(sums.size() * kDigits);
  for (std::size_t s = 0; s < sums.size(); ++s) {
    sums[s].normalize();  // digits < 2^32: summing them over < 2^31 ranks cannot overflow
    std::copy(sums[s].digits_.begin(), sums[s].digits_.end(), words.begin() + s * kDigits);
  }
  comm.allreduce(std::span<std::int64_t>(words), MPI_SUM);
  for (std::size_t s = 0; s < sums.size(); ++s) {
    std::copy(words.begin() + s * kDigits, words.begin() + (s + 1) * kDigits,
              sums[s].digits_.begin());
    sums[s].normalize();
  }
}

double ExactSum::value() const {
  ExactSum magnitude = *this;
  magnitude.normalize();
  const bool negative = magnitude.digits_[kDigits - 1] < 0;
  if (negative) {
    for (auto& d : magnitude.digits_) d = -d;
    magnitude.normalize();
  }
  int top = kDigits - 1;
  while (top >= 0 && magnitude.digits_[top] == 0) --top;
  if (top < 0) return 0.0;
  // The three leading digits hold at least 65 significant bits; lower digits only decide
  // the rounding, so they collapse into a sticky bit below the rounding position.
  const int base = std::max(top - 2, 0);
  UInt128 leading = 0;
  for (int i = top; i >= base; --i)
    leading = (leading << kDigitBits) | static_cast<UInt128>(magnitude.digits_[i]);
  int exponent = kDigitBits * base - 1074;
  if (base > 0) {
    bool sticky = false;
    for (int i = 0; i < base; ++i) sticky |= magnitude.digits_[i] != 0;
    leading = (leading << 1) | (sticky ? 1u : 0u);
    exponent -= 1;
  }
  const double result = std::ldexp(static_cast<double>(leading), exponent);
  return negative ? -result : result;
}

FixedPoint::FixedPoint(std::span<const double> max_abs)
    : scale_(max_abs.size()), second_scale_(max_abs.size(), 1.0), inverse_scale_(max_abs.size()),
      top_(max_abs.size()) {
  for (std::size_t j = 0; j < max_abs.size(); ++j) {
    int exponent = 0;  // max_abs < 2^exponent
    if (max_abs[j] > 0) std::frexp(max_abs[j], &exponent);
    // Clamped so that 2^shift and 2^-shift are both representable doubles.
    const int shift = std::clamp(kValueBits - exponent, -1000, 1000);
    scale_[j] = std::ldexp(1.0, shift);
    inverse_scale_[j] = std::ldexp(1.0, -shift);
    top_[j] = kValueBits - shift;
  }
}

FixedPoint::FixedPoint(const FeatureRange& range)
    : scale_(range.features()), second_scale_(range.features(), 1.0), inverse_scale_(range.features()),
      top_(range.features()) {
  // One scale step up to 2^1000 (so that its inverse is a normal double); beyond, two.
  constexpr int kLargestStep = 1000;
  for (std::size_t j = 0; j < range.features(); ++j) {
    int exponent = 0;  // max|x_j| < 2^exponent
    if (range.max_abs(j) > 0) std::frexp(range.max_abs(j), &exponent);
    const int shift = kValueBits - exponent;  // in [−972, 1125]
    top_[j] = exponent;
    if (shift > kLargestStep) {
      scale_[j] = std::ldexp(1.0, kLargestStep);
      second_scale_[j] = std::ldexp(1.0, shift - kLargestStep);
      two_step_ = general_ = true;
    } else {
      scale_[j] = std::ldexp(1.0, shift);
    }
    inverse_scale_[j] = std::ldexp(1.0, -std::min(shift, kLargestStep));
    // Limb l holds the bits down to 2^(exponent − 52(l + 1)): enough of them to reach the
    // lowest set bit of every value.
    if (range.lowest_bit(j) != FeatureRange::kNoBit) {
      const int reach = exponent - range.lowest_bit(j);
      limbs_ = std::max(limbs_, (reach + kValueBits - 1) / kValueBits);
    }
  }
  general_ = general_ || limbs_ > 1;
}

namespace {
// value · 2^exponent rounded once to the nearest double (the conversion's rounding; the
// scaling by a power of two is then exact), where that is a normal double; ExactSum::value
// rounds the same exact value the same way.
std::optional<double> scaled_once(Int128 value, int exponent) {
  const double rounded = static_cast<double>(value);
  if (rounded == 0) return 0.0;
  const int magnitude = std::ilogb(rounded) + exponent;
  if (magnitude < std::numeric_limits<double>::min_exponent - 1 || magnitude >= std::numeric_limits<double>::max_exponent)
    return std::nullopt;
  return std::ldexp(rounded, exponent);
}
}  // namespace

std::optional<Int128> FixedPoint::in_last_limb_units(const Int128* limbs, std::size_t stride) const {
  if (limbs_ > 2) return std::nullopt;
  constexpr Int128 kLimit = Int128{1} << 74;  // |limb| below: |high · 2^52 + low| < 2^127
  const Int128 high = limbs[0], low = limbs_ == 2 ? limbs[stride] : 0;
  if (high <= -kLimit || high >= kLimit || low <= -kLimit || low >= kLimit) return std::nullopt;
  return limbs_ == 2 ? high * (Int128{1} << kValueBits) + low : high;
}

ExactSum FixedPoint::limb_sum(const Int128* limbs, std::size_t stride, std::size_t feature) const {
  ExactSum sum;
  for (int l = 0; l < limbs_; ++l)
    sum.add_integer(limbs[static_cast<std::size_t>(l) * stride], top_[feature] - kValueBits * (l + 1));
  return sum;
}

double FixedPoint::to_double(const Int128* limbs, std::size_t stride, std::size_t feature) const {
  if (!general_) return to_double(limbs[0], feature);
  // Up to two limbs (float64 data mostly need two) as one integer, rounded once (measured at
  // k = d = 256: an ExactSum per value made the update 9 ms per iteration); ExactSum for
  // the rest.
  if (const auto units = in_last_limb_units(limbs, stride))
    if (const auto value = scaled_once(*units, top_[feature] - kValueBits * limbs_)) return *value;
  return limb_sum(limbs, stride, feature).value();
}

double FixedPoint::centred_to_double(const Int128* limbs, std::size_t stride, std::size_t feature,
                                     std::int64_t count, double offset) const {
  // As to_double where the offset lies on the grid of the last limb (a mean of float64 data
  // mostly does) and count · offset fits: the difference of two integers, rounded once.
  const int exponent = top_[feature] - kValueBits * limbs_;
  if (const auto units = in_last_limb_units(limbs, stride)) {
    const double grid_offset = std::ldexp(offset, -exponent);  // exact: a power of two
    if (grid_offset == std::trunc(grid_offset) && std::abs(grid_offset) < 0x1p126) {
      Int128 product = 0, centred = 0;
      if (!__builtin_mul_overflow(Int128{count}, static_cast<Int128>(grid_offset), &product) &&
          !__builtin_sub_overflow(*units, product, &centred))
        if (const auto value = scaled_once(centred, exponent)) return *value;
    }
  }
  ExactSum sum = limb_sum(limbs, stride, feature);
  // − count · offset exactly: count in two parts exact as doubles, each product as the
  // rounded product and its exact error (a fused multiply-add).
  const std::int64_t high = count >> 32 << 32;
  for (const std::int64_t part : {high, count - high}) {
    const double factor = static_cast<double>(part);
    const double product = factor * offset;
    sum.add(-product);
    sum.add(-std::fma(factor, offset, -product));
  }
  return sum.value();
}

template <class T>
void FeatureRange::add_rows(const T* rows, std::size_t count) {
  // The kernel of the SIMD level in use (with AVX-512 a register of features at a time:
  // measured on 16M float32 values, 28 ms value by value, 2.9 ms so); every level finds the
  // same maxima and lowest bits.
  simd::kernels<T>().feature_range_rows(rows, static_cast<std::ptrdiff_t>(count),
                                        static_cast<std::ptrdiff_t>(max_abs_.size()), max_abs_.data(),
                                        lowest_bit_.data());
}

template void FeatureRange::add_rows(const float*, std::size_t);
template void FeatureRange::add_rows(const double*, std::size_t);

void FeatureRange::allreduce(const Comm& comm) {
  // One message, reduced by MAX: the magnitudes, then the negated lowest bits.
  const std::size_t d = max_abs_.size();
  std::vector<double> message(2 * d);
  for (std::size_t j = 0; j < d; ++j) {
    message[j] = max_abs_[j];
    message[d + j] = -static_cast<double>(lowest_bit_[j]);
  }
  comm.allreduce(std::span<double>(message), MPI_MAX);
  for (std::size_t j = 0; j < d; ++j) {
    max_abs_[j] = message[j];
    lowest_bit_[j] = -static_cast<std::int64_t>(message[d + j]);
  }
}

double exact_total(const Comm& comm, std::span<const double> values) {
  ExactSum sum;
  sum.add(values);
  sum.allreduce(comm);
  return sum.value();
}

void ExactSum::add(std::span<const double> values, std::span<const double> weights) {
  if (weights.empty()) return add(values);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const WeightedProduct term = weighted_product(weights[i], values[i]);
    add(term.product);
    add(term.error);
  }
}

double exact_total(const Comm& comm, std::span<const double> values, std::span<const double> weights) {
  if (weights.empty()) return exact_total(comm, values);
  ExactSum sum;
  sum.add(values, weights);
  sum.allreduce(comm);
  return sum.value();
}

std::vector<std::int64_t> fixed_point_weights(const Comm& comm, std::span<const double> weights) {
  double largest = 0;
  for (const double weight : weights) largest = std::max(largest, weight);
  const double bound[1] = {comm.allreduce(largest, MPI_MAX)};
  const FixedPoint grid(bound);
  std::vector<std::int64_t> units(weights.size());
  for (std::size_t i = 0; i < units.size(); ++i) units[i] = grid.to_fixed(weights[i], 0);
  return units;
}

}  // namespace lloyd
