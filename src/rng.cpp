#include "lloyd/rng.hpp"

#include <cmath>
#include <numbers>

namespace lloyd {

std::array<double, 2> CounterRng::normal_pair(std::uint64_t stream, std::uint64_t counter) const {
  const auto b = bits(stream, counter);
  const double radius = std::sqrt(-2.0 * std::log(to_unit(b[0])));
  const double angle = 2.0 * std::numbers::pi * to_unit(b[1]);
  return {radius * std::cos(angle), radius * std::sin(angle)};
}

Permutation::Permutation(std::uint64_t n, std::uint64_t seed) : n_(n), rng_(seed) {
  while (half_bits_ < 32 && (std::uint64_t{1} << (2 * half_bits_)) < n) ++half_bits_;
}

std::uint64_t Permutation::operator()(std::uint64_t index) const {
  const std::uint64_t mask = (std::uint64_t{1} << half_bits_) - 1;
  const std::uint64_t stream = stream_id(Stream::GeneratePermute);
  std::uint64_t value = index;
  // Cycle walking: the Feistel network permutes [0, 4^half_bits); re-applying it until the
  // value falls inside [0, n) gives a permutation of [0, n).
  do {
    std::uint64_t left = value >> half_bits_, right = value & mask;
    for (std::uint64_t round = 0; round < 4; ++round) {
      const std::uint64_t f = rng_.bits(stream, (round << 32) | right)[0] & mask;
      const std::uint64_t next_right = left ^ f;
      left = right;
      right = next_right;
    }
    value = (left << half_bits_) | right;
  } while (value >= n_);
  return value;
}

}  // namespace lloyd
