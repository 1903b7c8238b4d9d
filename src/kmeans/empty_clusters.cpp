#include "lloyd/kmeans/empty_clusters.hpp"

#include "lloyd/kmeans/selection.hpp"

namespace lloyd {

template <class T>
std::vector<ClusterMove> plan_empty_cluster_moves(const Comm& comm, const DenseShard<T>& shard,
                                                  std::span<const std::int32_t> labels,
                                                  std::span<const double> distances,
                                                  std::vector<std::int64_t>& counts) {
  std::vector<std::int32_t> empty;
  std::size_t singletons = 0;
  for (std::size_t c = 0; c < counts.size(); ++c) {
    if (counts[c] == 0) empty.push_back(static_cast<std::int32_t>(c));
    if (counts[c] == 1) ++singletons;
  }
  std::vector<ClusterMove> moves;
  if (empty.empty()) return moves;
  // Rows of singleton clusters may be skipped, so look at that many more candidates.
  const std::size_t wanted =
      std::min<std::uint64_t>(shard.global_rows, empty.size() + singletons);
  const auto local = local_smallest(shard, wanted, [&](Eigen::Index i) { return -distances[i]; });
  std::vector<std::uint64_t> farthest;
  for (const KeyIndex& candidate : comm.smallest(local, wanted))
    if (candidate.index != KeyIndex::none().index) farthest.push_back(candidate.index);
  const std::vector<std::int32_t> old_labels =
      fetch_rows(comm, shard.first_row, labels.data(), 1, farthest);
  for (std::size_t q = 0; q < farthest.size() && moves.size() < empty.size(); ++q) {
    if (counts[static_cast<std::size_t>(old_labels[q])] <= 1) continue;
    const std::int32_t to = empty[moves.size()];
    --counts[static_cast<std::size_t>(old_labels[q])];
    ++counts[static_cast<std::size_t>(to)];
    moves.push_back({farthest[q], old_labels[q], to});
  }
  return moves;
}

template <class T>
int relocate_empty_clusters(const Comm& comm, const DenseShard<T>& shard,
                            std::span<const std::int32_t> labels, std::span<const double> distances,
                            const FixedPoint& fixed, ClusterSums& sums) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(sums.clusters()));
  for (Eigen::Index c = 0; c < sums.clusters(); ++c) counts[static_cast<std::size_t>(c)] = sums.count(c);
  if (std::find(counts.begin(), counts.end(), 0) == counts.end()) return 0;
  const std::vector<ClusterMove> moves = plan_empty_cluster_moves(comm, shard, labels, distances, counts);
  std::vector<std::uint64_t> rows_moved;
  for (const ClusterMove& move : moves) rows_moved.push_back(move.row);
  const RowMatrix<T> rows = rows_as_matrix(comm, shard, rows_moved);
  for (std::size_t q = 0; q < moves.size(); ++q) {
    const T* row = rows.row(static_cast<Eigen::Index>(q)).data();
    sums.remove(moves[q].from, row, fixed);
    sums.add(moves[q].to, row, fixed);
  }
  return static_cast<int>(moves.size());
}

#define LLOYD_INSTANTIATE(T)                                                                   \
  template std::vector<ClusterMove> plan_empty_cluster_moves(                                 \
      const Comm&, const DenseShard<T>&, std::span<const std::int32_t>,                       \
      std::span<const double>, std::vector<std::int64_t>&);                                   \
  template int relocate_empty_clusters(const Comm&, const DenseShard<T>&,                     \
                                       std::span<const std::int32_t>, std::span<const double>, \
                                       const FixedPoint&, ClusterSums&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
