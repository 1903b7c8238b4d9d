#include "lloyd/core/summary.hpp"

#include "lloyd/core/cluster_sums.hpp"
#include "lloyd/core/distance.hpp"

namespace lloyd {

FixedPoint weighted_grid(const Comm& comm, Eigen::Index d, const WeightedValueVisitor& visit) {
  FeatureRange products(static_cast<std::size_t>(d)), weights(1), values(static_cast<std::size_t>(d));
  ExactSum total_weight;
  visit([&](double w) {
    weights.add(0, w);
    total_weight.add(w);
  }, [&](double w, std::size_t feature, double value) {
    const WeightedProduct product = weighted_product(w, value);
    products.add(feature, product.product);
    products.add(feature, product.error);
    values.add(feature, value);
  });
  products.allreduce(comm);
  weights.allreduce(comm);
  values.allreduce(comm);
  total_weight.allreduce(comm);
  constexpr double kLargestWeightedSum = 0x1p1000;  // ExactSum and FixedPoint reach 2^1100
  bool overflow = !(total_weight.value() <= kLargestWeightedSum);
  for (Eigen::Index j = 0; j < d; ++j) {
    const auto feature = static_cast<std::size_t>(j);
    overflow = overflow || !(products.max_abs(feature) <= kLargestWeightedSum) ||
               !(total_weight.value() * values.max_abs(feature) <= kLargestWeightedSum);
  }
  if (overflow)
    throw AgreedError("sample weights too large for these values: a weighted sum would overflow");
  FixedPoint grid(products);
  grid.set_weight_grid(FixedPoint(weights));
  return grid;
}

template <class T>
DataSummary summarize_blocks(const Comm& comm, const BlockVisitor<T>& visit_blocks, std::uint64_t rows,
                             Eigen::Index features, bool need_variance, bool weighted) {
  DataSummary summary = summarize_blocks(comm, visit_blocks, rows, features, need_variance);
  // The mean and variance stay those of the rows (scikit-learn's tolerance ignores the
  // weights); only the grids of the sums change.
  if (weighted)
    summary.fixed = weighted_grid(comm, features, [&](const auto& row_weight, const auto& value) {
      visit_blocks([&](const DenseShard<T>& block) {
        for (Eigen::Index i = 0; i < block.local_rows(); ++i) {
          const double w = block.weight(i);
          if (w == 0) continue;
          row_weight(w);
          for (Eigen::Index j = 0; j < features; ++j) value(w, static_cast<std::size_t>(j), static_cast<double>(block.row(i)[j]));
        }
      });
    });
  return summary;
}

template <class T>
DataSummary summarize_blocks(const Comm& comm, const BlockVisitor<T>& visit_blocks, std::uint64_t rows,
                             Eigen::Index features, bool need_variance) {
  const Eigen::Index d = features;
  FeatureRange range(static_cast<std::size_t>(d));
  visit_blocks([&](const DenseShard<T>& block) {
    range.add_rows(block.rows.data(), static_cast<std::size_t>(block.local_rows()));
  });
  range.allreduce(comm);
  DataSummary summary{FixedPoint(range), 0.0, {}};
  if (!need_variance) return summary;
  // The mean from exact sums, then Σ‖x − mean‖² as one exact sum.
  ClusterSums total(1, summary.fixed);
  visit_blocks([&](const DenseShard<T>& block) {
    for (Eigen::Index i = 0; i < block.local_rows(); ++i) total.add(0, block.row(i), summary.fixed);
  });
  total.allreduce(comm);
  RowMatrix<double> mean = RowMatrix<double>::Zero(1, d);
  total.means(summary.fixed, mean);
  summary.mean.assign(mean.data(), mean.data() + d);
  ExactSum squares;
  visit_blocks([&](const DenseShard<T>& block) {
    for (Eigen::Index i = 0; i < block.local_rows(); ++i)
      squares.add(squared_distance(block.row(i), mean.data(), d));
  });
  squares.allreduce(comm);
  summary.mean_variance =
      squares.value() / (static_cast<double>(rows) * static_cast<double>(d));
  return summary;
}

template <class T>
DataSummary summarize(const Comm& comm, const DenseShard<T>& shard) {
  return summarize_blocks<T>(
      comm, [&](const auto& visit) { visit(shard); }, shard.global_rows, shard.features(), true,
      shard.weighted());
}

#define LLOYD_INSTANTIATE(T)                                                                   \
  template DataSummary summarize_blocks(const Comm&, const BlockVisitor<T>&, std::uint64_t,    \
                                        Eigen::Index, bool);                                   \
  template DataSummary summarize_blocks(const Comm&, const BlockVisitor<T>&, std::uint64_t,    \
                                        Eigen::Index, bool, bool);                             \
  template DataSummary summarize(const Comm&, const DenseShard<T>&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
