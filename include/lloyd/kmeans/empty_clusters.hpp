#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/core/cluster_sums.hpp"

namespace lloyd {

/// Collective over comm: gives every cluster without members a new one, like scikit-learn:
/// the rows farthest from their assigned centre (largest `distances`; ties: lower global
/// index) move, farthest first, to the empty clusters in increasing cluster order. A row is
/// not taken from a cluster it would leave empty. Works on the reduced `sums`, so every
/// rank makes the same moves. Returns the number of clusters refilled.
/// The clusters without members (in increasing order), and how many farthest rows to look
/// at to refill them (rows of singleton clusters are skipped, so that many more).
struct EmptyClusters {
  std::vector<std::int32_t> clusters;
  std::size_t candidates = 0;
};
EmptyClusters find_empty_clusters(std::span<const std::int64_t> counts, std::uint64_t rows);
EmptyClusters find_empty_clusters(const ClusterSums& sums, std::uint64_t rows);

/// A row that moves to an empty cluster.
struct ClusterMove {
  std::uint64_t row;      ///< global row index
  std::int32_t from, to;
  std::size_t candidate;  ///< its position among the candidates
};

/// The rule itself: candidates (farthest first: global `rows` and their `old_labels`) go to
/// the empty clusters in increasing order, skipping rows whose cluster would be left empty.
/// `counts` (reduced cluster sizes) are kept up to date.
std::vector<ClusterMove> choose_cluster_moves(const EmptyClusters& empty,
                                              std::span<const std::uint64_t> rows,
                                              std::span<const std::int32_t> old_labels,
                                              std::vector<std::int64_t>& counts);

/// Collective over comm: the moves of relocate_empty_clusters, for a fit that keeps labels
/// rather than sums (k-medians, k-medoids): `counts` are the reduced cluster sizes, which
/// the moves keep up to date.
template <class T>
std::vector<ClusterMove> plan_empty_cluster_moves(const Comm& comm, const DenseShard<T>& shard,
                                                  std::span<const std::int32_t> labels,
                                                  std::span<const double> distances,
                                                  std::vector<std::int64_t>& counts);

/// The same rule applied to reduced `sums` for candidates already fetched (`rows` holds
/// their values, e.g. of a sparse shard; `weights` their sample weights when the sums are
/// weighted). Returns the clusters refilled.
template <class T>
int refill_empty_clusters(const EmptyClusters& empty, std::span<const std::uint64_t> global_rows,
                          const RowMatrix<T>& rows, std::span<const std::int32_t> old_labels,
                          const FixedPoint& fixed, ClusterSums& sums, std::span<const double> weights = {});

template <class T>
int relocate_empty_clusters(const Comm& comm, const DenseShard<T>& shard,
                            std::span<const std::int32_t> labels, std::span<const double> distances,
                            const FixedPoint& fixed, ClusterSums& sums);

}  // namespace lloyd
