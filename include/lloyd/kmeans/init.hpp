#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/core/exact_sum.hpp"
#include "lloyd/core/options.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// Collective over comm: k starting centres for restart `restart`, drawn with the
/// counter-based generator so that they are identical for every number of ranks.
/// - k-means++: D² sampling as a race (row i's key is −log(u_i)/D²(x_i); the global
///   minimum wins), with scikit-learn's greedy local trials (2 + ⌊ln k⌋ candidates per
///   centre, the one that lowers the potential most is kept; potentials are exact sums).
/// - forgy: the k rows with the smallest uniform keys (k distinct rows).
/// - random-partition: every row joins a uniformly drawn cluster; centres are the means.
/// - k-means|| (Bahmani et al., "Scalable K-Means++", VLDB 2012): one uniform row, then
///   `parallel.rounds` passes in which every row becomes a candidate independently with
///   probability min(1, ℓ·D²(x)/ψ) (a uniform keyed by its global row index; ψ = Σ D² is an
///   exact sum). Only the candidates are gathered (allgatherv, in global row order). Each
///   candidate is weighted by the number of rows nearest to it (exact counts), and the
///   candidates are reduced to k centres by weighted k-means++ with greedy trials and a few
///   weighted Lloyd iterations — computed redundantly, identically, on every rank. With fewer
///   than k candidates (tiny or degenerate data) it falls back to k-means++.
/// With sample weights (shard.weighted(), scikit-learn's sample_weight): every draw is in
/// proportion to the weight — the first centre ∝ w, k-means++ and k-means|| ∝ w·D² (the greedy
/// trials compare Σ w·min(D², d²), k-means|| weighs a candidate by the weight of its rows),
/// forgy k rows ∝ w without replacement, random-partition weighted means — and a row of weight
/// 0 is never drawn.
/// k-means++ skips, by the triangle inequality (Raff, "Exact Acceleration of K-Means++ and
/// K-Means||", IJCAI 2021), the distances of a step's candidates to the rows they cannot come
/// closer to (a row at D from its centre c, a candidate x with ‖x − c‖ ≥ 2D, with margins for
/// the rounding: the picks are the same bits as with every distance computed), where that
/// pays: with sample weights, and from 128 features; and from 128 centres (unweighted, not a
/// view) whole clusters: the rows are kept sorted by nearest centre in the shard itself
/// (restored bit for bit at the end) and a step reads only the clusters that some candidate
/// is within twice their radius of.
struct ParallelSeeding {
  double oversampling = 0;  ///< ℓ, expected candidates per round; 0 means 2k
  int rounds = 5;
  bool triangle_bounds = true;  ///< false: every distance computed (tests compare the two)
};

/// k-means|| with bounds groups a block's rows by nearest candidate this many at a time (a
/// uint32 per row of the group): the grouping is bounded memory however large the shard.
inline constexpr std::int64_t kParallelGroupedRows = std::int64_t{1} << 20;

/// A rank's rows as k-means|| reads them: visited block by block and fetched by position,
/// never needed whole — the in-memory shard (one block, no copy) or blocks read from the file
/// (fit --stream, driver.cpp). The rank's rows are rows [first_row, first_row + local_rows)
/// of the global order.
template <class T>
struct SeedingRows {
  using Visit = std::function<void(const DenseShard<T>& block, Eigen::Index offset)>;
  std::uint64_t first_row = 0;
  Eigen::Index local_rows = 0;
  Eigen::Index features = 0;
  bool weighted = false;             ///< rank-agreed, as DenseShard::weighted()
  std::span<const double> weights;   ///< of the local rows, when weighted
  /// Collective: visit(block, offset) for the local rows in order, `block` holding local rows
  /// [offset, offset + block.local_rows()) with their weights; `visit` calls no collective.
  std::function<void(const Visit& visit)> for_each;
  /// Collective: the `count` rows weighted_random_rows(…, count, rng, stream) draws, in its
  /// order, on every rank.
  std::function<RowMatrix<T>(std::size_t count, std::uint64_t stream)> draw;
  /// Collective: every rank's rows at the given local positions (ascending), on every rank,
  /// in rank order (= global row order).
  std::function<RowMatrix<T>(std::span<const Eigen::Index> positions)> gather;
};

/// Collective over comm: k-means|| (see initial_centres) on rows given block by block, the
/// same centres bit for bit however the rows are split into blocks. Keeps sizeof(T) + 4 bytes
/// per local row (each row's D², computed in T, and nearest candidate). Returns an empty matrix when the rounds yield
/// fewer than k candidates (initial_centres then falls back to k-means++).
template <class T>
RowMatrix<T> kmeans_parallel(const Comm& comm, const SeedingRows<T>& rows, int k, std::uint64_t seed,
                             int restart, const ParallelSeeding& parallel);

/// Collective over comm: random-partition seeding on rows given block by block — each row
/// joins the partition its counter-RNG draw names (the same whichever rank or block holds it),
/// the centres are the partitions' exact means, and an empty partition gets a drawn row.
template <class T>
RowMatrix<T> random_partition(const Comm& comm, const SeedingRows<T>& rows, int k, std::uint64_t seed, int restart,
                              const FixedPoint& fixed);

template <class T>
RowMatrix<T> initial_centres(const Comm& comm, const DenseShard<T>& shard, InitMethod method,
                             int k, std::uint64_t seed, int restart, const FixedPoint& fixed,
                             const ParallelSeeding& parallel = {});

}  // namespace lloyd
