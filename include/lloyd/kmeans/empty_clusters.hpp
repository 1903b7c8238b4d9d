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
/// The clusters without members (in increasing order) of reduced `sums`, and how many
/// farthest rows to look at to refill them (rows of singleton clusters are skipped).
struct EmptyClusters {
  std::vector<std::int32_t> clusters;
  std::size_t candidates = 0;
};
EmptyClusters find_empty_clusters(const ClusterSums& sums, std::uint64_t rows);

/// Moves candidate rows (farthest first: `rows` and their `old_labels`) into the empty
/// clusters, skipping rows whose cluster would be left empty. Returns the clusters refilled.
template <class T>
int refill_empty_clusters(const EmptyClusters& empty, const RowMatrix<T>& rows,
                          std::span<const std::int32_t> old_labels, const FixedPoint& fixed,
                          ClusterSums& sums);

template <class T>
int relocate_empty_clusters(const Comm& comm, const DenseShard<T>& shard,
                            std::span<const std::int32_t> labels, std::span<const double> distances,
                            const FixedPoint& fixed, ClusterSums& sums);

}  // namespace lloyd
