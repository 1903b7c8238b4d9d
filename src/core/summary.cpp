#include "lloyd/core/summary.hpp"

#include "lloyd/core/cluster_sums.hpp"
#include "lloyd/core/distance.hpp"

namespace lloyd {

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
      comm, [&](const auto& visit) { visit(shard); }, shard.global_rows, shard.features(), true);
}

#define LLOYD_INSTANTIATE(T)                                                                   \
  template DataSummary summarize_blocks(const Comm&, const BlockVisitor<T>&, std::uint64_t,    \
                                        Eigen::Index, bool);                                   \
  template DataSummary summarize(const Comm&, const DenseShard<T>&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
