#pragma once
// K-medoids: centres are rows of the data. Exact and distributed: every sum of distances
// over rows is computed by streaming the shards around a ring of ranks
// (pairwise::for_each_pair) in quantised integer units, so results are identical for any
// number of ranks and no rank gathers the data.
#include <cstdint>
#include <string>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/kmeans/engine.hpp"
#include "lloyd/core/options.hpp"
#include "lloyd/core/distance.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {


struct KMedoidsOptions {
  MedoidMethod method = MedoidMethod::Alternate;
  Distance distance = Distance::Euclidean;
  /// 0: choose the medoids among all rows. m > 0 (and < n): CLARA-style, choose them on m
  /// rows drawn uniformly without replacement (Stream::MedoidSample, rank-invariant), then
  /// assign every row to them.
  std::uint64_t sample = 0;
};

template <class T>
struct KMedoidsResult : KMeansResult<T> {
  std::vector<std::uint64_t> medoid_indices;  ///< global row of each medoid (centroids = those rows)
  std::uint64_t fitted_rows = 0;              ///< rows the medoids were chosen among (n or the sample)
};

/// Collective over comm: k-medoids (all sums of distances exact in units of
/// pairwise::fixed_point_scale, ties to the lowest global row):
/// - BUILD (Kaufman & Rousseeuw): the first medoid minimises the sum of distances to all
///   rows; each next one maximises the total decrease Σ_j max(0, D_j − d(j, i)) of the
///   distances D_j to the nearest medoid so far.
/// - alternate (Voronoi iteration, as scikit-learn-extra's KMedoids(method="alternate")):
///   assign rows to the nearest medoid (ties: lower medoid), then in every cluster the
///   member with the smallest summed distance to the other members becomes its medoid
///   (only when strictly better than the current one); stop when no medoid changes or after
///   max_iter iterations.
/// - pam: after BUILD, repeatedly make the single swap (medoid m ↔ row h) that lowers the
///   total distance the most (FastPAM1's O(k) bookkeeping per pair; ties: lowest h, then
///   m) until no swap improves or max_iter swaps were made.
/// Every BUILD step, alternate iteration and swap costs one ring pass: O(n²d/p) work per
/// rank, memory O((n/p)·(d + k)). Labels and inertia (Σ distances to the medoid, exact sum)
/// are those of the final medoids over all rows; the history holds the inertia after BUILD
/// and after every iteration (or swap), on the rows fitted; init_inertia is BUILD's inertia
/// on all rows (one pass more when the medoids are chosen on a sample). One iteration of
/// the loop (engine.hpp) is one pass or swap: checkpoints save the medoids after one.
/// With sample weights (shard.weighted(); with a sample, its rows keep their weights) every
/// cost is Σ_j w_j · d(j, ·): BUILD's sums and decreases, the alternate in-cluster sums, the
/// PAM swap changes and the inertia. The weights travel with their rows around the ring,
/// each rounded once to integer units of the largest weight's grid (exact for integer
/// weights below 2^52), so integer weights choose the medoids of the rows repeated as often
/// (medoid_indices then name the row itself, i.e. the first copy) and unit weights those of
/// no weights (rows of weight 0 still widen the data's range, which sets the distances'
/// grid, fixed_point_scale). Rows of weight 0 never become medoids; fewer than k rows of
/// positive weight in the data or the sample are refused (AgreedError).
template <class T>
KMedoidsResult<T> fit_kmedoids(const Comm& comm, const DenseShard<T>& shard,
                               const KMeansOptions& options, const KMedoidsOptions& medoids,
                               const IterationObserver& observer = {},
                               const FitControl<T>& control = {});

}  // namespace lloyd
