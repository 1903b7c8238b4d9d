#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/kmeans/cluster_sums.hpp"

namespace lloyd {

/// Collective over comm: gives every cluster without members a new one, like scikit-learn:
/// the rows farthest from their assigned centre (largest `distances`; ties: lower global
/// index) move, farthest first, to the empty clusters in increasing cluster order. A row is
/// not taken from a cluster it would leave empty. Works on the reduced `sums`, so every
/// rank makes the same moves. Returns the number of clusters refilled.
/// A row that moves to an empty cluster.
struct ClusterMove {
  std::uint64_t row;   ///< global row index
  std::int32_t from, to;
};

/// Collective over comm: the moves of relocate_empty_clusters, for a fit that keeps labels
/// rather than sums (k-medians, k-medoids): `counts` are the reduced cluster sizes, which
/// the moves keep up to date.
template <class T>
std::vector<ClusterMove> plan_empty_cluster_moves(const Comm& comm, const DenseShard<T>& shard,
                                                  std::span<const std::int32_t> labels,
                                                  std::span<const double> distances,
                                                  std::vector<std::int64_t>& counts);

template <class T>
int relocate_empty_clusters(const Comm& comm, const DenseShard<T>& shard,
                            std::span<const std::int32_t> labels, std::span<const double> distances,
                            const FixedPoint& fixed, ClusterSums& sums);

}  // namespace lloyd
