#include "lloyd/kmeans/empty_clusters.hpp"

#include <algorithm>
#include <limits>

#include "lloyd/kmeans/selection.hpp"

namespace lloyd {

EmptyClusters find_empty_clusters(std::span<const std::int64_t> counts, std::uint64_t rows) {
  EmptyClusters empty;
  std::size_t singletons = 0;
  for (std::size_t c = 0; c < counts.size(); ++c) {
    if (counts[c] == 0) empty.clusters.push_back(static_cast<std::int32_t>(c));
    if (counts[c] == 1) ++singletons;
  }
  empty.candidates =
      empty.clusters.empty() ? 0 : std::min<std::uint64_t>(rows, empty.clusters.size() + singletons);
  return empty;
}

namespace {
std::vector<std::int64_t> counts_of(const ClusterSums& sums) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(sums.clusters()));
  for (Eigen::Index c = 0; c < sums.clusters(); ++c) counts[static_cast<std::size_t>(c)] = sums.count(c);
  return counts;
}

// `weights`: of the candidates (weighted sums only).
template <class T>
void apply_moves(const std::vector<ClusterMove>& moves, const RowMatrix<T>& rows,
                 const FixedPoint& fixed, ClusterSums& sums, std::span<const double> weights = {}) {
  for (const ClusterMove& move : moves) {
    const T* row = rows.row(static_cast<Eigen::Index>(move.candidate)).data();
    if (sums.weighted()) {
      const double weight = weights[move.candidate];
      sums.add_weighted<-1>(move.from, row, weight, fixed);
      sums.add_weighted(move.to, row, weight, fixed);
      continue;
    }
    sums.remove(move.from, row, fixed);
    sums.add(move.to, row, fixed);
  }
}
}  // namespace

EmptyClusters find_empty_clusters(const ClusterSums& sums, std::uint64_t rows) {
  return find_empty_clusters(counts_of(sums), rows);
}

std::vector<ClusterMove> choose_cluster_moves(const EmptyClusters& empty,
                                              std::span<const std::uint64_t> rows,
                                              std::span<const std::int32_t> old_labels,
                                              std::vector<std::int64_t>& counts) {
  std::vector<ClusterMove> moves;
  for (std::size_t q = 0; q < rows.size() && moves.size() < empty.clusters.size(); ++q) {
    if (counts[static_cast<std::size_t>(old_labels[q])] <= 1) continue;
    const std::int32_t to = empty.clusters[moves.size()];
    --counts[static_cast<std::size_t>(old_labels[q])];
    ++counts[static_cast<std::size_t>(to)];
    moves.push_back({rows[q], old_labels[q], to, q});
  }
  return moves;
}

template <class T>
std::vector<ClusterMove> plan_empty_cluster_moves(const Comm& comm, const DenseShard<T>& shard,
                                                  std::span<const std::int32_t> labels,
                                                  std::span<const double> distances,
                                                  std::vector<std::int64_t>& counts) {
  const EmptyClusters empty = find_empty_clusters(counts, shard.global_rows);
  if (empty.clusters.empty()) return {};
  // Sample weights: the farthest rows by their (unweighted) distance, as scikit-learn's
  // _relocate_empty_clusters; a row of weight 0 is never a candidate (it would bring no
  // weight: `counts` count the rows of positive weight).
  constexpr double kNoCandidate = std::numeric_limits<double>::infinity();
  const auto local = local_smallest(shard, empty.candidates, [&](Eigen::Index i) {
    return shard.weight(i) > 0 ? -distances[static_cast<std::size_t>(i)] : kNoCandidate;
  });
  std::vector<std::uint64_t> farthest;
  for (const KeyIndex& candidate : comm.smallest(local, empty.candidates))
    if (candidate.index != KeyIndex::none().index && candidate.key != kNoCandidate)
      farthest.push_back(candidate.index);
  const std::vector<std::int32_t> old_labels =
      fetch_rows(comm, shard.first_row, labels.data(), 1, farthest);
  return choose_cluster_moves(empty, farthest, old_labels, counts);
}

template <class T>
int refill_empty_clusters(const EmptyClusters& empty, std::span<const std::uint64_t> global_rows,
                          const RowMatrix<T>& rows, std::span<const std::int32_t> old_labels,
                          const FixedPoint& fixed, ClusterSums& sums, std::span<const double> weights) {
  std::vector<std::int64_t> counts = counts_of(sums);
  const std::vector<ClusterMove> moves = choose_cluster_moves(empty, global_rows, old_labels, counts);
  apply_moves(moves, rows, fixed, sums, weights);
  return static_cast<int>(moves.size());
}

template <class T>
int relocate_empty_clusters(const Comm& comm, const DenseShard<T>& shard,
                            std::span<const std::int32_t> labels, std::span<const double> distances,
                            const FixedPoint& fixed, ClusterSums& sums) {
  std::vector<std::int64_t> counts = counts_of(sums);
  const std::vector<ClusterMove> moves = plan_empty_cluster_moves(comm, shard, labels, distances, counts);
  if (moves.empty()) return 0;
  // Only the moved rows are fetched; a move's candidate index is its position in `moved`.
  std::vector<std::uint64_t> moved;
  std::vector<ClusterMove> renumbered = moves;
  for (std::size_t q = 0; q < moves.size(); ++q) {
    moved.push_back(moves[q].row);
    renumbered[q].candidate = q;
  }
  std::vector<double> weights;
  if (sums.weighted()) weights = fetch_rows(comm, shard.first_row, shard.weights.data(), 1, moved);
  apply_moves(renumbered, rows_as_matrix(comm, shard, moved), fixed, sums, weights);
  return static_cast<int>(moves.size());
}

#define LLOYD_INSTANTIATE(T)                                                                   \
  template std::vector<ClusterMove> plan_empty_cluster_moves(                                 \
      const Comm&, const DenseShard<T>&, std::span<const std::int32_t>,                       \
      std::span<const double>, std::vector<std::int64_t>&);                                   \
  template int refill_empty_clusters(const EmptyClusters&, std::span<const std::uint64_t>,   \
                                     const RowMatrix<T>&, std::span<const std::int32_t>,       \
                                     const FixedPoint&, ClusterSums&, std::span<const double>); \
  template int relocate_empty_clusters(const Comm&, const DenseShard<T>&,                     \
                                       std::span<const std::int32_t>, std::span<const double>, \
                                       const FixedPoint&, ClusterSums&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
