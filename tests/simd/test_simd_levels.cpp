// Every kernel computes the same bits at every SIMD level this CPU supports (the portable
// level, compiled for baseline x86-64, is the reference), and so do whole assignments.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstring>
#include <random>
#include <type_traits>
#include <vector>

#include "lloyd/core/exact_sum.hpp"
#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/score_tiles.hpp"
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
    const RowMatrix<T> centres = shard.rows.topRows(k) * T(0.5);
    auto assign_at = [&](Level at) {
      simd::use(at);
      std::vector<std::int32_t> labels(static_cast<std::size_t>(n));
      std::vector<double> distances(static_cast<std::size_t>(n));
      Assigner<T> assigner(d, k);
      assigner.assign(shard, centres, labels, distances);
      return std::make_pair(labels, distances);
    };
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
TEST(SimdLevels, FixedPointRowSumsSameAtEveryLevel) {
  expect_fixed_rows_agree<float>();
  expect_fixed_rows_agree<double>();
}
TEST(SimdLevels, RowScansSameAtEveryLevel) {
  expect_row_scans_agree<float>();
  expect_row_scans_agree<double>();
}
TEST(SimdLevels, DirectGroupDecisionsSameBitsAtEveryLevel) {
  expect_direct_groups_agree<float>();
  expect_direct_groups_agree<double>();
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

}  // namespace
}  // namespace lloyd
