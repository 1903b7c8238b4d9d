#pragma once
#include <cstdint>
#include <span>

#include "lloyd/comm.hpp"
#include "lloyd/kmeans/cluster_sums.hpp"

namespace lloyd {

/// Collective over comm: gives every cluster without members a new one, like scikit-learn:
/// the rows farthest from their assigned centre (largest `distances`; ties: lower global
/// index) move, farthest first, to the empty clusters in increasing cluster order. A row is
/// not taken from a cluster it would leave empty. Works on the reduced `sums`, so every
/// rank makes the same moves. Returns the number of clusters refilled.
template <class T>
int relocate_empty_clusters(const Comm& comm, const DenseShard<T>& shard,
                            std::span<const std::int32_t> labels, std::span<const double> distances,
                            const FixedPoint& fixed, ClusterSums& sums);

}  // namespace lloyd
