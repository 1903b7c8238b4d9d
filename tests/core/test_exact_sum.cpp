#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include "lloyd/core/exact_sum.hpp"
#include "lloyd/core/cluster_sums.hpp"

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

TEST(ExactSum, AddIntegerIsExactAtEveryScale) {
  ExactSum exact;
  exact.add_integer(static_cast<Int128>(1) << 100, -100);
  exact.add_integer(-4, -1076);  // −2^−1074
  EXPECT_EQ(exact.value(), 1.0);  // the tiny term only decides the rounding
  ExactSum tiny;
  tiny.add_integer(-4, -1076);
  EXPECT_EQ(tiny.value(), -std::numeric_limits<double>::denorm_min());
  ExactSum big;
  big.add_integer((static_cast<Int128>(1) << 120) - 1, 900);  // just below 2^1020
  EXPECT_EQ(big.value(), std::ldexp(1.0, 1020));
  ExactSum cancelling;  // 2^200 + 3·2^−1074 − 2^200
  cancelling.add_integer(static_cast<Int128>(1) << 100, 100);
  cancelling.add_integer(3, -1074);
  cancelling.add_integer(-(static_cast<Int128>(1) << 110), 90);
  EXPECT_EQ(cancelling.value(), 3 * std::numeric_limits<double>::denorm_min());
}

// FixedPoint::to_double and centred_to_double of two limbs (their one-integer arithmetic where
// it fits 127 bits and lands on a normal double) against the limbs (and − count · offset)
// added into an ExactSum and rounded once: the same bits, for sums of every size and sign,
// halfway cases, sums beyond 127 bits, offsets on and off the grid, counts near the int64
// limit, results that are subnormal or huge (where they fall back to the ExactSum).
TEST(FixedPoint, TwoLimbValuesRoundLikeTheExactSum) {
  std::mt19937_64 random(11);
  for (const double largest : {1.0, 0x1p-1000, 0x1p-1020, 0x1p1000, 3.5e-300, 12345.678}) {
    FeatureRange range(1);
    range.add(0, largest);
    range.add(0, largest / 3);  // 53 significant bits two below its top: two limbs
    const FixedPoint fixed(range);
    ASSERT_EQ(fixed.limbs(), 2) << largest;
    int top = 0;
    std::frexp(largest, &top);
    for (int trial = 0; trial < 4000; ++trial) {
      const int high_bits = static_cast<int>(random() % 80), low_bits = static_cast<int>(random() % 80);
      auto draw = [&](int bits) {
        const Int128 magnitude = (static_cast<Int128>(random()) << 64 | random()) & ((Int128{1} << bits) - 1);
        return random() % 2 ? -magnitude : magnitude;
      };
      Int128 limbs[2] = {draw(high_bits), draw(low_bits)};
      if (trial % 5 == 0) limbs[1] = (trial % 10 ? 1 : -1) * (Int128{1} << 51);  // halfway below the high limb
      if (trial % 7 == 0) limbs[0] |= 1;
      // Sums of data are multiples of 2^−1074 (ExactSum's precondition), whatever a limb's unit.
      if (const int below = -1074 - (top - 2 * FixedPoint::kValueBits); below > 0)
        limbs[1] = limbs[1] / (Int128{1} << below) * (Int128{1} << below);
      ExactSum exact;
      exact.add_integer(limbs[0], top - FixedPoint::kValueBits);
      exact.add_integer(limbs[1], top - 2 * FixedPoint::kValueBits);
      const double expected = exact.value(), got = fixed.to_double(limbs, 1, 0);
      EXPECT_EQ(std::memcmp(&expected, &got, sizeof got), 0)
          << largest << " trial " << trial << ": " << expected << " against " << got;
      // centred_to_double: minus count · offset, the offset on the last limb's grid (as a mean
      // of such data mostly is) or off it, the count small or near the int64 limit.
      const std::int64_t count = trial % 3 ? static_cast<std::int64_t>(random() % 1000000)
                                           : static_cast<std::int64_t>(random() >> 1);
      const double offset =
          trial % 4 ? std::ldexp(static_cast<double>(static_cast<std::int64_t>(random() >> 11) - (std::int64_t{1} << 52)),
                                 top - 2 * FixedPoint::kValueBits + static_cast<int>(random() % 60))
                    : largest * std::uniform_real_distribution<double>(-1, 1)(random);
      const std::int64_t high = count >> 32 << 32;
      for (const std::int64_t part : {high, count - high}) {
        const double factor = static_cast<double>(part), product = factor * offset;
        exact.add(-product);
        exact.add(-std::fma(factor, offset, -product));
      }
      const double centred = exact.value(), got_centred = fixed.centred_to_double(limbs, 1, 0, count, offset);
      EXPECT_EQ(std::memcmp(&centred, &got_centred, sizeof got_centred), 0)
          << largest << " trial " << trial << " count " << count << " offset " << offset << ": " << centred
          << " against " << got_centred;
    }
  }
}

TEST(FeatureRange, LowestBitOfEveryKindOfValue) {
  EXPECT_EQ(FeatureRange::lowest_bit_of(1.0), 0);
  EXPECT_EQ(FeatureRange::lowest_bit_of(-0.5), -1);
  EXPECT_EQ(FeatureRange::lowest_bit_of(3.0), 0);
  EXPECT_EQ(FeatureRange::lowest_bit_of(1.5), -1);
  EXPECT_EQ(FeatureRange::lowest_bit_of(1e17), 17);  // 1e17 = 2^17 · 762939453125
  EXPECT_EQ(FeatureRange::lowest_bit_of(std::numeric_limits<double>::denorm_min()), -1074);
  EXPECT_EQ(FeatureRange::lowest_bit_of(std::nextafter(1.0, 2.0)), -52);
  EXPECT_EQ(FeatureRange::lowest_bit_of(0.0), FeatureRange::kNoBit);
  EXPECT_EQ(FeatureRange::lowest_bit_of(-0.0), FeatureRange::kNoBit);
}

// add_rows (AVX-512, in the type's own layout) agrees with the one-value form.
template <class T>
void expect_rows_as_values() {
  std::mt19937_64 generator(3);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (const std::size_t d : {1u, 3u, 8u, 16u, 17u, 40u}) {
    std::vector<T> rows(700 * d);
    for (std::size_t e = 0; e < rows.size(); ++e) {
      const double scale = std::ldexp(1.0, static_cast<int>(e % 61) - 30);
      rows[e] = static_cast<T>(normal(generator) * scale);
    }
    rows[5 % rows.size()] = 0;
    rows[d] = std::numeric_limits<T>::denorm_min();
    rows[2 * d] = -std::numeric_limits<T>::max();
    FeatureRange whole(d), one_by_one(d);
    whole.add_rows(rows.data(), 700);
    for (std::size_t i = 0; i < 700; ++i) one_by_one.add_row(rows.data() + i * d);
    for (std::size_t j = 0; j < d; ++j) {
      EXPECT_EQ(whole.max_abs(j), one_by_one.max_abs(j)) << "d=" << d << " j=" << j;
      EXPECT_EQ(whole.lowest_bit(j), one_by_one.lowest_bit(j)) << "d=" << d << " j=" << j;
    }
  }
}
TEST(FeatureRange, RowsAsValuesFloat) { expect_rows_as_values<float>(); }
TEST(FeatureRange, RowsAsValuesDouble) { expect_rows_as_values<double>(); }

// ---------------------------------------------------------------- exact cluster sums

// Rows of one feature in clusters; each cluster's mean from ClusterSums must be its exact
// mean (the exact sum, rounded once, divided once): the same bits as ExactSum / n, and
// within two ulps of a long double mean where that is exact enough.
struct Column {
  std::vector<double> values;
  std::vector<std::int32_t> cluster;
};

RowMatrix<double> means_of(const Column& column, int k, FixedPoint& fixed) {
  FeatureRange range(1);
  for (const double v : column.values) range.add(0, v);
  fixed = FixedPoint(range);
  ClusterSums sums(k, fixed);
  for (std::size_t i = 0; i < column.values.size(); ++i) sums.add(column.cluster[i], &column.values[i], fixed);
  RowMatrix<double> means = RowMatrix<double>::Zero(k, 1);
  sums.means(fixed, means);
  return means;
}

void expect_exact_means(const Column& column, int k, const char* what) {
  FixedPoint fixed;
  const RowMatrix<double> means = means_of(column, k, fixed);
  for (int c = 0; c < k; ++c) {
    ExactSum sum;
    std::int64_t n = 0;
    for (std::size_t i = 0; i < column.values.size(); ++i)
      if (column.cluster[i] == c) {
        sum.add(column.values[i]);
        ++n;
      }
    EXPECT_EQ(means(c, 0), sum.value() / static_cast<double>(n)) << what << " cluster " << c;
  }
}

TEST(ExactMeans, AnOutlierOf1e17LeavesTheOtherClustersExact) {
  // Before: one limb 52 bits below 1e17 (units of 16): the other centres became 0.0.
  Column column;
  const double centres[] = {10.06, -10.34, -0.18};
  std::mt19937_64 generator(1);
  std::normal_distribution<double> normal(0.0, 0.5);
  for (int i = 0; i < 300; ++i) {
    column.values.push_back(centres[i % 3] + normal(generator));
    column.cluster.push_back(i % 3);
  }
  column.values.push_back(1e17);
  column.cluster.push_back(3);
  expect_exact_means(column, 4, "1e17 outlier");
  FixedPoint fixed;
  const RowMatrix<double> means = means_of(column, 4, fixed);
  EXPECT_GT(fixed.limbs(), 1);
  for (int c = 0; c < 3; ++c) {
    long double mean = 0;
    int n = 0;
    for (std::size_t i = 0; i < column.values.size(); ++i)
      if (column.cluster[i] == c) mean += column.values[i], ++n;
    mean /= n;
    EXPECT_NEAR(means(c, 0), static_cast<double>(mean), 4 * std::abs(static_cast<double>(mean)) * 0x1p-52) << c;
  }
  EXPECT_EQ(means(3, 0), 1e17);
}

TEST(ExactMeans, LargeOffsetsAndTinyValues) {
  std::mt19937_64 generator(2);
  std::normal_distribution<double> normal(0.0, 1.0);
  Column offset, tiny, mixed;
  for (int i = 0; i < 500; ++i) {
    offset.values.push_back(1e12 + normal(generator));  // before: errors of 2e−5
    offset.cluster.push_back(i % 2);
    tiny.values.push_back(1e-310 * (1 + normal(generator)));  // before: all zero
    tiny.cluster.push_back(i % 3);
    // Every binary exponent from 2^−300 to 2^300, both signs, in four clusters.
    mixed.values.push_back(std::ldexp(normal(generator), (i * 37) % 601 - 300));
    mixed.cluster.push_back(i % 4);
  }
  tiny.values.push_back(std::numeric_limits<double>::denorm_min());
  tiny.cluster.push_back(0);
  expect_exact_means(offset, 2, "1e12 offset");
  expect_exact_means(tiny, 3, "1e-310");
  expect_exact_means(mixed, 4, "2^-300 .. 2^300");
  FixedPoint fixed;
  const RowMatrix<double> means = means_of(tiny, 3, fixed);
  for (int c = 0; c < 3; ++c) EXPECT_NE(means(c, 0), 0.0);
}

TEST(ExactMeans, SubtractAndRemoveUndoAddExactly) {
  std::mt19937_64 generator(4);
  std::normal_distribution<double> normal(0.0, 1.0);
  const Eigen::Index d = 3;
  RowMatrix<double> rows(200, d);
  for (Eigen::Index i = 0; i < rows.rows(); ++i)
    for (Eigen::Index j = 0; j < d; ++j) rows(i, j) = std::ldexp(normal(generator), static_cast<int>((i * 13 + j) % 90) - 45);
  FeatureRange range(d);
  range.add_rows(rows.data(), static_cast<std::size_t>(rows.rows()));
  const FixedPoint fixed(range);
  ASSERT_GT(fixed.limbs(), 1);
  ClusterSums all(2, fixed), some(2, fixed);
  for (Eigen::Index i = 0; i < rows.rows(); ++i) {
    all.add(static_cast<std::int32_t>(i % 2), rows.row(i).data(), fixed);
    if (i % 5 != 0) some.add(static_cast<std::int32_t>(i % 2), rows.row(i).data(), fixed);
  }
  ClusterSums undone(2, fixed);
  undone.merge(all);
  for (Eigen::Index i = 0; i < rows.rows(); i += 5) {
    if (i % 10 == 0) undone.subtract(static_cast<std::int32_t>(i % 2), rows.row(i).data(), fixed);
    else undone.remove(static_cast<std::int32_t>(i % 2), rows.row(i).data(), fixed);
  }
  EXPECT_TRUE(std::equal(undone.sums().begin(), undone.sums().end(), some.sums().begin()));
  EXPECT_EQ(undone.count(0), some.count(0));
  // A sparse row adds the same limbs as the dense one.
  ClusterSums dense(1, fixed), sparse(1, fixed);
  const std::int32_t columns[] = {0, 1, 2};
  for (Eigen::Index i = 0; i < rows.rows(); ++i) {
    dense.add(0, rows.row(i).data(), fixed);
    sparse.add_sparse(0, columns, rows.row(i).data(), d, fixed);
  }
  EXPECT_TRUE(std::equal(dense.sums().begin(), dense.sums().end(), sparse.sums().begin()));
}

TEST(ExactMeans, OneLimbWhereTheDataFitAndTheSameSumsAsBefore) {
  // float32-like data spanning < 52 bits: one int64 per value, and the sums are those of
  // the rounding form (which is exact there).
  std::mt19937_64 generator(5);
  std::normal_distribution<float> normal(0.0f, 5.0f);
  const Eigen::Index d = 4;
  RowMatrix<float> rows(300, d);
  for (float& v : rows.reshaped()) v = normal(generator);
  FeatureRange range(d);
  range.add_rows(rows.data(), 300);
  const FixedPoint exact(range), rounding(range.max_abs());
  EXPECT_EQ(exact.limbs(), 1);
  EXPECT_TRUE(exact.single());
  ClusterSums a(3, exact), b(3, rounding);
  for (Eigen::Index i = 0; i < rows.rows(); ++i) {
    a.add(static_cast<std::int32_t>(i % 3), rows.row(i).data(), exact);
    b.add(static_cast<std::int32_t>(i % 3), rows.row(i).data(), rounding);
  }
  EXPECT_TRUE(std::equal(a.sums().begin(), a.sums().end(), b.sums().begin()));
  // Sums laid out for another FixedPoint are refused, not overrun.
  FeatureRange wide_range(d);
  wide_range.add(0, 1e17);
  wide_range.add(0, 1e-17);
  const FixedPoint wide(wide_range);
  EXPECT_THROW(a.add(0, rows.row(0).data(), wide), std::logic_error);
}

}  // namespace
}  // namespace lloyd
