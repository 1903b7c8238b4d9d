#pragma once
// Mini-batch K-Means (Sculley 2010) with scikit-learn's MiniBatchKMeans semantics,
// distributed and rank-count invariant, in memory or out of core (rows read from HDF5 on
// demand).
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/io/row_source.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/core/options.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

struct MiniBatchOptions {
  /// Rows per step; at most n are used (scikit-learn's _batch_size = min(batch_size, n)).
  std::uint64_t batch_size = 1024;
  /// Stop after this many steps without an improvement of the smoothed batch inertia (0: never).
  int max_no_improvement = 10;
  /// Rows the centres are seeded from (0: 3 × batch_size, at least 3k; at most n).
  std::uint64_t init_size = 0;
  /// Centres with fewer absorbed rows than this fraction of the largest count are moved to
  /// random rows of the batch (scikit-learn's reassignment_ratio; 0: never).
  double reassignment_ratio = 0.01;
};

template <class T>
struct MiniBatchResult : KMeansResult<T> {
  std::vector<std::int64_t> counts;  ///< rows each centre has absorbed (scikit-learn's counts_)
  std::uint64_t n_steps = 0;     ///< mini-batches processed (scikit-learn's n_steps_)
  std::uint64_t batch_size = 0;  ///< rows per step: min(requested, n)
  std::uint64_t init_size = 0;
  std::vector<double> ewa_inertia_history;  ///< smoothed batch inertia per step (from step 2)
};

/// Where the final labels go, block by block: (first global row, labels of the block).
/// Called on every rank equally often (see RowSource::for_each_block); may call collectives.
using LabelSink = std::function<void(std::uint64_t, std::span<const std::int32_t>)>;

/// Collective over comm: mini-batch K-Means as scikit-learn's MiniBatchKMeans:
/// - seeding: options.init on `init_size` rows drawn uniformly with replacement
///   (Stream::MiniBatchInit); with n_init > 1 the seeding with the lowest inertia on those
///   rows wins;
/// - each step draws a batch of B global row indices uniformly with replacement (Stream::
///   MiniBatchDraw, keyed by step and position: the same batch for any rank count); every
///   rank assigns its rows of the batch (ordered by global index) and the per-cluster sums
///   and counts are reduced exactly; centre c moves to (c·N_c + Σ batch rows)/(N_c + m_c),
///   i.e. a learning rate m_c/(N_c + m_c) from the per-centre counts N_c;
/// - B = min(batch_size, n); max_iter counts passes over the data, as scikit-learn's: at
///   most ⌊max_iter·n/B⌋ steps (n_steps), and result.n_iter = ⌈n_steps·B/n⌉ (n_iter_);
///   stop early when the squared centre change ≤ tol × mean
///   variance (tol > 0 only), or when the exponentially smoothed batch inertia (α = 2B/(n+1))
///   has not improved for max_no_improvement steps;
/// - scikit-learn's random reassignment: when a centre has absorbed no row yet, or after
///   every 10k rows seen, the centres whose count is below reassignment_ratio × the largest
///   (at most B/2 of them, smallest counts first) move to distinct random rows of the batch
///   (Stream::MiniBatchReassign, keyed by batch position), and their counts are set to the
///   smallest count of the others.
/// The final labels and inertia are those of the final centres over all rows; labels go to
/// `sink` (or result.labels when there is none). init_inertia is the inertia of the seeded
/// centres on all rows (one pass more; the seeding itself compares its trials on the
/// sample). One iteration of the loop (engine.hpp) is one step: checkpoints save after a
/// step, and the observer sees every step.
template <class T>
MiniBatchResult<T> fit_minibatch(const Comm& comm, RowSource<T>& source,
                                 const KMeansOptions& options, const MiniBatchOptions& batch,
                                 const LabelSink& sink = {}, const IterationObserver& observer = {},
                                 const FitControl<T>& control = {});

}  // namespace lloyd
