#pragma once
// Spherical K-Means (Dhillon & Modha 2001): rows and centres on the unit sphere, each row
// assigned to the centre of largest cosine similarity, centres the re-normalised means.
// Works on CSR shards (dense input is converted with to_csr); centroids are dense k × d.
#include <cstdint>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/kmeans/engine.hpp"
#include "lloyd/core/options.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// Scales every row to unit L2 norm (norms in double); all-zero rows stay zero (their
/// similarity to every centre is 0). Local.
template <class T>
void normalize_rows(CsrShard<T>& shard);

/// Scales every row of a small dense matrix (e.g. initial centres) to unit norm.
template <class T>
void normalize_rows(RowMatrix<T>& matrix);

/// Collective over comm: spherical K-Means on L2-normalised rows.
/// - assignment: largest dot product x·c (a sparse row times the dense centres, accumulated
///   in T in the row's column order, so a row's scores do not depend on where it lives);
///   ties to the lowest centre index;
/// - update: the members' exact fixed-point sums (ClusterSums) divided by their count, then
///   scaled to unit norm in double; an empty cluster takes the row least similar to its
///   centre (ties: lowest row index), taken from its old cluster, as in the Euclidean driver;
/// - stop when no label changes or the summed squared centre shift is ≤ tol (absolute: the
///   centres are unit vectors); the labels are then recomputed for the final centres.
/// The objective (`inertia`) is Σ (1 − cos(x, c)). Init: `initial` (k × d, normalised
/// here), or forgy (k distinct rows, smallest uniform keys), or k-means++ with weights
/// 1 − cos to the nearest chosen centre (‖x − c‖²/2 for unit vectors; a race as in the
/// Euclidean k-means++, without greedy trials). Bit-identical for any number of ranks and
/// threads.
/// Restarts, checkpoints and the observer come with the loop (engine.hpp).
template <class T>
KMeansResult<T> fit_spherical(const Comm& comm, const CsrShard<T>& shard, const KMeansOptions& options,
                              const RowMatrix<T>* initial = nullptr, const IterationObserver& observer = {},
                              const FitControl<T>& control = {});

/// Collective over comm: labels of the (normalised) rows for fixed unit centres; returns the
/// objective Σ (1 − cos).
template <class T>
double predict_spherical(const Comm& comm, const CsrShard<T>& shard, const RowMatrix<T>& centroids,
                         std::vector<std::int32_t>& labels);

}  // namespace lloyd
