// Every kernel computes the same bits at every SIMD level this CPU supports (the portable
// level, compiled for baseline x86-64, is the reference), and so do whole assignments.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "lloyd/core/exact_sum.hpp"
#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/bounded.hpp"
#include "lloyd/kmeans/init.hpp"
#include "lloyd/kmeans/score_tiles.hpp"
#include "lloyd/simd/float_bits.hpp"
#include "lloyd/simd/kernels.hpp"
#include "lloyd/simd/level.hpp"

namespace lloyd {
namespace {

using simd::Level;

template <class T>
bool same_bits(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// Values of mixed signs and magnitudes, so that every rounding in a chain matters.
template <class T>
std::vector<T> random_values(std::size_t count, unsigned seed) {
  std::mt19937_64 engine(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_int_distribution<int> exponent(-6, 6);
  std::vector<T> values(count);
  for (T& v : values) v = static_cast<T>(std::ldexp(normal(engine), exponent(engine)));
  return values;
}

std::vector<Level> other_levels() {
  std::vector<Level> levels;
  for (const Level level : simd::kLevels)
    if (level != Level::Portable && simd::supported(level)) levels.push_back(level);
  return levels;
}

// Every row's label and distance to `centres` with the kernels of `level` (Assigner).
template <class T>
std::pair<std::vector<std::int32_t>, std::vector<double>> labels_and_distances_at(Level level, const DenseShard<T>& shard,
                                                                                 const RowMatrix<T>& centres) {
  simd::use(level);
  const auto n = static_cast<std::size_t>(shard.local_rows());
  std::vector<std::int32_t> labels(n);
  std::vector<double> distances(n);
  Assigner<T> assigner(shard.features(), centres.rows());
  assigner.assign(shard, centres, labels, distances);
  return {labels, distances};
}

template <class T>
void expect_distance_kernels_agree() {
  const auto& reference = simd::kernels<T>(Level::Portable);
  for (const Level level : other_levels()) {
    const auto& kernels = simd::kernels<T>(level);
    for (std::ptrdiff_t d : {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 256, 257}) {
      const auto x = random_values<T>(static_cast<std::size_t>(d), 1 + static_cast<unsigned>(d));
      const auto c = random_values<T>(static_cast<std::size_t>(d), 1000 + static_cast<unsigned>(d));
      EXPECT_TRUE(same_bits(kernels.squared_distance(x.data(), c.data(), d),
                            reference.squared_distance(x.data(), c.data(), d)))
          << simd::to_string(level) << " squared_distance d=" << d;
      EXPECT_TRUE(same_bits(kernels.squared_norm(x.data(), d), reference.squared_norm(x.data(), d)))
          << simd::to_string(level) << " squared_norm d=" << d;
      // To a point in double (the summary's mean): the same lanes, so for a point that holds
      // T values exactly the same bits as squared_distance.
      const auto point = random_values<double>(static_cast<std::size_t>(d), 2000 + static_cast<unsigned>(d));
      EXPECT_TRUE(same_bits(kernels.squared_distance_to_double(x.data(), point.data(), d),
                            reference.squared_distance_to_double(x.data(), point.data(), d)))
          << simd::to_string(level) << " squared_distance_to_double d=" << d;
      const std::vector<double> exact(c.begin(), c.end());
      EXPECT_TRUE(same_bits(kernels.squared_distance_to_double(x.data(), exact.data(), d),
                            reference.squared_distance(x.data(), c.data(), d)))
          << simd::to_string(level) << " squared_distance_to_double (exact point) d=" << d;
    }
  }
}

template <class T>
void expect_direct_scores_agree() {
  const auto& reference = simd::kernels<T>(Level::Portable);
  for (const Level level : other_levels()) {
    const auto& kernels = simd::kernels<T>(level);
    for (Eigen::Index d : {1, 2, 3, 4, 5, 8, 13, 16})
      for (Eigen::Index k : {1, 7, 16, 17, 40}) {
        const auto values = random_values<T>(static_cast<std::size_t>(k * d), 7 + static_cast<unsigned>(k * d));
        const RowMatrix<T> centres = Eigen::Map<const RowMatrix<T>>(values.data(), k, d);
        Eigen::Matrix<T, Eigen::Dynamic, 1> norms(k);
        for (Eigen::Index c = 0; c < k; ++c) norms(c) = reference.squared_norm(centres.row(c).data(), d);
        DirectScorer<T> scorer;
        scorer.set(centres, norms);
        const Eigen::Index columns = scorer.scaled_transpose.cols();
        const auto x = random_values<T>(static_cast<std::size_t>(d), 99);
        std::vector<T> expected(static_cast<std::size_t>(columns)), got(expected.size());
        reference.direct_scores(scorer.scaled_transpose.data(), scorer.norms.data(), columns, d, x.data(),
                                expected.data());
        kernels.direct_scores(scorer.scaled_transpose.data(), scorer.norms.data(), columns, d, x.data(), got.data());
        EXPECT_EQ(std::memcmp(expected.data(), got.data(), expected.size() * sizeof(T)), 0)
            << simd::to_string(level) << " direct_scores d=" << d << " k=" << k;
      }
  }
}

template <class T>
void expect_tile_scores_agree() {
  constexpr int kRows = ScoreTiles<T>::kRows;
  for (const Level level : other_levels()) {
    for (Eigen::Index d : {17, 31, 32, 33, 64, 100})
      for (Eigen::Index k : {1, 9, 32, 33, 70})
        for (int count : {1, 5, kRows}) {
          const auto values = random_values<T>(static_cast<std::size_t>(k * d), 3 + static_cast<unsigned>(k * d));
          const RowMatrix<T> centres = Eigen::Map<const RowMatrix<T>>(values.data(), k, d);
          Eigen::Matrix<T, Eigen::Dynamic, 1> norms(k);
          for (Eigen::Index c = 0; c < k; ++c)
            norms(c) = simd::kernels<T>(Level::Portable).squared_norm(centres.row(c).data(), d);
          ScoreTiles<T> tiles;
          tiles.set(centres, norms);
          const auto data = random_values<T>(static_cast<std::size_t>(count * d), 11 + static_cast<unsigned>(d));
          const T* rows[kRows];
          for (int r = 0; r < count; ++r) rows[r] = data.data() + r * d;
          const Eigen::Index stride = tiles.padded_centres();
          auto scores_at = [&](Level at) {
            simd::use(at);
            std::vector<T> score(static_cast<std::size_t>(count * stride));
            auto tile = tiles.workspace();
            tiles.compute(rows, count, score.data(), stride, tile);
            return score;
          };
          const auto expected = scores_at(Level::Portable), got = scores_at(level);
          EXPECT_EQ(std::memcmp(expected.data(), got.data(), expected.size() * sizeof(T)), 0)
              << simd::to_string(level) << " tile_scores d=" << d << " k=" << k << " rows=" << count;
        }
  }
  simd::use(simd::widest_supported());
}

// Whole assignments (direct and tiled, with the fused sums) at every level.
template <class T>
void expect_assignments_agree() {
  for (Eigen::Index d : {3, 8, 16, 17, 40}) {
    const Eigen::Index n = 777, k = 21;
    DenseShard<T> shard;
    shard.rows = Eigen::Map<const RowMatrix<T>>(random_values<T>(static_cast<std::size_t>(n * d), 5).data(), n, d);
    shard.global_rows = static_cast<std::uint64_t>(n);
    const RowMatrix<T> centres = shard.rows.matrix().topRows(k) * T(0.5);
    auto assign_at = [&](Level at) { return labels_and_distances_at(at, shard, centres); };
    const auto expected = assign_at(Level::Portable);
    for (const Level level : other_levels()) {
      const auto got = assign_at(level);
      EXPECT_EQ(got.first, expected.first) << simd::to_string(level) << " d=" << d;
      EXPECT_EQ(std::memcmp(got.second.data(), expected.second.data(), got.second.size() * sizeof(double)), 0)
          << simd::to_string(level) << " d=" << d;
    }
  }
  simd::use(simd::widest_supported());
}

// The tiles' in-kernel decisions (Kernels::tile_nearest, d > DirectScorer::kMaxFeatures)
// against the portable level, which decides every row by Assigner::nearest, on rows made to
// defeat a shortcut: centres repeated (exact ties: the lower index must win), rows equal to a
// centre, rows halfway between two centres (near-ties within the rounding margin), rows one
// unit in the last place off a centre, huge (2^60) and tiny (2^-60) rows, and NaN rows.
template <class T>
void expect_adversarial_tile_assignments_agree() {
  static_assert(DirectScorer<T>::kMaxFeatures < 17);
  for (const Eigen::Index d : {17, 32, 40}) {
    for (const Eigen::Index k : {5, 33, 64}) {
      const Eigen::Index n = 300;
      RowMatrix<T> centres = Eigen::Map<const RowMatrix<T>>(
          random_values<T>(static_cast<std::size_t>(k * d), 40 + static_cast<unsigned>(d)).data(), k, d);
      centres.row(3) = centres.row(1);      // exact ties between centres 1 and 3
      centres.row(k - 1) = centres.row(0);  // … and 0 and k − 1
      std::vector<T> values = random_values<T>(static_cast<std::size_t>(n * d), 70 + static_cast<unsigned>(k));
      auto row = [&](Eigen::Index i) { return Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(values.data() + i * d, d); };
      for (Eigen::Index i = 0; i < n; ++i) {
        const Eigen::Index a = i % k, b = (i * 7 + 1) % k;
        switch (i % 8) {
          case 0: row(i) = centres.row(a); break;
          case 1: row(i) = (centres.row(a) + centres.row(b)) * T(0.5); break;
          case 2:
            row(i) = centres.row(a);
            row(i)(i % d) = std::nextafter(row(i)(i % d), std::numeric_limits<T>::infinity());
            break;
          case 3: row(i) *= T(0x1p60); break;
          case 4: row(i) *= T(0x1p-60); break;
          case 5: if (i % 3 == 0) row(i)(0) = std::numeric_limits<T>::quiet_NaN(); break;
          default: break;
        }
      }
      DenseShard<T> shard;
      shard.rows = Eigen::Map<const RowMatrix<T>>(values.data(), n, d);
      shard.global_rows = static_cast<std::uint64_t>(n);
      auto assign_at = [&](Level at) { return labels_and_distances_at(at, shard, centres); };
      const auto expected = assign_at(Level::Portable);
      for (const Level level : other_levels()) {
        const auto got = assign_at(level);
        EXPECT_EQ(got.first, expected.first) << simd::to_string(level) << " d=" << d << " k=" << k;
        for (std::size_t i = 0; i < got.second.size(); ++i) {
          const bool both_nan = std::isnan(got.second[i]) && std::isnan(expected.second[i]);
          EXPECT_TRUE(both_nan || same_bits(got.second[i], expected.second[i]))
              << simd::to_string(level) << " d=" << d << " k=" << k << " row " << i;
        }
      }
      // The exact ties are never decided by the kernel: a row equal to centre 1 (= centre 3).
      simd::use(simd::widest_supported());
      if (ScoreTiles<T>::decides()) {
        ScoreTiles<T> tiles;
        tiles.set(centres, centres.rowwise().squaredNorm());
        std::vector<T> tile = tiles.workspace(), scores(static_cast<std::size_t>(ScoreTiles<T>::kRows * tiles.padded_centres()));
        const T* rows[1] = {centres.row(1).data()};
        tiles.compute(rows, 1, scores.data(), tiles.padded_centres(), tile);
        std::int32_t best[1];
        double distance[1];
        const T largest = centres.rowwise().squaredNorm().maxCoeff();
        EXPECT_EQ(tiles.decide(scores.data(), tiles.padded_centres(), k, rows, Assigner<T>::slack(d), largest, 1, best,
                               distance),
                  1u);
      }
    }
  }
  simd::use(simd::widest_supported());
}

// Assigner::assign with weighted sums (a FixedPoint with a weight grid) adds each row with
// its weight as add_weighted_rows after the assignment does: the same counts, total weights
// and means, for direct scoring and tiles, with 1 and 2 threads (zero weights included).
template <class T>
void expect_fused_weighted_sums_agree() {
  for (const Eigen::Index d : {8, 32}) {
    const Eigen::Index n = 500, k = 7;
    const std::vector<T> values = random_values<T>(static_cast<std::size_t>(n * d), 90 + static_cast<unsigned>(d));
    DenseShard<T> shard;
    shard.rows = Eigen::Map<const RowMatrix<T>>(values.data(), n, d);
    shard.global_rows = static_cast<std::uint64_t>(n);
    shard.has_weights = true;
    const std::vector<T> raw = random_values<T>(static_cast<std::size_t>(n), 91);
    for (Eigen::Index i = 0; i < n; ++i)
      shard.weights.push_back(i % 9 == 0 ? 0.0 : std::abs(static_cast<double>(raw[static_cast<std::size_t>(i)])));
    FeatureRange products(static_cast<std::size_t>(d)), weights(1);
    for (Eigen::Index i = 0; i < n; ++i) {
      if (shard.weight(i) == 0) continue;
      weights.add(0, shard.weight(i));
      for (Eigen::Index j = 0; j < d; ++j) {
        const WeightedProduct product = weighted_product(shard.weight(i), static_cast<double>(shard.row(i)[j]));
        products.add(static_cast<std::size_t>(j), product.product);
        products.add(static_cast<std::size_t>(j), product.error);
      }
    }
    FixedPoint fixed(products);
    fixed.set_weight_grid(FixedPoint(weights));
    const RowMatrix<T> centres = shard.rows.matrix().topRows(k);
    std::vector<std::int32_t> labels(static_cast<std::size_t>(n));
    std::vector<double> distances(static_cast<std::size_t>(n));
    Assigner<T> plain(d, k);
    plain.assign(shard, centres, labels, distances);
    ClusterSums expected(k, fixed);
    add_weighted_rows(shard, labels, fixed, expected);
    RowMatrix<T> expected_means(k, d), got_means(k, d);
    expected.means(fixed, expected_means);
    for (const int threads : {1, 2}) {
      set_threads(threads);
      Assigner<T> fused(d, k);
      ClusterSums got(k, fixed);
      std::vector<std::int32_t> fused_labels(static_cast<std::size_t>(n));
      fused.assign(shard, centres, fused_labels, distances, &got, &fixed);
      set_threads(1);
      EXPECT_EQ(fused_labels, labels);
      got.means(fixed, got_means);
      for (Eigen::Index c = 0; c < k; ++c) {
        EXPECT_EQ(got.count(c), expected.count(c)) << "d=" << d << " cluster " << c;
        EXPECT_TRUE(same_bits(got.weight(c), expected.weight(c))) << "d=" << d << " cluster " << c;
        for (Eigen::Index j = 0; j < d; ++j)
          EXPECT_TRUE(same_bits(got_means(c, j), expected_means(c, j))) << "d=" << d << " cluster " << c;
      }
    }
  }
}

// FixedPoint::add_row (Kernels::add_fixed_row) at every level adds the same integers as
// add_limbs value by value, for added and subtracted rows: one limb (float data), several
// limbs (float64 data spanning many binades), the rounding form (k-means++ weights) and
// two-step scales (float64 data below 2^−970).
template <class T>
void expect_fixed_rows_agree() {
  enum Form { Exact, Spread, Rounding, Tiny };
  for (const Form form : {Exact, Spread, Rounding, Tiny}) {
    if (form == Tiny && !std::is_same_v<T, double>) continue;  // no float is that small
    for (const std::size_t d : {1, 3, 7, 8, 9, 17, 33}) {
      const std::size_t n = 40;
      std::vector<T> rows = random_values<T>(n * d, 11 + static_cast<unsigned>(d));
      for (std::size_t v = 0; v < rows.size(); ++v) {
        if (form == Spread && v % 3 == 0) rows[v] = static_cast<T>(std::ldexp(static_cast<double>(rows[v]), -30));
        if (form == Tiny) rows[v] = static_cast<T>(std::ldexp(static_cast<double>(rows[v]), -1000));
      }
      FeatureRange range(d);
      range.add_rows(rows.data(), n);
      const FixedPoint fixed = form == Rounding ? FixedPoint(range.max_abs()) : FixedPoint(range);
      const std::size_t words = static_cast<std::size_t>(fixed.limbs()) * d;
      std::vector<std::int64_t> expected(words, 0);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) {
          const double value = static_cast<double>(rows[i * d + j]);
          if (i % 4 == 3) fixed.add_limbs<-1>(value, j, expected.data() + j, d);
          else fixed.add_limbs(value, j, expected.data() + j, d);
        }
      for (const Level level : simd::kLevels) {
        if (!simd::supported(level)) continue;
        simd::use(level);
        std::vector<std::int64_t> got(words, 0);
        for (std::size_t i = 0; i < n; ++i) {
          if (i % 4 == 3) fixed.add_row<-1>(got.data(), rows.data() + i * d);
          else fixed.add_row(got.data(), rows.data() + i * d);
        }
        EXPECT_EQ(got, expected) << simd::to_string(level) << " form " << form << " d=" << d
                                 << " limbs=" << fixed.limbs();
        // A group of rows into two clusters in one call: the same as row by row.
        std::vector<std::int32_t> clusters(n);
        for (std::size_t i = 0; i < n; ++i) clusters[i] = static_cast<std::int32_t>(i % 2);
        std::vector<std::int64_t> grouped(2 * words, 0), one_by_one(2 * words, 0);
        fixed.add_rows(grouped.data(), static_cast<std::ptrdiff_t>(words), clusters.data(), rows.data(),
                       static_cast<int>(n));
        for (std::size_t i = 0; i < n; ++i)
          fixed.add_row(one_by_one.data() + static_cast<std::size_t>(clusters[i]) * words, rows.data() + i * d);
        EXPECT_EQ(grouped, one_by_one) << simd::to_string(level) << " form " << form << " d=" << d;
      }
    }
  }
  simd::use(simd::widest_supported());
}

// ---- Bounds (Kernels::round_bounds, hamerly_sweep, BoundedAssigner) and the data range ----

template <class T>
bool same_array_bits(const std::vector<T>& a, const std::vector<T>& b) {
  // (memcmp may not be given the null data() of an empty vector, even for 0 bytes.)
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// Squared distances that stress the rounding to float: exact squares of floats (the root is
// a float), their neighbours, squares of the midpoints between two floats (the float
// rounding ties), powers of two, subnormal doubles, values whose roots lie below the float
// range or beyond it, and random magnitudes over the whole double range.
std::vector<double> adversarial_squares(std::size_t random_count, unsigned seed) {
  std::vector<double> x = {0.0, std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::min(),
                           1e-300, 1e-90, 1e-80, 0.25, 1.0, 2.0, 3.0, 1e76, 1.15e77, 1e78, 1e300,
                           std::numeric_limits<double>::max()};
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<double> unit(1.0, 2.0);
  std::uniform_int_distribution<int> exponent(-140, 130);
  for (int e = -149; e <= 127; e += 3) {
    const auto f = static_cast<float>(std::ldexp(unit(engine), e));
    const double square = static_cast<double>(f) * f;  // exact: 48 bits
    const double mid = static_cast<double>(f) + 0.5 * (static_cast<double>(std::nextafter(f, std::numeric_limits<float>::infinity())) - f);
    x.insert(x.end(), {square, std::nextafter(square, 0.0), std::nextafter(square, 1e308), mid * mid,
                       std::nextafter(mid * mid, 0.0), std::nextafter(mid * mid, 1e308), std::ldexp(1.0, 2 * e)});
  }
  std::uniform_int_distribution<int> wide(-1070, 1020);
  for (std::size_t i = 0; i < random_count; ++i)
    x.push_back(std::ldexp(unit(engine), i % 2 ? exponent(engine) : wide(engine)));
  return x;
}

// round_bounds at every level: the same bits as the scalar round_up / round_down that the
// rest of BoundedAssigner uses, for every count (the vector levels' tails), margin and input,
// including +inf (no other centre), −0 and NaN.
TEST(SimdLevels, BoundRoundingSameBitsAtEveryLevel) {
  std::vector<double> nearest = adversarial_squares(300, 1), other = adversarial_squares(300, 2);
  const double special[] = {-0.0, std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()};
  nearest.insert(nearest.begin() + 5, std::begin(special), std::end(special));
  other.insert(other.begin() + 9, std::begin(special), std::end(special));
  std::reverse(other.begin(), other.end());
  const std::size_t n = std::min(nearest.size(), other.size());
  for (const double margin : {0.0, 4.0 * 16 * std::numeric_limits<double>::epsilon(), 1e-6})
    for (const bool lower_too : {true, false})
      for (const std::size_t count : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{9},
                                      std::size_t{17}, n}) {
        std::vector<float> expected_upper(count), expected_lower(count, -1.0f);
        for (std::size_t p = 0; p < count; ++p) {
          expected_upper[p] = simd::round_up(std::sqrt(nearest[p]) * (1 + margin));
          if (lower_too) expected_lower[p] = simd::round_down(std::sqrt(other[p]) * (1 - margin));
        }
        for (const Level level : simd::kLevels) {
          if (!simd::supported(level)) continue;
          std::vector<float> upper(count, -2.0f), lower(count, -1.0f);
          simd::kernels<float>(level).round_bounds(nearest.data(), other.data(), static_cast<std::ptrdiff_t>(count),
                                                   margin, lower_too, upper.data(), lower.data());
          EXPECT_TRUE(same_array_bits(upper, expected_upper))
              << simd::to_string(level) << " upper count=" << count << " margin=" << margin;
          EXPECT_TRUE(same_array_bits(lower, expected_lower))
              << simd::to_string(level) << " lower count=" << count << " margin=" << margin << " lower_too=" << lower_too;
          // The double table's entry is the same kernel.
          std::vector<float> upper_d(count), lower_d(count, -1.0f);
          simd::kernels<double>(level).round_bounds(nearest.data(), other.data(), static_cast<std::ptrdiff_t>(count),
                                                    margin, lower_too, upper_d.data(), lower_d.data());
          EXPECT_TRUE(same_array_bits(upper_d, expected_upper) && same_array_bits(lower_d, expected_lower))
              << simd::to_string(level) << " (double table) count=" << count;
        }
      }
}

// What the rounding guarantees (issue 16 item 6), checked exactly at every level: an upper
// bound rounded up from a squared distance x is never below √x, a lower bound rounded down
// never above it (u² ≥ x ≥ l², computed exactly: a float squared has 48 bits, x 53, both
// exact in long double), a margin only widens them, and they stay tight (within a few
// float steps of √x where √x is a normal float). Moving a bound by a drift (hamerly_sweep)
// keeps the same sides: (u + drift) · kOutwardsUp ≥ u + drift, max(0, (l − s) · kOutwardsDown)
// ≤ max(0, l − s), exactly.
TEST(BoundRounding, RoundedBoundsContainTheTrueDistanceAtEveryLevel) {
  const std::vector<double> x = adversarial_squares(20000, 3);
  const auto count = static_cast<std::ptrdiff_t>(x.size());
  for (const Level level : simd::kLevels) {
    if (!simd::supported(level)) continue;
    const auto& kernels = simd::kernels<float>(level);
    std::vector<float> upper(x.size()), lower(x.size()), upper_wide(x.size()), lower_wide(x.size());
    kernels.round_bounds(x.data(), x.data(), count, 0.0, true, upper.data(), lower.data());
    kernels.round_bounds(x.data(), x.data(), count, 1e-6, true, upper_wide.data(), lower_wide.data());
    for (std::size_t p = 0; p < x.size(); ++p) {
      const long double value = x[p], root = std::sqrt(value);
      const long double u = upper[p], l = lower[p];
      EXPECT_GE(u * u, value) << simd::to_string(level) << " upper below the distance: x=" << x[p];
      EXPECT_LE(l * l, value) << simd::to_string(level) << " lower above the distance: x=" << x[p];
      EXPECT_GE(l, 0.0L);
      EXPECT_GE(upper_wide[p], upper[p]) << simd::to_string(level) << " x=" << x[p];
      EXPECT_LE(lower_wide[p], lower[p]) << simd::to_string(level) << " x=" << x[p];
      if (root >= std::numeric_limits<float>::min() && root <= std::numeric_limits<float>::max() / 2) {
        EXPECT_LE(u, root * (1 + 0x1p-21L)) << simd::to_string(level) << " upper not tight: x=" << x[p];
        EXPECT_GE(l, root * (1 - 0x1p-21L)) << simd::to_string(level) << " lower not tight: x=" << x[p];
      }
    }
    // Drifts: random bounds and shifts of mixed magnitudes, through the sweep kernel.
    std::mt19937_64 engine(7);
    std::uniform_real_distribution<float> unit(0.5f, 1.0f);
    std::uniform_int_distribution<int> exponent(-30, 30);
    const std::ptrdiff_t rows = 1000, table = 16;
    std::vector<float> drift(table, 0.0f), half_gap(table, 0.0f);
    for (std::ptrdiff_t c = 1; c < 9; ++c) drift[static_cast<std::size_t>(c)] = std::ldexp(unit(engine), exponent(engine));
    std::vector<std::int32_t> label(rows), listed(rows);
    std::vector<float> up(rows), low(rows), settled(rows);
    for (std::ptrdiff_t q = 0; q < rows; ++q) {
      label[static_cast<std::size_t>(q)] = static_cast<std::int32_t>(q % 8);
      up[static_cast<std::size_t>(q)] = std::ldexp(unit(engine), exponent(engine));
      low[static_cast<std::size_t>(q)] = std::ldexp(unit(engine), exponent(engine));
    }
    const std::vector<float> up_before = up, low_before = low;
    const simd::HamerlyShifts shifts{drift.data(), half_gap.data(), table, 3, std::ldexp(0.75f, 2), std::ldexp(0.6f, -5)};
    kernels.hamerly_sweep(shifts, label.data(), rows, true, up.data(), low.data(), listed.data(), settled.data());
    for (std::size_t q = 0; q < static_cast<std::size_t>(rows); ++q) {
      const long double shift = label[q] == 3 ? shifts.fastest_shift : shifts.other_shift;
      EXPECT_GE(static_cast<long double>(up[q]), static_cast<long double>(up_before[q]) + drift[label[q] + 1])
          << simd::to_string(level) << " row " << q;
      EXPECT_LE(static_cast<long double>(low[q]), std::max(0.0L, static_cast<long double>(low_before[q]) - shift))
          << simd::to_string(level) << " row " << q;
    }
  }
}

// hamerly_sweep at every level: the same moved bounds, list and thresholds as the portable
// one, for every count (tails of the 16-row steps), labels −1 (none yet) and `fastest`, ties
// of the upper bound with the threshold, +inf bounds and every_row.
TEST(SimdLevels, HamerlySweepSameBitsAtEveryLevel) {
  std::mt19937_64 engine(11);
  std::uniform_real_distribution<float> unit(0.0f, 2.0f);
  for (const std::ptrdiff_t k : {1, 2, 15, 16, 17, 40}) {
    const std::ptrdiff_t table = (k + 1 + 15) / 16 * 16;
    std::vector<float> drift(static_cast<std::size_t>(table), 0.0f), half_gap(drift);
    for (std::ptrdiff_t c = 1; c <= k; ++c) {
      drift[static_cast<std::size_t>(c)] = c % 5 == 0 ? 0.0f : 0.1f * unit(engine);
      half_gap[static_cast<std::size_t>(c)] = c % 7 == 0 ? 0.0f : unit(engine);
    }
    for (const std::ptrdiff_t count : {0, 1, 15, 16, 17, 31, 100, 256}) {
      std::vector<std::int32_t> label(static_cast<std::size_t>(count));
      std::vector<float> upper(label.size()), lower(label.size());
      for (std::size_t q = 0; q < label.size(); ++q) {
        label[q] = static_cast<std::int32_t>(engine() % static_cast<std::uint64_t>(k + 1)) - 1;  // −1 … k − 1
        upper[q] = q % 13 == 0 ? std::numeric_limits<float>::infinity() : unit(engine);
        lower[q] = q % 11 == 0 ? std::numeric_limits<float>::infinity() : q % 3 == 0 ? upper[q] : unit(engine);
      }
      for (const bool every_row : {false, true})
        for (const std::int32_t fastest : {-2, 0, static_cast<std::int32_t>(k - 1)}) {
          const simd::HamerlyShifts shifts{drift.data(), half_gap.data(), table, fastest, 0.15f, 0.05f};
          auto sweep_at = [&](Level level) {
            std::vector<float> up = upper, low = lower, settled(label.size(), -1.0f);
            std::vector<std::int32_t> listed(label.size(), -1);
            const std::ptrdiff_t open = simd::kernels<float>(level).hamerly_sweep(
                shifts, label.data(), count, every_row, up.data(), low.data(), listed.data(), settled.data());
            listed.resize(static_cast<std::size_t>(open));
            settled.resize(static_cast<std::size_t>(open));
            return std::make_tuple(up, low, listed, settled);
          };
          const auto expected = sweep_at(Level::Portable);
          if (every_row) {
            EXPECT_EQ(std::get<2>(expected).size(), label.size());
          }
          for (const Level level : other_levels()) {
            const auto got = sweep_at(level);
            EXPECT_TRUE(same_array_bits(std::get<0>(got), std::get<0>(expected))) << simd::to_string(level) << " upper k=" << k << " count=" << count;
            EXPECT_TRUE(same_array_bits(std::get<1>(got), std::get<1>(expected))) << simd::to_string(level) << " lower k=" << k << " count=" << count;
            EXPECT_EQ(std::get<2>(got), std::get<2>(expected)) << simd::to_string(level) << " listed k=" << k << " count=" << count;
            EXPECT_TRUE(same_array_bits(std::get<3>(got), std::get<3>(expected))) << simd::to_string(level) << " settled k=" << k << " count=" << count;
          }
        }
    }
  }
}

// Whole bounded assignments (Hamerly and Yinyang, direct and tiled scores, fresh sums and
// moves) over several iterations at every level: the same labels, distances and sums.
template <class T>
void expect_bounded_assignments_agree() {
  for (const Eigen::Index d : {3, 8, 17, 40})
    for (const int groups : {1, 3}) {
      const Eigen::Index n = 1111, k = 19;
      DenseShard<T> shard;
      shard.rows = Eigen::Map<const RowMatrix<T>>(random_values<T>(static_cast<std::size_t>(n * d), 21).data(), n, d);
      shard.global_rows = static_cast<std::uint64_t>(n);
      FeatureRange range(static_cast<std::size_t>(d));
      range.add_rows(shard.rows.data(), static_cast<std::size_t>(n));
      const FixedPoint fixed(range);
      auto run_at = [&](Level at) {
        simd::use(at);
        std::vector<std::int32_t> labels(static_cast<std::size_t>(n), -1);
        std::vector<double> distances(static_cast<std::size_t>(n));
        std::vector<std::int64_t> changed;
        std::vector<Int128> sums;
        BoundedAssigner<T> bounded(n, d, k, groups);
        RowMatrix<T> centres = shard.rows.matrix().topRows(k);
        for (int iteration = 0; iteration < 5; ++iteration) {
          ClusterSums moves(k, fixed);
          const bool fresh = iteration % 2 == 0;
          changed.push_back(bounded.assign(shard, centres, labels, distances,
                                           {.exact_distances = iteration == 4, .sums = &moves, .fixed = &fixed,
                                            .fresh_sums = fresh}));
          sums.insert(sums.end(), moves.sums().begin(), moves.sums().end());
          centres = centres * T(0.9) + shard.rows.matrix().middleRows(k * (iteration + 1), k) * T(0.1);
        }
        return std::make_tuple(labels, distances, changed, sums);
      };
      const auto expected = run_at(Level::Portable);
      for (const Level level : other_levels()) {
        const auto got = run_at(level);
        EXPECT_EQ(std::get<0>(got), std::get<0>(expected)) << simd::to_string(level) << " d=" << d << " groups=" << groups;
        EXPECT_TRUE(same_array_bits(std::get<1>(got), std::get<1>(expected))) << simd::to_string(level) << " d=" << d;
        EXPECT_EQ(std::get<2>(got), std::get<2>(expected)) << simd::to_string(level) << " d=" << d;
        EXPECT_TRUE(std::get<3>(got) == std::get<3>(expected)) << simd::to_string(level) << " d=" << d;
      }
    }
  simd::use(simd::widest_supported());
}
TEST(SimdLevels, BoundedAssignmentsSameBitsAtEveryLevel) {
  expect_bounded_assignments_agree<float>();
  expect_bounded_assignments_agree<double>();
}

// feature_range_rows at every level: the same largest magnitudes and lowest bits as value by
// value (FeatureRange::add), for every row count and width (tails of the registers and of
// the 16-row blocks), with zeros, −0, subnormals and values far apart.
template <class T>
void expect_feature_ranges_agree() {
  for (const std::size_t d : {1, 3, 7, 8, 9, 15, 16, 17, 33})
    for (const std::size_t n : {0, 1, 15, 16, 17, 40}) {
      std::vector<T> rows = random_values<T>(n * d, 31 + static_cast<unsigned>(n * d));
      for (std::size_t v = 0; v < rows.size(); ++v) {
        if (v % 5 == 0) rows[v] = T(0);
        if (v % 7 == 0) rows[v] = -T(0);
        if (v % 11 == 0) rows[v] = std::numeric_limits<T>::denorm_min() * T(static_cast<int>(v % 64) + 1);
        if (v % 13 == 0) rows[v] = std::ldexp(rows[v], std::numeric_limits<T>::max_exponent - 8);
      }
      FeatureRange expected(d);
      for (std::size_t i = 0; i < n; ++i) expected.add_row(rows.data() + i * d);
      for (const Level level : simd::kLevels) {
        if (!simd::supported(level)) continue;
        simd::use(level);
        FeatureRange got(d);
        got.add_rows(rows.data(), n / 2);  // in two calls: the fold into the members
        got.add_rows(rows.data() + (n / 2) * d, n - n / 2);
        for (std::size_t j = 0; j < d; ++j) {
          EXPECT_TRUE(same_bits(got.max_abs(j), expected.max_abs(j))) << simd::to_string(level) << " d=" << d << " n=" << n << " j=" << j;
          EXPECT_EQ(got.lowest_bit(j), expected.lowest_bit(j)) << simd::to_string(level) << " d=" << d << " n=" << n << " j=" << j;
        }
      }
    }
  simd::use(simd::widest_supported());
}
TEST(SimdLevels, FeatureRangeSameAtEveryLevel) {
  expect_feature_ranges_agree<float>();
  expect_feature_ranges_agree<double>();
}

// Kernels::row_minimum and Kernels::first_minimum at every level: the same answers as the
// portable level's on rows of 1 … 5 chunks with +inf padding, repeated minima (the first
// must be found) and thresholds catching none, some or all of the scores.
template <class T>
void expect_row_scans_agree() {
  constexpr std::ptrdiff_t kChunk = 64 / sizeof(T);
  const auto& reference = simd::kernels<T>(Level::Portable);
  std::mt19937_64 engine(17);
  for (const Level level : other_levels()) {
    const auto& kernels = simd::kernels<T>(level);
    for (const std::ptrdiff_t k : {std::ptrdiff_t{1}, std::ptrdiff_t{2}, std::ptrdiff_t{7}, kChunk - 1, kChunk, kChunk + 1,
                                   3 * kChunk + 5, 5 * kChunk}) {
      const std::ptrdiff_t padded = (k + kChunk - 1) / kChunk * kChunk;
      for (unsigned trial = 0; trial < 20; ++trial) {
        auto score = random_values<T>(static_cast<std::size_t>(padded), 300 + static_cast<unsigned>(k) * 31 + trial);
        for (std::ptrdiff_t c = k; c < padded; ++c) score[static_cast<std::size_t>(c)] = std::numeric_limits<T>::infinity();
        if (trial % 2 == 1) {  // the minimum repeated at a few places
          const T low = *std::min_element(score.begin(), score.end());
          std::uniform_int_distribution<std::ptrdiff_t> at(0, k - 1);
          for (int copy = 0; copy < 3; ++copy) score[static_cast<std::size_t>(at(engine))] = low;
        }
        const T expected_low = reference.row_minimum(score.data(), padded);
        const T low = kernels.row_minimum(score.data(), padded);
        EXPECT_TRUE(same_bits(low, expected_low)) << simd::to_string(level) << " row_minimum k=" << k;
        for (const T margin : {T(0), T(0.5), T(4), std::numeric_limits<T>::infinity()}) {
          const T threshold = expected_low + margin;
          const auto expected = reference.first_minimum(score.data(), padded, expected_low, threshold);
          const auto got = kernels.first_minimum(score.data(), padded, expected_low, threshold);
          EXPECT_EQ(got.best, expected.best) << simd::to_string(level) << " first_minimum k=" << k;
          EXPECT_EQ(got.close, expected.close) << simd::to_string(level) << " first_minimum k=" << k;
          ASSERT_GE(expected.best, 0);
          EXPECT_TRUE(same_bits(score[static_cast<std::size_t>(expected.best)], expected_low));
          EXPECT_EQ(std::find(score.begin(), score.end(), expected_low) - score.begin(), expected.best);
        }
        // A value no score holds: no index.
        EXPECT_EQ(kernels.first_minimum(score.data(), padded, expected_low - T(1), expected_low).best, -1)
            << simd::to_string(level);
      }
    }
  }
}

// Assigner::nearest_direct_rows and Assigner::distances_direct (Kernels::direct_group_nearest
// and direct_group_distances where the level has them, row by row where not) at every level:
// the same labels, distances and second-best scores, for d = 1 … 16, groups of 1 … kWidth
// rows scattered in memory, with near-ties (rows at centres, between two centres, repeated
// centres).
template <class T>
void expect_direct_groups_agree() {
  constexpr int W = DirectScorer<T>::kWidth;
  using Nearest = typename Assigner<T>::Nearest;
  const auto& portable = simd::kernels<T>(Level::Portable);
  std::mt19937_64 engine(23);
  for (Eigen::Index d = 1; d <= DirectScorer<T>::kMaxFeatures; ++d)
    for (Eigen::Index k : {1, 3, 16, 17, 40}) {
      const auto values = random_values<T>(static_cast<std::size_t>(k * d), 41 + static_cast<unsigned>(k * d));
      RowMatrix<T> centres = Eigen::Map<const RowMatrix<T>>(values.data(), k, d);
      if (k > 3) centres.row(3) = centres.row(1);  // an exact tie: the lower index wins
      Eigen::Matrix<T, Eigen::Dynamic, 1> centre_norms(k);
      for (Eigen::Index c = 0; c < k; ++c) centre_norms(c) = portable.squared_norm(centres.row(c).data(), d);
      const T largest_norm = centre_norms.maxCoeff();
      DirectScorer<T> scorer;
      scorer.set(centres, centre_norms);
      // 2W rows, some at a centre, some halfway between two, some a hair off a centre.
      const Eigen::Index n = 2 * W;
      auto data = random_values<T>(static_cast<std::size_t>(n * d), 77 + static_cast<unsigned>(d));
      std::uniform_int_distribution<Eigen::Index> pick(0, k - 1);
      for (Eigen::Index i = 0; i < n; ++i) {
        T* row = data.data() + i * d;
        const Eigen::Index a = pick(engine), b = pick(engine);
        for (Eigen::Index j = 0; j < d; ++j) {
          if (i % 4 == 1) row[j] = centres(a, j);
          if (i % 4 == 2) row[j] = (centres(a, j) + centres(b, j)) / T(2);
          if (i % 4 == 3) row[j] = std::nextafter(centres(a, j), T(1));
        }
      }
      std::vector<T> norms(static_cast<std::size_t>(n));
      for (Eigen::Index i = 0; i < n; ++i) norms[static_cast<std::size_t>(i)] = portable.squared_norm(data.data() + i * d, d);
      for (int count = 1; count <= W; ++count) {
        // Rows scattered: row r of the group is data row (5r + count) mod n.
        std::int32_t offset[W];
        T group_norms[W];
        std::int32_t centre[W];
        for (int r = 0; r < count; ++r) {
          const Eigen::Index i = (5 * r + count) % n;
          offset[r] = static_cast<std::int32_t>(i * d);
          group_norms[r] = norms[static_cast<std::size_t>(i)];
          centre[r] = static_cast<std::int32_t>(pick(engine));
        }
        struct Result {
          std::vector<Nearest> nearest;
          std::vector<T> second;
          std::vector<double> distance;
        };
        auto run_at = [&](Level at) {
          simd::use(at);
          Result result{std::vector<Nearest>(static_cast<std::size_t>(count)), std::vector<T>(static_cast<std::size_t>(count)),
                        std::vector<double>(static_cast<std::size_t>(count))};
          Assigner<T>::nearest_direct_rows(scorer, data.data(), offset, count, centres, largest_norm, group_norms,
                                           result.nearest.data(), result.second.data());
          Assigner<T>::distances_direct(scorer, data.data(), offset, count, centre, result.distance.data());
          return result;
        };
        const Result expected = run_at(Level::Portable);
        for (const Level level : other_levels()) {
          const Result got = run_at(level);
          for (int r = 0; r < count; ++r) {
            const auto at = static_cast<std::size_t>(r);
            EXPECT_EQ(got.nearest[at].centre, expected.nearest[at].centre)
                << simd::to_string(level) << " d=" << d << " k=" << k << " count=" << count << " row " << r;
            EXPECT_TRUE(same_bits(got.nearest[at].distance, expected.nearest[at].distance))
                << simd::to_string(level) << " d=" << d << " k=" << k << " count=" << count << " row " << r;
            EXPECT_TRUE(same_bits(got.second[at], expected.second[at]))
                << simd::to_string(level) << " d=" << d << " k=" << k << " count=" << count << " row " << r;
            EXPECT_TRUE(same_bits(got.distance[at], expected.distance[at]))
                << simd::to_string(level) << " distances_direct d=" << d << " k=" << k << " count=" << count;
          }
        }
        // The decision is the argmin of squared_distance (ties: the lower index).
        for (int r = 0; r < count; ++r) {
          const T* row = data.data() + offset[r];
          EXPECT_EQ(expected.nearest[static_cast<std::size_t>(r)].centre,
                    Assigner<T>::nearest_by_distance(row, centres).centre);
        }
      }
    }
  simd::use(simd::widest_supported());
}

TEST(SimdLevels, RowScansSameAtEveryLevel) {
  expect_row_scans_agree<float>();
  expect_row_scans_agree<double>();
}
TEST(SimdLevels, DirectGroupDecisionsSameBitsAtEveryLevel) {
  expect_direct_groups_agree<float>();
  expect_direct_groups_agree<double>();
}

// Kernels::seed_fold_row at every level: the same words, largest values and answer as the
// portable level, for strides of one and two registers, every number of real candidates,
// and D² equal to some candidates' distances (ties: not nearer) or 0.
template <class T>
void expect_seed_fold_row_agree() {
  const auto& reference = simd::kernels<T>(Level::Portable);
  for (const Level level : other_levels()) {
    const auto& kernels = simd::kernels<T>(level);
    for (const std::ptrdiff_t stride : {8, 16})
      for (int trials = 1; trials <= stride; ++trials)
        for (int form = 0; form < 3; ++form) {
          auto distance = random_values<T>(static_cast<std::size_t>(stride), 17 + static_cast<unsigned>(trials));
          for (T& v : distance) v = std::abs(v);
          distance[static_cast<std::size_t>(trials - 1)] = distance[0];  // a tie among candidates
          // D²: a candidate's distance (a tie), 0, or larger than most.
          const T current = form == 0 ? distance[0] : form == 1 ? T(0) : T(8);
          const double factor = std::ldexp(1.0, 40);
          auto run = [&](const simd::Kernels<T>& at, std::vector<std::int64_t>& words, std::vector<double>& largest) {
            words.assign(static_cast<std::size_t>(stride), 5);
            largest.assign(static_cast<std::size_t>(stride), 0.25);
            bool nearer = false;
            for (int repeat = 0; repeat < 3; ++repeat)  // accumulates
              nearer = at.seed_fold_row(distance.data(), current, factor, trials, stride, words.data(), largest.data());
            return nearer;
          };
          std::vector<std::int64_t> expected_words, words;
          std::vector<double> expected_largest, largest;
          const bool expected = run(reference, expected_words, expected_largest);
          EXPECT_EQ(run(kernels, words, largest), expected) << simd::to_string(level) << " trials=" << trials;
          EXPECT_EQ(words, expected_words) << simd::to_string(level) << " trials=" << trials << " form " << form;
          EXPECT_EQ(std::memcmp(largest.data(), expected_largest.data(), largest.size() * sizeof(double)), 0)
              << simd::to_string(level) << " trials=" << trials << " form " << form;
        }
  }
}

// Kernels::seed_rows_as_columns and seed_columns_as_rows at every level: the portable
// level's layout (partial groups padded with 0), and back to the rows.
template <class T>
void expect_seed_column_groups_agree() {
  constexpr int W = simd::SeedBlock<T>::kGroupRows;
  for (const std::ptrdiff_t d : {1, 2, 3, 15, 16, 17, 33}) {
    const auto rows = random_values<T>(static_cast<std::size_t>(W * d), 23 + static_cast<unsigned>(d));
    for (int count = 1; count <= W; ++count) {
      std::vector<T> expected(static_cast<std::size_t>(W * d), T(-1));
      simd::kernels<T>(Level::Portable).seed_rows_as_columns(rows.data(), count, d, expected.data());
      EXPECT_EQ(expected[static_cast<std::size_t>(count - 1)], rows[static_cast<std::size_t>((count - 1) * d)]);
      for (const Level level : simd::kLevels) {
        if (!simd::supported(level)) continue;
        const auto& kernels = simd::kernels<T>(level);
        std::vector<T> columns(expected.size(), T(-1));
        kernels.seed_rows_as_columns(rows.data(), count, d, columns.data());
        EXPECT_EQ(std::memcmp(columns.data(), expected.data(), columns.size() * sizeof(T)), 0)
            << simd::to_string(level) << " d=" << d << " count=" << count;
        if (count != W) continue;
        std::vector<T> back(rows.size(), T(-1));
        kernels.seed_columns_as_rows(columns.data(), d, back.data());
        EXPECT_EQ(back, rows) << simd::to_string(level) << " d=" << d;
      }
    }
  }
}

// Kernels::seed_fold_lanes (where a level has it) gives what direct_scores and
// seed_fold_row give row by row at the portable level: the same potentials, largest values,
// kept rows and their distances, with the rows as rows or (whole groups) as column groups,
// for partial groups, every number of candidates up to 8, and D² tied with a candidate's
// distance or 0. The kernel computes the rows' norms itself: they must be squared_norm's bits
// (the expected distances add the portable squared_norm).
template <class T>
void expect_seed_fold_lanes_agree() {
  constexpr int W = simd::SeedBlock<T>::kGroupRows;
  const auto& reference = simd::kernels<T>(Level::Portable);
  for (const Level level : simd::kLevels) {
    if (!simd::supported(level) || !simd::kernels<T>(level).seed_fold_lanes) continue;
    const auto& kernels = simd::kernels<T>(level);
    for (const std::ptrdiff_t d : {1, 2, 3, 4, 5, 8, 13, 17, 40})
      for (const std::ptrdiff_t count : {1, 15, 16, 17, 100, 1024})
        for (const int trials : {1, 2, 5, 6, 7, 8}) {
          const auto rows = random_values<T>(static_cast<std::size_t>(count * d), 31 + static_cast<unsigned>(count + d));
          const auto values = random_values<T>(static_cast<std::size_t>(trials * d), 37 + static_cast<unsigned>(trials));
          const RowMatrix<T> candidates = Eigen::Map<const RowMatrix<T>>(values.data(), trials, d);
          Eigen::Matrix<T, Eigen::Dynamic, 1> norms(trials);
          for (int t = 0; t < trials; ++t) norms(t) = reference.squared_norm(candidates.row(t).data(), d);
          DirectScorer<T> scorer;
          scorer.set(candidates, norms, T(0));
          ASSERT_EQ(scorer.scaled_transpose.cols(), W);
          std::vector<T> row_norms(static_cast<std::size_t>(count)), closest(row_norms.size());
          std::vector<T> distances(static_cast<std::size_t>(count * W));
          for (std::ptrdiff_t i = 0; i < count; ++i) {
            row_norms[static_cast<std::size_t>(i)] = reference.squared_norm(rows.data() + i * d, d);
            T* out = distances.data() + i * W;
            reference.direct_scores(scorer.scaled_transpose.data(), scorer.norms.data(), W, d, rows.data() + i * d, out);
            for (int c = 0; c < W; ++c) out[c] = std::max(row_norms[static_cast<std::size_t>(i)] + out[c], T(0));
            // D²: mostly that of a candidate or between; some ties and zeros.
            T& current = closest[static_cast<std::size_t>(i)];
            current = i % 7 == 3 ? out[i % trials] : i % 11 == 5 ? T(0) : out[(i + 1) % trials] * T(1.01);
          }
          double top = 0;
          for (const T value : closest) top = std::max(top, static_cast<double>(value));
          const double factor = std::ldexp(1.0, 51 - std::ilogb(std::max(top, 1e-300)));
          // Row by row at the portable level.
          std::vector<std::int64_t> expected_words(8, 0);
          std::vector<double> expected_largest(8, 0.0);
          std::vector<std::ptrdiff_t> expected_kept;
          for (std::ptrdiff_t i = 0; i < count; ++i)
            if (reference.seed_fold_row(distances.data() + i * W, closest[static_cast<std::size_t>(i)], factor, trials, 8,
                                        expected_words.data(), expected_largest.data()))
              expected_kept.push_back(i);
          for (const bool grouped : {false, true}) {
            std::vector<T> data = rows;
            const std::ptrdiff_t whole = grouped ? count / W * W : 0;
            for (std::ptrdiff_t g = 0; g < whole; g += W)
              reference.seed_rows_as_columns(rows.data() + g * d, W, d, data.data() + g * d);
            std::vector<T> scratch(static_cast<std::size_t>(W * d));
            std::vector<std::int64_t> potential(8, -1);
            std::vector<double> largest(8, 0.0);
            std::vector<std::ptrdiff_t> kept(static_cast<std::size_t>(count));
            std::vector<T> kept_distances(static_cast<std::size_t>(count * 8));
            const simd::SeedBlock<T> block{.rows = data.data(), .grouped = whole, .count = count, .features = d,
                                           .closest = closest.data(),
                                           .scaled = scorer.scaled_transpose.data(), .norms = scorer.norms.data(),
                                           .trials = trials, .factor = factor, .scratch = scratch.data(),
                                           .potential = potential.data(), .largest = largest.data(),
                                           .kept = kept.data(), .kept_distances = kept_distances.data()};
            const std::ptrdiff_t got = kernels.seed_fold_lanes(block);
            const auto where = [&] {
              return std::string(simd::to_string(level)) + " d=" + std::to_string(d) + " count=" + std::to_string(count) +
                     " trials=" + std::to_string(trials) + (grouped ? " grouped" : "");
            };
            kept.resize(static_cast<std::size_t>(got));
            ASSERT_EQ(kept, expected_kept) << where();
            for (std::size_t r = 0; r < kept.size(); ++r)
              EXPECT_EQ(std::memcmp(kept_distances.data() + r * 8, distances.data() + kept[r] * W, 8 * sizeof(T)), 0)
                  << where() << " row " << kept[r];
            for (int t = 0; t < trials; ++t) {
              EXPECT_EQ(potential[static_cast<std::size_t>(t)], expected_words[static_cast<std::size_t>(t)]) << where();
              EXPECT_TRUE(same_bits(largest[static_cast<std::size_t>(t)], expected_largest[static_cast<std::size_t>(t)]))
                  << where();
            }
          }
        }
  }
}

// Whole seedings (k-means++ with few and with more than eight candidates, which take
// different kernels, and k-means|| with direct scores, d ≤ 16, and tiles, d > 16, over
// several panels of candidates) choose the same centres, bit for bit, at every level;
// data with duplicate rows (ties in D², rows on a centre) and row counts that leave partial
// column groups and blocks.
template <class T>
void expect_seedings_agree() {
  Comm comm(MPI_COMM_WORLD);
  struct Case {
    Eigen::Index n, d;
    int k;
    InitMethod method;
  };
  for (const Case& c : {Case{2500, 3, 21, InitMethod::KMeansPlusPlus}, Case{777, 8, 21, InitMethod::KMeansPlusPlus},
                        Case{1100, 17, 7, InitMethod::KMeansPlusPlus}, Case{1031, 40, 64, InitMethod::KMeansPlusPlus},
                        Case{1300, 3, 1100, InitMethod::KMeansPlusPlus},
                        Case{2500, 8, 21, InitMethod::KMeansParallel}, Case{900, 17, 12, InitMethod::KMeansParallel},
                        Case{1031, 40, 30, InitMethod::KMeansParallel}, Case{1300, 3, 70, InitMethod::KMeansParallel}}) {
    const auto values = random_values<T>(static_cast<std::size_t>(c.n * c.d), 41 + static_cast<unsigned>(c.d));
    DenseShard<T> shard;
    shard.rows = Eigen::Map<const RowMatrix<T>>(values.data(), c.n, c.d);
    for (Eigen::Index i = 0; i < c.n; i += 9) shard.rows.mutable_matrix().row(i) = shard.rows.matrix().row(i / 9);  // duplicates
    shard.global_rows = static_cast<std::uint64_t>(c.n);
    const RowMatrix<T> before = shard.rows.matrix();
    FeatureRange range(static_cast<std::size_t>(c.d));
    range.add_rows(shard.rows.data(), static_cast<std::size_t>(c.n));
    const FixedPoint fixed(range);
    auto seed_at = [&](Level at) {
      simd::use(at);
      return initial_centres(comm, shard, c.method, c.k, 7, 0, fixed);
    };
    const RowMatrix<T> expected = seed_at(Level::Portable);
    ASSERT_EQ(expected.rows(), c.k);
    for (const Level level : other_levels()) {
      const RowMatrix<T> got = seed_at(level);
      ASSERT_EQ(got.rows(), c.k);
      EXPECT_EQ(std::memcmp(got.data(), expected.data(), static_cast<std::size_t>(got.size()) * sizeof(T)), 0)
          << simd::to_string(level) << " " << to_string(c.method) << " n=" << c.n << " d=" << c.d << " k=" << c.k;
      EXPECT_EQ(std::memcmp(shard.rows.data(), before.data(), static_cast<std::size_t>(before.size()) * sizeof(T)), 0)
          << simd::to_string(level) << ": the shard changed";
    }
  }
  simd::use(simd::widest_supported());
}

TEST(SimdLevels, SeedFoldRowSameAtEveryLevel) {
  expect_seed_fold_row_agree<float>();
  expect_seed_fold_row_agree<double>();
}
TEST(SimdLevels, SeedColumnGroupsSameAtEveryLevel) {
  expect_seed_column_groups_agree<float>();
  expect_seed_column_groups_agree<double>();
}
TEST(SimdLevels, SeedFoldLanesSameAsRowByRow) {
  expect_seed_fold_lanes_agree<float>();
  expect_seed_fold_lanes_agree<double>();
}
TEST(SimdLevels, SeedingsSameCentresAtEveryLevel) {
  expect_seedings_agree<float>();
  expect_seedings_agree<double>();
}

TEST(SimdLevels, PortableAlwaysSupportedAndChosenLevelSupported) {
  EXPECT_TRUE(simd::supported(Level::Portable));
  EXPECT_TRUE(simd::supported(simd::level()));
}
TEST(SimdLevels, DistancesSameBitsAtEveryLevel) {
  expect_distance_kernels_agree<float>();
  expect_distance_kernels_agree<double>();
}
TEST(SimdLevels, DirectScoresSameBitsAtEveryLevel) {
  expect_direct_scores_agree<float>();
  expect_direct_scores_agree<double>();
}
TEST(SimdLevels, TileScoresSameBitsAtEveryLevel) {
  expect_tile_scores_agree<float>();
  expect_tile_scores_agree<double>();
}
TEST(SimdLevels, AssignmentsSameBitsAtEveryLevel) {
  expect_assignments_agree<float>();
  expect_assignments_agree<double>();
}
TEST(Assigner, FusedWeightedSumsSameAsAddedAfterwards) {
  expect_fused_weighted_sums_agree<float>();
  expect_fused_weighted_sums_agree<double>();
}
TEST(SimdLevels, TileDecisionsSameAsPortableOnTiesAndExtremes) {
  expect_adversarial_tile_assignments_agree<float>();
  expect_adversarial_tile_assignments_agree<double>();
}
TEST(SimdLevels, FixedPointRowSumsSameAtEveryLevel) {
  expect_fixed_rows_agree<float>();
  expect_fixed_rows_agree<double>();
}
TEST(SimdLevels, UnsupportedLevelIsRefusedWithOneLine) {
  for (const Level level : simd::kLevels) {
    if (simd::supported(level)) continue;
    try {
      simd::use(level);
      ADD_FAILURE() << "accepted " << simd::to_string(level);
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
}

// Kernels::sparse_scores and Kernels::sparse_dot (spherical K-Means) at every level, the
// portable one included: each score the chain of std::fma in the row's order from 0, bit for
// bit, for k across vector widths and tails, rows of 0 to 40 stored values with repeated
// columns, and centre columns at a stride wider than k.
template <class T>
void expect_sparse_kernels_agree() {
  constexpr std::ptrdiff_t kColumns = 50;
  std::mt19937_64 engine(23);
  std::uniform_int_distribution<std::int32_t> column(0, kColumns - 1);
  std::vector<Level> levels = other_levels();
  levels.push_back(Level::Portable);
  for (const std::ptrdiff_t k : {std::ptrdiff_t{1}, std::ptrdiff_t{3}, std::ptrdiff_t{8}, std::ptrdiff_t{17},
                                 std::ptrdiff_t{64}, std::ptrdiff_t{100}}) {
    const std::ptrdiff_t stride = k + 5;
    const auto centres = random_values<T>(static_cast<std::size_t>(kColumns * stride), 500 + static_cast<unsigned>(k));
    for (const std::ptrdiff_t count : {std::ptrdiff_t{0}, std::ptrdiff_t{1}, std::ptrdiff_t{7}, std::ptrdiff_t{40}}) {
      const auto values = random_values<T>(static_cast<std::size_t>(count), 900 + static_cast<unsigned>(count));
      std::vector<std::int32_t> indices(static_cast<std::size_t>(count));
      for (std::int32_t& j : indices) j = column(engine);
      std::vector<T> expected(static_cast<std::size_t>(k), T{0});
      for (std::ptrdiff_t e = 0; e < count; ++e)
        for (std::ptrdiff_t c = 0; c < k; ++c)
          expected[static_cast<std::size_t>(c)] =
              std::fma(values[static_cast<std::size_t>(e)],
                       centres[static_cast<std::size_t>(indices[static_cast<std::size_t>(e)] * stride + c)],
                       expected[static_cast<std::size_t>(c)]);
      for (const Level level : levels) {
        const auto& kernels = simd::kernels<T>(level);
        std::vector<T> score(static_cast<std::size_t>(k), T{7});  // overwritten, not added to
        kernels.sparse_scores(values.data(), indices.data(), count, centres.data(), stride, k, score.data());
        for (std::ptrdiff_t c = 0; c < k; ++c)
          EXPECT_TRUE(same_bits(score[static_cast<std::size_t>(c)], expected[static_cast<std::size_t>(c)]))
              << simd::to_string(level) << " sparse_scores k=" << k << " count=" << count << " c=" << c;
        // sparse_dot against centre 0's column, read as a dense vector of stride 1: the chain of
        // the first score at stride 1.
        const T dot = kernels.sparse_dot(values.data(), indices.data(), count, centres.data());
        T chain = 0;
        for (std::ptrdiff_t e = 0; e < count; ++e)
          chain = std::fma(values[static_cast<std::size_t>(e)],
                           centres[static_cast<std::size_t>(indices[static_cast<std::size_t>(e)])], chain);
        EXPECT_TRUE(same_bits(dot, chain)) << simd::to_string(level) << " sparse_dot count=" << count;
      }
    }
  }
}

TEST(SimdLevels, SparseKernelsSameBitsAtEveryLevel) {
  expect_sparse_kernels_agree<float>();
  expect_sparse_kernels_agree<double>();
}

}  // namespace
}  // namespace lloyd
