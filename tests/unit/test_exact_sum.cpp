#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include "lloyd/exact_sum.hpp"

namespace lloyd {
namespace {

double exact_sum_of(const std::vector<double>& values) {
  ExactSum sum;
  for (double v : values) sum.add(v);
  return sum.value();
}

TEST(ExactSum, CancellationKeepsTheSmallTerm) {
  // Naive double summation loses the 1 entirely.
  EXPECT_EQ(exact_sum_of({1e16, 1.0, -1e16}), 1.0);
  EXPECT_EQ(exact_sum_of({1e300, 1e-300, -1e300}), 1e-300);
}

TEST(ExactSum, RoundsOnceToNearest) {
  // 1 + 2^-53 + 2^-80 lies just above the midpoint between 1 and 1 + 2^-52, so the
  // correctly rounded sum is 1 + 2^-52; sequential double addition gives 1.
  const double exact = exact_sum_of({1.0, std::ldexp(1.0, -53), std::ldexp(1.0, -80)});
  EXPECT_EQ(exact, 1.0 + std::ldexp(1.0, -52));
  EXPECT_EQ((1.0 + std::ldexp(1.0, -53)) + std::ldexp(1.0, -80), 1.0);
}

TEST(ExactSum, IndependentOfOrder) {
  std::mt19937_64 gen(42);
  std::lognormal_distribution<double> magnitude(0.0, 8.0);
  std::vector<double> values(20000);
  for (auto& v : values) v = (gen() & 1 ? -1 : 1) * magnitude(gen);
  const double reference = exact_sum_of(values);
  for (int trial = 0; trial < 5; ++trial) {
    std::shuffle(values.begin(), values.end(), gen);
    EXPECT_EQ(exact_sum_of(values), reference);
  }
}

TEST(ExactSum, MatchesIntegerArithmeticOnDyadicValues) {
  // Values m * 2^-20 with integer m: the exact sum is computable in int64.
  std::mt19937_64 gen(7);
  std::uniform_int_distribution<std::int64_t> numerator(-(1LL << 40), 1LL << 40);
  std::vector<double> values(5000);
  std::int64_t total = 0;
  for (auto& v : values) {
    const std::int64_t m = numerator(gen);
    total += m;
    v = std::ldexp(static_cast<double>(m), -20);
  }
  EXPECT_EQ(exact_sum_of(values), std::ldexp(static_cast<double>(total), -20));
}

TEST(ExactSum, HandlesSubnormalsHugeValuesAndZero) {
  const double tiny = std::numeric_limits<double>::denorm_min();
  EXPECT_EQ(exact_sum_of({tiny, tiny, tiny}), 3 * tiny);
  EXPECT_EQ(exact_sum_of({1e308, 1e308, -1e308}), 1e308);
  EXPECT_EQ(exact_sum_of({}), 0.0);
  EXPECT_EQ(exact_sum_of({-2.5, 0.5}), -2.0);
}

// The bulk add (significands of one exponent summed as integers first) is the same sum as
// adding the values one by one: signs, subnormals, huge values, zeros, long runs of one
// exponent (more than a chunk), and cancellation.
TEST(ExactSum, BulkAddEqualsAddingOneByOne) {
  std::mt19937_64 generator(5);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  std::uniform_int_distribution<int> exponent(-1074, 1000);
  std::vector<double> values;
  for (int i = 0; i < 5000; ++i) values.push_back(std::ldexp(unit(generator), exponent(generator)));
  for (int i = 0; i < 3000; ++i) values.push_back(1.0 + unit(generator) * 0.5);  // one exponent
  for (int i = 0; i < 100; ++i) values.push_back(std::numeric_limits<double>::denorm_min() * (i - 50));
  values.push_back(0.0);
  values.push_back(-0.0);
  values.push_back(std::numeric_limits<double>::max());
  values.push_back(-std::numeric_limits<double>::max());
  values.push_back(1e-300);
  ExactSum one_by_one, bulk, split;
  for (double v : values) one_by_one.add(v);
  bulk.add(values);
  split.add(std::span<const double>(values).first(1234));
  split.add(std::span<const double>(values).subspan(1234));
  EXPECT_EQ(bulk.value(), one_by_one.value());
  EXPECT_EQ(split.value(), one_by_one.value());
  ExactSum cancelling;
  const double terms[] = {1e16, 1.0, -1e16};
  cancelling.add(terms);
  EXPECT_EQ(cancelling.value(), 1.0);
}

TEST(FixedPoint, RoundTripErrorBelowTwoToMinus52OfTheMaximum) {
  const std::vector<double> max_abs = {1000.0, 1e-8, 0.0};
  const FixedPoint fixed(max_abs);
  for (double v : {1000.0, -999.123456789, 3.0e-7, 0.0}) {
    const double back = fixed.to_double(fixed.to_fixed(v, 0), 0);
    EXPECT_LE(std::abs(back - v), std::ldexp(1000.0, -FixedPoint::kValueBits));
  }
  EXPECT_NEAR(fixed.to_double(fixed.to_fixed(-7.5e-9, 1), 1), -7.5e-9, std::ldexp(1e-8, -FixedPoint::kValueBits));
  EXPECT_EQ(fixed.to_fixed(0.0, 2), 0);
}

}  // namespace
}  // namespace lloyd
