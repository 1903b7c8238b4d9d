#pragma once
#include <functional>

#include "lloyd/comm.hpp"
#include "lloyd/core/exact_sum.hpp"
#include "lloyd/io/checkpoint.hpp"
#include "lloyd/kmeans/engine.hpp"
#include "lloyd/core/options.hpp"
#include "lloyd/core/summary.hpp"
#include "lloyd/io/row_source.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// Collective over comm: what every fit on dense rows does before its loop — the
/// preconditions (k, the initial centres' shape), the data summary (timed as init in
/// result.phases), result.tol_absolute (options.tol_absolute when ≥ 0, else tol × the mean
/// feature variance) — and the loop's settings (one restart with explicit centres).
template <class T>
LoopSettings prepare_dense_fit(const Comm& comm, const DenseShard<T>& shard, const KMeansOptions& options,
                               const RowMatrix<T>* initial, DataSummary& summary, KMeansResult<T>& result);

/// Collective over comm: the starting centres of restart `restart` of a fit on dense rows
/// (the seeding policy of its steps): `initial` when given, else options.init.
template <class T>
RowMatrix<T> starting_centres(const Comm& comm, const DenseShard<T>& shard, const KMeansOptions& options,
                              const FixedPoint& fixed, const RowMatrix<T>* initial, int restart);

/// Collective over comm: distributed K-Means (Lloyd's algorithm) with scikit-learn's
/// semantics: stop when the labels no longer change or the summed squared centre shift is
/// ≤ tol × mean variance; afterwards the labels are recomputed for the final centres and
/// the inertia is that of the final centres. `initial` (k × d) replaces the init method
/// when given (then n_init is 1). `observer` sees every iteration on every rank.
/// The result is bit-identical for every number of ranks, and a run stopped and resumed
/// through `control` ends bit-identical to an uninterrupted one.
template <class T>
KMeansResult<T> fit_kmeans(const Comm& comm, const DenseShard<T>& shard,
                           const KMeansOptions& options, const RowMatrix<T>* initial = nullptr,
                           const IterationObserver& observer = {},
                           const FitControl<T>& control = {});

/// What a streamed fit read: the passes over this rank's rows (each reads them all once: the
/// data summary's three, the seeding's, one per iteration and the final labels'), the bytes
/// and the seconds spent reading (also in the result's phases.io, taken out of the phase the
/// pass ran in).
struct StreamStats {
  std::int64_t passes = 0;
  std::uint64_t bytes_read = 0;
  double io_seconds = 0;
};

/// The one line that refuses a streamed fit's seeding (k-means++ needs the rows in memory;
/// k-means||, forgy, random-partition and given centres stream).
extern const char* const kStreamedInitsMessage;

/// Collective over comm: fit_kmeans on rows read block by block from `source` (fit --stream,
/// out of core): each iteration reads this rank's rows once, keeping per row only the label
/// (Lloyd) and the bounds (Hamerly, Yinyang) — the same model, bit for bit, as fit_kmeans on
/// the rows in memory. Seeds from `initial`, forgy or random-partition (an AgreedError naming
/// them for the others). `stats`, when given, receives what was read.
template <class T>
KMeansResult<T> fit_kmeans(const Comm& comm, RowSource<T>& source, const KMeansOptions& options,
                           const RowMatrix<T>* initial = nullptr, const IterationObserver& observer = {},
                           const FitControl<T>& control = {}, StreamStats* stats = nullptr);

/// Collective over comm: labels and squared distances of the shard's rows for fixed
/// centroids; returns the inertia (an exact sum over all ranks).
template <class T>
double predict_labels(const Comm& comm, const DenseShard<T>& shard, const RowMatrix<T>& centroids,
                      std::vector<std::int32_t>& labels);

}  // namespace lloyd
