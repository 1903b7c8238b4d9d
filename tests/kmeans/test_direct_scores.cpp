// Direct scoring (small d, and the candidates of k-means++) decides labels from scores kept in
// registers (Assigner::nearest_direct). Whatever path it takes — one to four registers of
// centres, or the stored scores beyond — its decision must be the argmin of squared_distance
// with ties to the lower index, and the second-best score it reports must be the minimum of
// the other centres' scores, bit for bit.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "lloyd/kmeans/assign.hpp"

namespace lloyd {
namespace {

// Small integers: many exact ties (duplicates, rows halfway between two centres). With an
// offset, centres 1/64 apart far from the origin: there the scores' cancellation hides which
// centre is nearer, and only the exact comparison can tell.
template <class T>
RowMatrix<T> random_centres(std::mt19937_64& generator, Eigen::Index k, Eigen::Index d, T offset) {
  std::uniform_int_distribution<int> value(-3, 3);
  RowMatrix<T> centres(k, d);
  for (Eigen::Index c = 0; c < k; ++c)
    for (Eigen::Index j = 0; j < d; ++j)
      centres(c, j) = offset == 0 ? static_cast<T>(value(generator)) : offset + static_cast<T>(value(generator)) / T(64);
  if (k > 2) centres.row(k - 1) = centres.row(1);  // a duplicate: the lower index must win
  return centres;
}

template <class T>
std::vector<T> random_row(std::mt19937_64& generator, const RowMatrix<T>& centres, int kind) {
  const Eigen::Index k = centres.rows(), d = centres.cols();
  std::uniform_int_distribution<Eigen::Index> pick(0, k - 1);
  std::normal_distribution<double> normal(0.0, 2.0);
  std::vector<T> x(static_cast<std::size_t>(d));
  const Eigen::Index a = pick(generator), b = pick(generator);
  for (Eigen::Index j = 0; j < d; ++j) {
    switch (kind) {
      case 0: x[j] = centres(a, j) + static_cast<T>(normal(generator) / 64); break;  // near one
      case 1: x[j] = centres(a, j); break;                              // on a centre
      default: x[j] = (centres(a, j) + centres(b, j)) / T(2); break;    // halfway: a tie
    }
  }
  return x;
}

// The centres laid out for direct scoring, and their largest squared norm.
template <class T>
std::pair<DirectScorer<T>, T> direct_scorer(const RowMatrix<T>& centres) {
  Eigen::Matrix<T, Eigen::Dynamic, 1> norms(centres.rows());
  for (Eigen::Index c = 0; c < centres.rows(); ++c) norms(c) = squared_norm(centres.row(c).data(), centres.cols());
  DirectScorer<T> scorer;
  scorer.set(centres, norms);
  return {scorer, norms.size() > 0 ? norms.maxCoeff() : T(0)};
}

template <class T>
void expect_argmin_of_squared_distance(T offset) {
  std::mt19937_64 generator(11);
  constexpr Eigen::Index kWidth = DirectScorer<T>::kWidth;
  for (Eigen::Index d : {1, 2, 3, 4, 5, 8, 13, 16}) {
    // One to four registers of centres, and more (the stored path).
    for (Eigen::Index k : {Eigen::Index{1}, Eigen::Index{2}, Eigen::Index{5}, kWidth, kWidth + 1,
                           2 * kWidth + 3, 4 * kWidth, 4 * kWidth + 1, 5 * kWidth + 2}) {
      const RowMatrix<T> centres = random_centres<T>(generator, k, d, offset);
      const auto [scorer, largest] = direct_scorer(centres);
      const Eigen::Index padded = scorer.scaled_transpose.cols();
      for (int trial = 0; trial < 60; ++trial) {
        const std::vector<T> x = random_row(generator, centres, trial % 3);
        Eigen::Index expected = 0;
        double expected_distance = squared_distance(x.data(), centres.row(0).data(), d);
        for (Eigen::Index c = 1; c < k; ++c) {
          const double distance = squared_distance(x.data(), centres.row(c).data(), d);
          if (distance < expected_distance) {
            expected_distance = distance;
            expected = c;
          }
        }
        T second = 0;
        const auto found = Assigner<T>::nearest_direct(scorer, x.data(), centres, largest,
                                                       squared_norm(x.data(), d), &second);
        ASSERT_EQ(found.centre, expected) << "d=" << d << " k=" << k << " trial=" << trial;
        EXPECT_EQ(found.distance, expected_distance);
        // The second-best score: the other centres' scores, as DirectScorer stores them.
        std::vector<T> score(static_cast<std::size_t>(padded));
        scorer.scores(x.data(), score.data());
        score[static_cast<std::size_t>(found.centre)] = std::numeric_limits<T>::infinity();
        T others = std::numeric_limits<T>::infinity();
        for (const T value : score) others = std::min(others, value);
        EXPECT_EQ(second, others) << "d=" << d << " k=" << k << " trial=" << trial;
      }
    }
  }
}

// A group of rows at once (one row per register lane, rows anywhere in memory, fewer rows
// than lanes too) decides exactly as each row alone, with the same second-best score; the
// group distances to given centres are squared_distance's bits.
template <class T>
void expect_groups_decide_as_rows_alone(T offset) {
  std::mt19937_64 generator(23);
  constexpr int kGroup = Assigner<T>::kDirectRows;
  for (Eigen::Index d : {1, 3, 4, 7, 8, 9, 13, 16}) {
    for (Eigen::Index k : {Eigen::Index{1}, Eigen::Index{3}, DirectScorer<T>::kWidth, 3 * DirectScorer<T>::kWidth + 1}) {
      const RowMatrix<T> centres = random_centres<T>(generator, k, d, offset);
      const auto [scorer, largest] = direct_scorer(centres);
      // 5 * kGroup rows; a group takes every third of them (scattered), or the first few.
      std::vector<T> rows;
      for (int r = 0; r < 5 * kGroup; ++r) {
        const std::vector<T> x = random_row(generator, centres, r % 3);
        rows.insert(rows.end(), x.begin(), x.end());
      }
      for (const int count : {kGroup, kGroup - 1, 1}) {
        const int stride = count == kGroup ? 3 : 1;
        std::int32_t offsets[kGroup], centre[kGroup];
        T row_norms[kGroup];
        for (int r = 0; r < count; ++r) {
          offsets[r] = static_cast<std::int32_t>(r * stride * d);
          row_norms[r] = squared_norm(rows.data() + offsets[r], d);
          centre[r] = static_cast<std::int32_t>((r * 7) % k);
        }
        typename Assigner<T>::Nearest found[kGroup];
        T second[kGroup];
        double distance[kGroup];
        Assigner<T>::nearest_direct_rows(scorer, rows.data(), offsets, count, centres, largest, row_norms, found, second);
        Assigner<T>::distances_direct(scorer, rows.data(), offsets, count, centre, distance);
        for (int r = 0; r < count; ++r) {
          const T* x = rows.data() + offsets[r];
          T alone_second = 0;
          const auto alone = Assigner<T>::nearest_direct(scorer, x, centres, largest, row_norms[r], &alone_second);
          ASSERT_EQ(found[r].centre, alone.centre) << "d=" << d << " k=" << k << " count=" << count << " r=" << r;
          EXPECT_EQ(found[r].distance, alone.distance);
          EXPECT_EQ(found[r].distance, squared_distance(x, centres.row(found[r].centre).data(), d));
          EXPECT_EQ(second[r], alone_second);
          EXPECT_EQ(distance[r], squared_distance(x, centres.row(centre[r]).data(), d))
              << "d=" << d << " k=" << k << " count=" << count << " r=" << r;
        }
      }
    }
  }
}

TEST(DirectScores, GroupsDecideAsRowsAloneFloat) { expect_groups_decide_as_rows_alone<float>(0); }
TEST(DirectScores, GroupsDecideAsRowsAloneDouble) { expect_groups_decide_as_rows_alone<double>(0); }
TEST(DirectScores, GroupsDecideAsRowsAloneNearTiesFloat) { expect_groups_decide_as_rows_alone<float>(1000); }

TEST(DirectScores, NearestIsTheArgminOfSquaredDistanceFloat) { expect_argmin_of_squared_distance<float>(0); }
TEST(DirectScores, NearestIsTheArgminOfSquaredDistanceDouble) { expect_argmin_of_squared_distance<double>(0); }
TEST(DirectScores, NearTiesFarFromTheOriginFloat) { expect_argmin_of_squared_distance<float>(1000); }
TEST(DirectScores, NearTiesFarFromTheOriginDouble) { expect_argmin_of_squared_distance<double>(1e9); }

#if defined(__AVX512F__)
// ScoreTiles (the product path with AVX-512): every score is the single chain ‖c‖², then
// + x_j · (−2c_j) fused, for j = 0 … d−1, whatever the row's slot in its tile and however many
// rows the tile holds (the layout invariance the assignment relies on); padding is +inf.
template <class T>
void expect_tile_scores_are_one_chain() {
  using Tiles = ScoreTiles<T>;
  std::mt19937_64 generator(5);
  std::normal_distribution<double> normal(0.0, 3.0);
  for (Eigen::Index d : {1, 7, 16, 17, 40, 256}) {
    for (Eigen::Index k : {Eigen::Index{1}, Eigen::Index{Tiles::kPanel - 1}, Eigen::Index{Tiles::kPanel},
                           Eigen::Index{2 * Tiles::kPanel + 5}}) {
      RowMatrix<T> centres(k, d), rows(Tiles::kRows + 3, d);
      for (T& value : centres.reshaped()) value = static_cast<T>(normal(generator));
      for (T& value : rows.reshaped()) value = static_cast<T>(normal(generator));
      Eigen::Matrix<T, Eigen::Dynamic, 1> norms(k);
      for (Eigen::Index c = 0; c < k; ++c) norms(c) = squared_norm(centres.row(c).data(), d);
      Tiles tiles;
      tiles.set(centres, norms);
      const Eigen::Index columns = tiles.padded_centres();
      ASSERT_EQ(columns % Assigner<T>::kChunk, 0);
      ASSERT_GE(columns, k);
      std::vector<T> workspace = tiles.workspace();
      std::vector<T> score(static_cast<std::size_t>(Tiles::kRows * columns));
      // Row `row` in slot `slot` of a tile of `count` rows (the others are other rows).
      for (const auto& [row, slot, count] : {std::array<int, 3>{0, 0, 1}, {3, 3, Tiles::kRows},
                                             {3, Tiles::kRows - 1, Tiles::kRows}, {Tiles::kRows + 2, 1, 2}}) {
        const T* tile_rows[Tiles::kRows];
        for (int r = 0; r < count; ++r) tile_rows[r] = rows.row(r == slot ? row : (r + 1) % rows.rows()).data();
        tiles.compute(tile_rows, count, score.data(), columns, workspace);
        for (Eigen::Index c = 0; c < columns; ++c) {
          T expected = std::numeric_limits<T>::infinity();
          if (c < k) {
            expected = norms(c);
            for (Eigen::Index j = 0; j < d; ++j) expected = std::fma(rows(row, j), T(-2) * centres(c, j), expected);
          }
          ASSERT_EQ(score[static_cast<std::size_t>(slot * columns + c)], expected)
              << "d=" << d << " k=" << k << " row=" << row << " slot=" << slot << " count=" << count << " c=" << c;
        }
      }
    }
  }
}

TEST(TileScores, EveryScoreIsOneChainInAnySlotFloat) { expect_tile_scores_are_one_chain<float>(); }
TEST(TileScores, EveryScoreIsOneChainInAnySlotDouble) { expect_tile_scores_are_one_chain<double>(); }
#endif

}  // namespace
}  // namespace lloyd
