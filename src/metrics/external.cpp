#include "lloyd/metrics/external.hpp"

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
    if (s > 0) h -= (s / total) * (std::log(s) - std::log(total));
  return h;
}

/// scikit-learn's mutual_info_score() from the non-zero cells of a contingency table.
double mutual_info(const std::vector<std::vector<double>>& table, const std::vector<double>& rows,
                   const std::vector<double>& columns) {
  if (rows.size() == 1 || columns.size() == 1) return 0.0;
  double total = 0;
  for (const double r : rows) total += r;
  double mi = 0;
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = 0; j < columns.size(); ++j) {
      const double cell = table[i][j];
      if (cell == 0) continue;
      const double p = cell / total;
      const double outer = static_cast<double>(static_cast<std::int64_t>(rows[i]) *
                                               static_cast<std::int64_t>(columns[j]));
      const double log_outer = -std::log(outer) + 2 * std::log(total);
      double term = p * (std::log(cell) - std::log(total)) + p * log_outer;
      if (std::abs(term) < std::numeric_limits<double>::epsilon()) term = 0;
      mi += term;
    }
  return std::max(mi, 0.0);
}

}  // namespace

ExternalScores external_scores(const std::vector<std::vector<std::int64_t>>& contingency) {
  // Drop empty classes and clusters, as scikit-learn's relabelling does.
  std::vector<std::size_t> live_rows, live_columns;
  const std::size_t columns = contingency.empty() ? 0 : contingency[0].size();
  for (std::size_t i = 0; i < contingency.size(); ++i) {
    std::int64_t sum = 0;
    for (const std::int64_t cell : contingency[i]) sum += cell;
    if (sum > 0) live_rows.push_back(i);
  }
  for (std::size_t j = 0; j < columns; ++j) {
    std::int64_t sum = 0;
    for (const auto& row : contingency) sum += row[j];
    if (sum > 0) live_columns.push_back(j);
  }
  std::vector<std::vector<double>> table(live_rows.size(),
                                         std::vector<double>(live_columns.size()));
  std::vector<double> row_sums(live_rows.size(), 0), column_sums(live_columns.size(), 0);
  Int128 n = 0, sum_squares = 0, row_square_sum = 0, column_square_sum = 0;
  for (std::size_t i = 0; i < live_rows.size(); ++i)
    for (std::size_t j = 0; j < live_columns.size(); ++j) {
      const std::int64_t cell = contingency[live_rows[i]][live_columns[j]];
      table[i][j] = static_cast<double>(cell);
      row_sums[i] += static_cast<double>(cell);
      column_sums[j] += static_cast<double>(cell);
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
  const double mi = mutual_info(table, row_sums, column_sums);
  // normalized_mutual_info_score
  if ((live_rows.size() == 1 && live_columns.size() == 1) ||
      (live_rows.empty() && live_columns.empty())) {
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

ExternalScores external_scores(const Comm& comm, std::span<const std::int32_t> predicted,
                               std::span<const std::int32_t> truth) {
  if (predicted.size() != truth.size())
    throw Error("predicted and true labels differ in length on rank " +
                std::to_string(comm.rank()));
  const LabelCounts classes = count_labels(comm, truth);
  const LabelCounts clusters = count_labels(comm, predicted);
  const std::size_t rows = classes.counts.size(), columns = clusters.counts.size();
  comm.agree(rows * columns > (std::size_t{1} << 26)
                 ? std::optional<std::string>("contingency table of " + std::to_string(rows) +
                                              " x " + std::to_string(columns) +
                                              " label values is too large")
                 : std::nullopt);
  std::vector<std::int64_t> flat(rows * columns, 0);
  for (std::size_t i = 0; i < truth.size(); ++i)
    ++flat[static_cast<std::size_t>(truth[i] - classes.min) * columns +
           static_cast<std::size_t>(predicted[i] - clusters.min)];
  comm.allreduce(std::span<std::int64_t>(flat), MPI_SUM);
  std::vector<std::vector<std::int64_t>> contingency(rows, std::vector<std::int64_t>(columns));
  for (std::size_t i = 0; i < rows; ++i)
    std::copy_n(flat.begin() + static_cast<std::ptrdiff_t>(i * columns), columns,
                contingency[i].begin());
  return external_scores(contingency);
}

}  // namespace lloyd
