#include "lloyd/metrics/external.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "lloyd/error.hpp"
#include "lloyd/int128.hpp"
#include "lloyd/metrics/labels.hpp"

namespace lloyd {

namespace {

/// scikit-learn's entropy() of a label vector given its class sizes.
double entropy(const std::vector<double>& sizes) {
  double total = 0;
  for (const double s : sizes) total += s;
  if (total == 0) return 1.0;
  double h = 0;
  for (const double s : sizes)
    if (s > 0) h = std::fma(-(s / total), std::log(s) - std::log(total), h);
  return h;
}

// A non-zero cell of a contingency table: `count` rows are in class `row` and cluster
// `column`. Cells come sorted by (row, column).
struct Cell {
  std::int64_t row, column, count;
};

/// scikit-learn's mutual_info_score() from the non-zero cells of a contingency table (row
/// major, as its sparse matrix), with the class and cluster sizes.
double mutual_info(const std::vector<Cell>& cells, const std::vector<std::size_t>& row_of,
                   const std::vector<std::size_t>& column_of, const std::vector<double>& rows,
                   const std::vector<double>& columns) {
  if (rows.size() == 1 || columns.size() == 1) return 0.0;
  double total = 0;
  for (const double r : rows) total += r;
  double mi = 0;
  for (std::size_t c = 0; c < cells.size(); ++c) {
    const double cell = static_cast<double>(cells[c].count);
    const double p = cell / total;
    const double outer = static_cast<double>(static_cast<std::int64_t>(rows[row_of[c]]) *
                                             static_cast<std::int64_t>(columns[column_of[c]]));
    const double log_outer = -std::log(outer) + 2 * std::log(total);
    double term = std::fma(p, std::log(cell) - std::log(total), p * log_outer);
    if (std::abs(term) < std::numeric_limits<double>::epsilon()) term = 0;
    mi += term;
  }
  return std::max(mi, 0.0);
}

/// The scores from the non-zero cells, sorted by (row, column), with scikit-learn's formulas.
/// Memory follows the cells (at most n), not the number of classes times clusters.
ExternalScores scores_from_cells(const std::vector<Cell>& cells) {
  // Classes and clusters that occur, in value order (scikit-learn's relabelling).
  std::vector<std::int64_t> column_values;
  for (const Cell& cell : cells) column_values.push_back(cell.column);
  std::sort(column_values.begin(), column_values.end());
  column_values.erase(std::unique(column_values.begin(), column_values.end()), column_values.end());
  std::vector<double> row_sums, column_sums(column_values.size(), 0);
  std::vector<std::size_t> row_of(cells.size()), column_of(cells.size());
  Int128 n = 0, sum_squares = 0, row_square_sum = 0, column_square_sum = 0;
  for (std::size_t c = 0; c < cells.size(); ++c) {
    if (c == 0 || cells[c].row != cells[c - 1].row) row_sums.push_back(0);
    row_of[c] = row_sums.size() - 1;
    column_of[c] = static_cast<std::size_t>(
        std::lower_bound(column_values.begin(), column_values.end(), cells[c].column) - column_values.begin());
    const std::int64_t cell = cells[c].count;
    row_sums.back() += static_cast<double>(cell);
    column_sums[column_of[c]] += static_cast<double>(cell);
    n += cell;
    sum_squares += Int128{cell} * cell;
  }
  for (const double r : row_sums)
    row_square_sum += Int128{static_cast<std::int64_t>(r)} * static_cast<std::int64_t>(r);
  for (const double c : column_sums)
    column_square_sum += Int128{static_cast<std::int64_t>(c)} * static_cast<std::int64_t>(c);

  ExternalScores scores;
  // Adjusted Rand index from the pair confusion matrix, in exact integers (scikit-learn ≥ 1.1).
  const Int128 tp = sum_squares - n;
  const Int128 fp = column_square_sum - sum_squares;  // pairs together in a cluster only
  const Int128 fn = row_square_sum - sum_squares;     // pairs together in a class only
  const Int128 tn = n * n - fp - fn - sum_squares;
  if (fn == 0 && fp == 0) {
    scores.adjusted_rand = 1.0;
  } else {
    const Int128 numerator = 2 * (tp * tn - fn * fp);
    const Int128 denominator = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn);
    scores.adjusted_rand = static_cast<double>(numerator) / static_cast<double>(denominator);
  }

  const double h_true = entropy(row_sums), h_pred = entropy(column_sums);
  const double mi = mutual_info(cells, row_of, column_of, row_sums, column_sums);
  // normalized_mutual_info_score
  if ((row_sums.size() == 1 && column_sums.size() == 1) || (row_sums.empty() && column_sums.empty())) {
    scores.normalized_mutual_info = 1.0;
  } else if (mi == 0) {
    scores.normalized_mutual_info = 0.0;
  } else {
    const double normalizer =
        std::max((h_true + h_pred) / 2, std::numeric_limits<double>::epsilon());
    scores.normalized_mutual_info = mi / normalizer;
  }
  // homogeneity_completeness_v_measure
  if (n == 0) {
    scores.homogeneity = scores.completeness = scores.v_measure = 1.0;
  } else {
    scores.homogeneity = h_true != 0 ? mi / h_true : 1.0;
    scores.completeness = h_pred != 0 ? mi / h_pred : 1.0;
    const double sum = scores.homogeneity + scores.completeness;
    scores.v_measure = sum == 0 ? 0.0 : 2 * scores.homogeneity * scores.completeness / sum;
  }
  return scores;
}

// A (class, cluster) pair as one int64 that sorts as the pair: the class in the high half.
std::int64_t cell_key(std::int32_t row, std::int32_t column) {
  return std::int64_t{row} * (std::int64_t{1} << 32) +
         (std::int64_t{column} - std::numeric_limits<std::int32_t>::min());
}

}  // namespace

ExternalScores external_scores(const std::vector<std::vector<std::int64_t>>& contingency) {
  std::vector<Cell> cells;
  for (std::size_t i = 0; i < contingency.size(); ++i)
    for (std::size_t j = 0; j < contingency[i].size(); ++j)
      if (contingency[i][j] > 0)
        cells.push_back({static_cast<std::int64_t>(i), static_cast<std::int64_t>(j), contingency[i][j]});
  return scores_from_cells(cells);
}

ExternalScores external_scores(const Comm& comm, std::span<const std::int32_t> predicted,
                               std::span<const std::int32_t> truth) {
  if (predicted.size() != truth.size())
    throw Error("predicted and true labels differ in length on rank " +
                std::to_string(comm.rank()));
  // The contingency table as its non-zero cells, counted on each rank and summed over ranks.
  std::vector<std::int64_t> keys(truth.size());
  for (std::size_t i = 0; i < truth.size(); ++i) keys[i] = cell_key(truth[i], predicted[i]);
  const std::vector<ValueCount> counted = sum_counts(comm, count_values(keys));
  std::vector<Cell> cells;
  cells.reserve(counted.size());
  for (const ValueCount& c : counted) {
    const std::int64_t row = c.value >> 32;  // arithmetic shift: the floor of the division
    const std::int64_t column = (c.value - row * (std::int64_t{1} << 32)) +
                                std::numeric_limits<std::int32_t>::min();
    cells.push_back({row, column, c.count});
  }
  return scores_from_cells(cells);
}

}  // namespace lloyd
