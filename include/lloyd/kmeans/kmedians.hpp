#pragma once
// K-medians: L1 assignment and the exact component-wise median of every cluster, computed
// across ranks by distributed selection (no rank gathers a cluster's values).
#include <cstdint>
#include <span>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/kmeans/engine.hpp"
#include "lloyd/core/options.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// Collective over comm: for every cluster c with members and every feature j, the median
/// of x_ij over the rows i labelled c, defined as numpy.median: the middle value of an odd
/// count, the mean of the two middle values of an even one (computed in double, rounded
/// once to T). Clusters without members keep `previous`'s row.
///
/// Exact selection: values map to 64-bit keys whose unsigned order is the order of the
/// doubles; 8 passes each fix 8 more bits of the two middle keys of every (cluster,
/// feature) from a 256-bin histogram of count reductions (k·d·2·256 int64 per pass).
/// Counts are integers, so the result is identical for every number of ranks. With sample
/// weights (shard.weighted()), the weighted median: numpy.median of the rows repeated as their
/// weights say (integer weights give exactly that; see weighted_cluster_medians in
/// kmedians.cpp), a cluster without weight keeping `previous`'s row.
template <class T>
RowMatrix<T> cluster_medians(const Comm& comm, const DenseShard<T>& shard,
                             std::span<const std::int32_t> labels, const RowMatrix<T>& previous);

/// Collective over comm: K-medians with Lloyd-like iterations: assign every row to the
/// nearest centre in L1 (ties: lower centre), give empty clusters the farthest rows
/// (scikit-learn's policy, see plan_empty_cluster_moves), replace every centre by its
/// cluster's median; stop when no label changes or the summed squared centre shift is
/// ≤ tol × mean feature variance. Labels and inertia (Σ L1 distances, an exact sum) are
/// those of the final centres. Seeding: `initial`, or options.init (k-means++ uses D² as
/// for K-Means; n_init restarts, the lowest inertia wins). The history holds the inertia of
/// every iteration's assignment. Checkpoints and the observer come with the loop (engine.hpp).
template <class T>
KMeansResult<T> fit_kmedians(const Comm& comm, const DenseShard<T>& shard,
                             const KMeansOptions& options, const RowMatrix<T>* initial = nullptr,
                             const IterationObserver& observer = {},
                             const FitControl<T>& control = {});

}  // namespace lloyd
