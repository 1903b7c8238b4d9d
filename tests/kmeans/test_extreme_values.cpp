// Extreme values (issue 21, and item 11 of issue 15): lloyd refuses data whose arithmetic
// would overflow where it reads them (value_range.hpp); independently, whatever values reach
// the assignment kernels (±DBL_MAX, whose differences are ±inf and whose scores inf − inf are
// NaN), they never index outside their buffers and always return a centre in [0, k).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <vector>

#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/bounded.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/value_range.hpp"

namespace lloyd {
namespace {

// ---------------------------------------------------------------- the accepted range

template <class T>
void expect_the_limit_keeps_every_total_finite() {
  for (const std::uint64_t d : {1ull, 2ull, 3ull, 4ull, 31ull, 32ull, 33ull, 1000ull, 1ull << 20}) {
    const double limit = largest_accepted_magnitude<T>(d);
    const auto m = static_cast<T>(limit);
    ASSERT_EQ(static_cast<double>(m), limit) << "a power of two, exact in T";
    // The largest squared distance (coordinates ±M), in T and in the double sums.
    std::vector<T> x(d, m), c(d, -m);
    const T norm = squared_norm(x.data(), static_cast<Eigen::Index>(d));
    EXPECT_TRUE(std::isfinite(norm)) << "d=" << d;
    EXPECT_TRUE(std::isfinite(static_cast<T>(16) * (T(4) * norm))) << "score headroom, d=" << d;
    const double distance = squared_distance(x.data(), c.data(), static_cast<Eigen::Index>(d));
    EXPECT_TRUE(std::isfinite(distance));
    // Summed over 2^63 rows, three such totals (the inertia from the cluster sums).
    EXPECT_TRUE(std::isfinite(3.0 * std::ldexp(distance, 63))) << "d=" << d;
  }
}

TEST(AcceptedRange, LimitKeepsEveryTotalFiniteFloat) { expect_the_limit_keeps_every_total_finite<float>(); }
TEST(AcceptedRange, LimitKeepsEveryTotalFiniteDouble) { expect_the_limit_keeps_every_total_finite<double>(); }

TEST(AcceptedRange, FirstRefusedValueFindsNanInfAndTooLarge) {
  const double limit = largest_accepted_magnitude<double>(4);
  std::vector<double> values(3000, 1.0);
  EXPECT_EQ(first_refused_value(values.data(), values.size(), limit), values.size());
  values[2500] = -limit;  // the limit itself is accepted
  EXPECT_EQ(first_refused_value(values.data(), values.size(), limit), values.size());
  values[2000] = std::nextafter(limit, INFINITY);
  values[2999] = NAN;
  EXPECT_EQ(first_refused_value(values.data(), values.size(), limit), 2000u);
  values[1100] = -INFINITY;
  EXPECT_EQ(first_refused_value(values.data(), values.size(), limit), 1100u);
  values[7] = NAN;
  EXPECT_EQ(first_refused_value(values.data(), values.size(), limit), 7u);

  const std::vector<float> floats = {1.0f, 3e38f};
  EXPECT_EQ(first_refused_value(floats.data(), floats.size(), largest_accepted_magnitude<float>(1)), 1u);
}

TEST(AcceptedRange, MessagesNameRowColumnValueAndLimit) {
  EXPECT_EQ(refused_value_message<double>("dataset f.h5:/X", 12, 0, 1e200, 4),
            "dataset f.h5:/X: row 12 column 0 holds 1e+200: beyond 1.95e+143, the largest magnitude whose "
            "squared distances lloyd can sum without overflow in float64 data of 4 features");
  EXPECT_EQ(refused_value_message<float>("x", 3, 1, -3e38f, 1),
            "x: row 3 column 1 holds -3e+38: beyond 1.15e+18, the largest magnitude whose squared distances "
            "lloyd can sum without overflow in float32 data of 1 feature");
  EXPECT_EQ(refused_value_message<double>("x", 37, 1, NAN, 3), "x: row 37 contains NaN (column 1)");
  EXPECT_EQ(refused_value_message<float>("x", 41, 2, INFINITY, 3), "x: row 41 contains Inf (column 2)");
}

// ---------------------------------------------------------------- kernels on NaN scores

// A buffer with guard values on both sides, to see a write outside [0, size).
template <class T>
struct Guarded {
  static constexpr int kGuard = 64;
  std::vector<T> storage;
  explicit Guarded(std::size_t size, T fill) : storage(size + 2 * kGuard, T(12345)) {
    std::fill(data(), data() + size, fill);
  }
  T* data() { return storage.data() + kGuard; }
  bool guards_intact(std::size_t size) const {
    for (int g = 0; g < kGuard; ++g)
      if (storage[static_cast<std::size_t>(g)] != T(12345) || storage[size + kGuard + static_cast<std::size_t>(g)] != T(12345))
        return false;
    return true;
  }
};

template <class T>
void expect_nan_scores_give_a_centre_in_range() {
  constexpr Eigen::Index kChunk = Assigner<T>::kChunk;
  for (const Eigen::Index k : {Eigen::Index{1}, Eigen::Index{2}, Eigen::Index{4}, kChunk + 1}) {
    const Eigen::Index d = 4, padded = (k + kChunk - 1) / kChunk * kChunk;
    RowMatrix<T> centres(k, d);
    for (Eigen::Index c = 0; c < k; ++c)
      for (Eigen::Index j = 0; j < d; ++j) centres(c, j) = (c + j) % 2 ? std::numeric_limits<T>::max() : -std::numeric_limits<T>::max();
    const std::vector<T> x = {std::numeric_limits<T>::max(), 0, 0, 0};
    for (const T real : {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity()}) {
      // Real scores NaN (or +inf), padding +inf: the minimum is NaN or a padding column.
      Guarded<T> score(static_cast<std::size_t>(padded), std::numeric_limits<T>::infinity());
      std::fill(score.data(), score.data() + k, real);
      const auto found = Assigner<T>::nearest(x.data(), score.data(), centres, std::numeric_limits<T>::infinity(),
                                              std::numeric_limits<T>::infinity());
      EXPECT_GE(found.centre, 0);
      EXPECT_LT(found.centre, k);
      EXPECT_TRUE(score.guards_intact(static_cast<std::size_t>(padded)));
      // An excluded index outside the scores masks nothing and writes nothing.
      for (const Eigen::Index excluded : {Eigen::Index{-1}, padded, padded + 100}) {
        Assigner<T>::minimum_except(score.data(), padded, excluded);
        EXPECT_TRUE(score.guards_intact(static_cast<std::size_t>(padded))) << "excluded " << excluded;
      }
    }
  }
}

TEST(ExtremeKernels, NanScoresGiveACentreInRangeFloat) { expect_nan_scores_give_a_centre_in_range<float>(); }
TEST(ExtremeKernels, NanScoresGiveACentreInRangeDouble) { expect_nan_scores_give_a_centre_in_range<double>(); }

// The reproduction of issue 21 (every other row ±DBL_MAX in column 0, the rest 0), straight
// into every kernel — direct (d ≤ 16), tiles or Eigen's product (d > 16) — and every
// algorithm, bypassing the reader's check: every label in [0, k), no write outside a buffer
// (an ASan build reports one; the release build corrupted its heap).
template <class T>
DenseShard<T> issue21_rows(Eigen::Index n, Eigen::Index d) {
  DenseShard<T> shard;
  shard.global_rows = static_cast<std::uint64_t>(n);
  shard.rows = RowMatrix<T>::Zero(n, d);
  for (Eigen::Index i = 0; i < n; ++i) {
    shard.rows.mutable_matrix()(i, 0) = i % 2 ? -std::numeric_limits<T>::max() : std::numeric_limits<T>::max();
    if (i % 3 == 0) shard.rows.mutable_matrix()(i, d - 1) = static_cast<T>(i);
  }
  return shard;
}

template <class T>
void expect_kernels_stay_in_bounds() {
  for (const Eigen::Index d : {Eigen::Index{4}, Eigen::Index{20}}) {
    for (const Eigen::Index k : {Eigen::Index{2}, Eigen::Index{4}, Eigen::Index{40}}) {
      const Eigen::Index n = 600;
      const DenseShard<T> shard = issue21_rows<T>(n, d);
      const RowMatrix<T> centres = shard.rows.matrix().topRows(k);
      const std::vector<double> max_abs(static_cast<std::size_t>(d), static_cast<double>(std::numeric_limits<T>::max()));
      const FixedPoint fixed(max_abs);
      std::vector<std::int32_t> labels(static_cast<std::size_t>(n), -1);
      std::vector<double> distances(static_cast<std::size_t>(n));
      auto labels_in_range = [&] {
        for (const std::int32_t label : labels)
          if (label < 0 || label >= k) return false;
        return true;
      };
      {
        Assigner<T> assigner(d, k);
        ClusterSums sums(k, d);
        assigner.assign(shard, centres, labels, distances, &sums, &fixed);
        EXPECT_TRUE(labels_in_range()) << "Assigner d=" << d << " k=" << k;
      }
      for (const int groups : {1, 4}) {
        std::fill(labels.begin(), labels.end(), -1);
        BoundedAssigner<T> bounded(n, d, k, groups);
        ClusterSums moves(k, d);
        bounded.assign(shard, centres, labels, distances, {.sums = &moves, .fixed = &fixed, .fresh_sums = true});
        bounded.assign(shard, centres, labels, distances, {.sums = &moves, .fixed = &fixed});
        bounded.assign(shard, centres, labels, distances, {.exact_distances = true});
        EXPECT_TRUE(labels_in_range()) << "BoundedAssigner d=" << d << " k=" << k << " groups=" << groups;
      }
    }
  }
}

TEST(ExtremeKernels, AssignmentStaysInBoundsFloat) { expect_kernels_stay_in_bounds<float>(); }
TEST(ExtremeKernels, AssignmentStaysInBoundsDouble) { expect_kernels_stay_in_bounds<double>(); }

// Whole fits on such rows through the library (the CLI refuses them when reading): each
// algorithm and seeding ends, without touching memory it does not own, in a result or in
// an AgreedError — never a crash.
TEST(ExtremeKernels, FitsOnOverflowingRowsEndCleanly) {
  Comm comm(MPI_COMM_WORLD);
  const DenseShard<double> shard = issue21_rows<double>(60, 4);
  for (const Algorithm algorithm : {Algorithm::Lloyd, Algorithm::Hamerly, Algorithm::Yinyang}) {
    for (const InitMethod init : {InitMethod::KMeansPlusPlus, InitMethod::Forgy, InitMethod::KMeansParallel}) {
      for (const int k : {2, 4}) {
        KMeansOptions options;
        options.k = k;
        options.tol = 0;
        options.algorithm = algorithm;
        options.init = init;
        try {
          const KMeansResult<double> result = fit_kmeans(comm, shard, options);
          for (const std::int32_t label : result.labels) {
            EXPECT_GE(label, 0);
            EXPECT_LT(label, k);
          }
        } catch (const AgreedError&) {
        }
      }
    }
  }
}

}  // namespace
}  // namespace lloyd
