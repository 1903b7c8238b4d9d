#include "lloyd/kmeans/empty_clusters.hpp"

#include "lloyd/kmeans/selection.hpp"

namespace lloyd {

EmptyClusters find_empty_clusters(const ClusterSums& sums, std::uint64_t rows) {
  EmptyClusters empty;
  std::size_t singletons = 0;
  for (Eigen::Index c = 0; c < sums.clusters(); ++c) {
    if (sums.count(c) == 0) empty.clusters.push_back(static_cast<std::int32_t>(c));
    if (sums.count(c) == 1) ++singletons;
  }
  // Rows of singleton clusters may be skipped, so look at that many more candidates.
  empty.candidates = empty.clusters.empty() ? 0 : std::min<std::uint64_t>(rows, empty.clusters.size() + singletons);
  return empty;
}

template <class T>
int refill_empty_clusters(const EmptyClusters& empty, const RowMatrix<T>& rows,
                          std::span<const std::int32_t> old_labels, const FixedPoint& fixed,
                          ClusterSums& sums) {
  std::size_t refilled = 0;
  for (std::size_t q = 0; q < old_labels.size() && refilled < empty.clusters.size(); ++q) {
    if (sums.count(old_labels[q]) <= 1) continue;
    const T* row = rows.row(static_cast<Eigen::Index>(q)).data();
    sums.remove(old_labels[q], row, fixed);
    sums.add(empty.clusters[refilled++], row, fixed);
  }
  return static_cast<int>(refilled);
}

template <class T>
int relocate_empty_clusters(const Comm& comm, const DenseShard<T>& shard,
                            std::span<const std::int32_t> labels, std::span<const double> distances,
                            const FixedPoint& fixed, ClusterSums& sums) {
  const EmptyClusters empty = find_empty_clusters(sums, shard.global_rows);
  if (empty.clusters.empty()) return 0;
  const auto local = local_smallest(shard, empty.candidates, [&](Eigen::Index i) { return -distances[i]; });
  std::vector<std::uint64_t> farthest;
  for (const KeyIndex& candidate : comm.smallest(local, empty.candidates))
    if (candidate.index != KeyIndex::none().index) farthest.push_back(candidate.index);
  const RowMatrix<T> rows = rows_as_matrix(comm, shard, farthest);
  const std::vector<std::int32_t> old_labels =
      fetch_rows(comm, shard.first_row, labels.data(), 1, farthest);
  return refill_empty_clusters(empty, rows, std::span<const std::int32_t>(old_labels), fixed, sums);
}

template int refill_empty_clusters(const EmptyClusters&, const RowMatrix<float>&, std::span<const std::int32_t>,
                                   const FixedPoint&, ClusterSums&);
template int refill_empty_clusters(const EmptyClusters&, const RowMatrix<double>&, std::span<const std::int32_t>,
                                   const FixedPoint&, ClusterSums&);
template int relocate_empty_clusters(const Comm&, const DenseShard<float>&,
                                     std::span<const std::int32_t>, std::span<const double>,
                                     const FixedPoint&, ClusterSums&);
template int relocate_empty_clusters(const Comm&, const DenseShard<double>&,
                                     std::span<const std::int32_t>, std::span<const double>,
                                     const FixedPoint&, ClusterSums&);

}  // namespace lloyd
