// Every kernel computes the same bits at every SIMD level this CPU supports (the portable
// level, compiled for baseline x86-64, is the reference), and so do whole assignments.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <type_traits>
#include <vector>

#include "lloyd/core/exact_sum.hpp"
#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/init.hpp"
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
// distance or 0.
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
                                           .row_norms = row_norms.data(), .closest = closest.data(),
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
// different kernels, and k-means||) choose the same centres, bit for bit, at every level;
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
                        Case{2500, 8, 21, InitMethod::KMeansParallel}, Case{900, 17, 12, InitMethod::KMeansParallel}}) {
    const auto values = random_values<T>(static_cast<std::size_t>(c.n * c.d), 41 + static_cast<unsigned>(c.d));
    DenseShard<T> shard;
    shard.rows = Eigen::Map<const RowMatrix<T>>(values.data(), c.n, c.d);
    for (Eigen::Index i = 0; i < c.n; i += 9) shard.rows.row(i) = shard.rows.row(i / 9);  // duplicates
    shard.global_rows = static_cast<std::uint64_t>(c.n);
    const RowMatrix<T> before = shard.rows;
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
