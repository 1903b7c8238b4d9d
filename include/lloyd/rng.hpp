#pragma once
#include <array>
#include <cstdint>

#include "lloyd/int128.hpp"

namespace lloyd {

/// What a random draw is for. Each purpose gets its own stream so that draws never collide.
enum class Stream : std::uint64_t {
  FirstCentre = 1,    ///< k-means++: the uniform first centre
  SquaredDistance,    ///< k-means++: D² sampling trials
  Forgy,              ///< forgy: k distinct rows
  RandomPartition,    ///< random-partition: a cluster per row
  FillEmpty,          ///< random-partition: rows for empty partitions
  GenerateCentres,    ///< generate: blob centres
  GenerateNoise,      ///< generate: Gaussian noise of each row
  GeneratePermute,    ///< generate: row shuffle
  SilhouetteSample,   ///< evaluate: rows of a sampled silhouette
  GapReference,       ///< choose-k: uniform reference data of the gap statistic
  ParallelSample,     ///< k-means||: the candidates of each round
  ParallelReduce,     ///< k-means||: weighted k-means++ on the candidates
  BisectingSplit,     ///< bisecting: the seed of each split's 2-means
  MiniBatchDraw,      ///< mini-batch: the rows of each step's batch (drawn with replacement)
  MiniBatchInit,      ///< mini-batch: the rows the centres are seeded from
  MedoidSample,       ///< k-medoids --sample: the rows of the CLARA-style sample
  MiniBatchReassign,  ///< mini-batch: the batch rows that replace centres with small counts
};

/// A stream id: purpose, restart (n_init), and a sub-stream (e.g. centre and trial number).
constexpr std::uint64_t stream_id(Stream purpose, std::uint64_t restart = 0,
                                  std::uint64_t sub = 0) {
  return (static_cast<std::uint64_t>(purpose) << 56) ^ (restart << 36) ^ sub;
}

/// Counter-based generator (Philox4x32-10, Salmon et al., SC'11): the bits for
/// (seed, stream, counter) are a pure function of the three, so a row's draw is the same
/// whichever rank holds the row and whatever was drawn before.
class CounterRng {
 public:
  explicit CounterRng(std::uint64_t seed) : seed_(seed) {}

  std::array<std::uint64_t, 2> bits(std::uint64_t stream, std::uint64_t counter) const;
  /// Uniform in the open interval (0, 1).
  double uniform(std::uint64_t stream, std::uint64_t counter) const {
    return to_unit(bits(stream, counter)[0]);
  }
  /// Two independent standard normals (Box–Muller).
  std::array<double, 2> normal_pair(std::uint64_t stream, std::uint64_t counter) const;

  static double to_unit(std::uint64_t bits) {
    return (static_cast<double>(bits >> 11) + 0.5) * 0x1.0p-53;
  }

 private:
  std::uint64_t seed_;
};

/// floor(u · total / 2^64): a uniform 64-bit integer `u` scaled to an integer in [0, total)
/// (total > 0), exactly — the high half of the 64 × 128-bit product. Unlike u mod total it
/// is continuous in the total: a small change of the total (the same data rounded to float32
/// instead of float64) moves the draw only slightly, so an inverse-transform pick changes
/// only when the draw falls right at a boundary (as scikit-learn's uniform × total does).
inline UInt128 scaled_draw(std::uint64_t u, UInt128 total) {
  const auto high = static_cast<std::uint64_t>(total >> 64), low = static_cast<std::uint64_t>(total);
  // u · total = u · high · 2^64 + u · low; the first term is a multiple of 2^64.
  return static_cast<UInt128>(u) * high + ((static_cast<UInt128>(u) * low) >> 64);
}

/// A keyed bijection of [0, n) (a 4-round Feistel network with cycle walking): shuffles
/// rows without moving data or communicating. Used by `generate` to interleave clusters.
class Permutation {
 public:
  Permutation(std::uint64_t n, std::uint64_t seed);
  std::uint64_t operator()(std::uint64_t index) const;

 private:
  std::uint64_t n_;
  CounterRng rng_;
  int half_bits_ = 1;
};

// Inline: it sits in the innermost loops of seeding and generation.
namespace philox {
constexpr std::uint32_t kMultiplier0 = 0xD2511F53u, kMultiplier1 = 0xCD9E8D57u;
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
}  // namespace philox

inline std::array<std::uint64_t, 2> CounterRng::bits(std::uint64_t stream, std::uint64_t counter) const {
  std::array<std::uint32_t, 4> x = {static_cast<std::uint32_t>(counter),
                                    static_cast<std::uint32_t>(counter >> 32),
                                    static_cast<std::uint32_t>(stream),
                                    static_cast<std::uint32_t>(stream >> 32)};
  std::uint32_t key0 = static_cast<std::uint32_t>(seed_), key1 = static_cast<std::uint32_t>(seed_ >> 32);
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t product0 = std::uint64_t{philox::kMultiplier0} * x[0];
    const std::uint64_t product1 = std::uint64_t{philox::kMultiplier1} * x[2];
    x = {static_cast<std::uint32_t>(product1 >> 32) ^ x[1] ^ key0,
         static_cast<std::uint32_t>(product1),
         static_cast<std::uint32_t>(product0 >> 32) ^ x[3] ^ key1,
         static_cast<std::uint32_t>(product0)};
    key0 += philox::kWeyl0;
    key1 += philox::kWeyl1;
  }
  return {(std::uint64_t{x[1]} << 32) | x[0], (std::uint64_t{x[3]} << 32) | x[2]};
}

}  // namespace lloyd
