#include <gtest/gtest.h>

#include <set>

#include "lloyd/rng.hpp"

namespace lloyd {
namespace {

TEST(CounterRng, SameInputsSameBitsDifferentInputsDifferentBits) {
  const CounterRng a(123), b(123), c(124);
  EXPECT_EQ(a.bits(5, 77), b.bits(5, 77));
  EXPECT_NE(a.bits(5, 77), c.bits(5, 77));
  EXPECT_NE(a.bits(5, 77), a.bits(6, 77));
  EXPECT_NE(a.bits(5, 77), a.bits(5, 78));
}

TEST(CounterRng, UniformMomentsInOpenInterval) {
  const CounterRng rng(9);
  double sum = 0, squares = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform(1, static_cast<std::uint64_t>(i));
    ASSERT_GT(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    squares += u * u;
  }
  EXPECT_NEAR(sum / n, 0.5, 0.005);
  EXPECT_NEAR(squares / n - (sum / n) * (sum / n), 1.0 / 12, 0.002);
}

TEST(CounterRng, NormalMoments) {
  const CounterRng rng(10);
  double sum = 0, squares = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i)
    for (double z : rng.normal_pair(2, static_cast<std::uint64_t>(i))) {
      sum += z;
      squares += z * z;
    }
  EXPECT_NEAR(sum / (2 * n), 0.0, 0.01);
  EXPECT_NEAR(squares / (2 * n), 1.0, 0.02);
}

TEST(Permutation, IsABijectionThatShuffles) {
  for (std::uint64_t n : {1ULL, 2ULL, 3ULL, 1000ULL, 12345ULL}) {
    const Permutation shuffle(n, 77);
    std::set<std::uint64_t> seen;
    std::uint64_t fixed_points = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::uint64_t j = shuffle(i);
      ASSERT_LT(j, n);
      seen.insert(j);
      fixed_points += (i == j);
    }
    EXPECT_EQ(seen.size(), n);
    if (n >= 1000) {
      EXPECT_LT(fixed_points, n / 50);
    }
  }
}

}  // namespace
}  // namespace lloyd
