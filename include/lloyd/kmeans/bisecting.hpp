#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/core/tree.hpp"
#include "lloyd/kmeans/engine.hpp"
#include "lloyd/core/options.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// What happened in one split, for progress lines.
struct SplitStats {
  int split = 0;           ///< 1-based
  std::int64_t node = 0;   ///< the node that was split
  std::int64_t size = 0;   ///< its rows
  double inertia = 0;      ///< total inertia of the leaves after the split
  int n_iter = 0;          ///< Lloyd iterations of the chosen 2-means restart
  double seconds = 0;      ///< since the fit started
};
using SplitObserver = std::function<void(const SplitStats&)>;

template <class T>
struct BisectingResult {
  BisectingTree<T> tree;
  RowMatrix<T> centroids;            ///< k × d, the leaves in label order
  std::vector<std::int32_t> labels;  ///< this rank's rows: the leaf each row belongs to
  double inertia = 0;                ///< Σ over rows of ‖x − centroid(label)‖² (exact)
  double tol_absolute = 0;           ///< tol × mean feature variance of the whole data
  std::vector<double> inertia_history;  ///< total leaf inertia before the first and after each split
  PhaseTimes phases;
  bool interrupted = false;  ///< stopped on request after saving a checkpoint; no result
};

/// Collective over comm: bisecting K-Means with scikit-learn's semantics (BisectingKMeans):
/// start from one cluster (all rows), and k − 1 times split a leaf in two with a 2-means —
/// the leaf with the largest inertia (BiggestInertia) or the most rows (LargestCluster),
/// ties to the first leaf in depth-first order; leaves of one row are never chosen. Each
/// 2-means is fit_kmeans (options.init, n_init restarts, max_iter, tol relative to the whole
/// data's variance, a seed drawn per split) on a shard of the chosen leaf's rows: every rank
/// keeps its own rows of that leaf in place (no row changes rank), numbered in global row
/// order, so the result is bit-identical for any number of ranks. Labels are the leaves the
/// rows were split into; centres the 2-means centres (not recomputed means).
/// Checkpoints (`control`) hold the tree of the splits done (FitState::outer_*) and the
/// state of the 2-means in progress: a resumed fit rebuilds every row's leaf from the tree
/// (each split's rows assigned to its two centres again, as the 2-means labelled them) and
/// continues the current split where it stopped — bit-identical to an uninterrupted fit.
template <class T>
BisectingResult<T> fit_bisecting(const Comm& comm, const DenseShard<T>& shard,
                                 const KMeansOptions& options, BisectingStrategy strategy,
                                 const SplitObserver& observer = {}, const FitControl<T>& control = {});

/// Collective over comm: the leaf label of every local row, descending the tree; returns
/// the inertia (exact sum over all ranks).
template <class T>
double predict_tree(const Comm& comm, const DenseShard<T>& shard, const BisectingTree<T>& tree,
                    std::vector<std::int32_t>& labels);

}  // namespace lloyd
