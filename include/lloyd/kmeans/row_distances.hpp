#pragma once
// What a fitted model says about each row besides its label: the distance to its centre
// (anomaly scores), the distances to every centre (scikit-learn's KMeans.transform), the rows
// farthest from their centres over all ranks (top outliers) and the rows per cluster. Used by
// `predict --distances/--transform/--top-outliers` and `fit --distances`.
//
// Distances are computed directly, row by row in double (never by the ‖x‖² − 2x·c + ‖c‖²
// expansion), so a row's value is the same bits wherever it lives and for any thread count:
// - Euclidean: √squared_distance(x, c) (core/distance.hpp; Σ (x − c)² in double);
// - Manhattan (K-medians, a K-medoids model of that distance): Σ |x − c|;
// - Cosine (a cosine model, or K-medoids of that distance): 1 − x·c / (‖x‖‖c‖), 1 when
//   either is zero (scikit-learn's cosine_distances).
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/core/distance.hpp"
#include "lloyd/io/row_source.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// The distance of one row to one centre under `distance` (see above).
template <class T>
double centre_distance(Distance distance, const T* row, const T* centre, Eigen::Index features);

/// Each local row's distance to centre labels[i] of `centres` (out: local_rows values).
/// Threads: set_threads; the values do not depend on the thread count.
template <class T>
void distances_to_labels(const DenseShard<T>& shard, const RowMatrix<T>& centres, Distance distance,
                         std::span<const std::int32_t> labels, std::span<double> out);
/// The same for sparse rows (a cosine model's rows): `distance` must be Cosine (an Error
/// otherwise); x·c and ‖x‖ are summed over the row's stored values in order.
template <class T>
void distances_to_labels(const CsrShard<T>& shard, const RowMatrix<T>& centres, Distance distance,
                         std::span<const std::int32_t> labels, std::span<double> out);

/// Each local row's distance to every centre: local_rows × k (scikit-learn's transform for
/// a Euclidean model). Threads: set_threads.
template <class T>
RowMatrix<double> distances_to_centres(const DenseShard<T>& shard, const RowMatrix<T>& centres, Distance distance);
template <class T>
RowMatrix<double> distances_to_centres(const CsrShard<T>& shard, const RowMatrix<T>& centres, Distance distance);

/// Receives the distances of rows [first_row, first_row + distances.size()).
using DistanceSink = std::function<void(std::uint64_t first_row, std::span<const double> distances)>;

/// For each block of `source` (RowSource::for_each_block: every rank calls `sink` equally
/// often, so it may be collective): each row's Euclidean distance to its nearest centre, the
/// centre the fits' final assignment labels it with (Assigner: the argmin of
/// squared_distance, ties to the lower centre) — √ of that squared_distance. For fits whose
/// labels were streamed (mini-batch).
template <class T>
void nearest_distances_by_block(RowSource<T>& source, const RowMatrix<T>& centres, const DistanceSink& sink);

/// A row far from its centre.
struct Outlier {
  std::uint64_t row = 0;  ///< global row index
  std::int32_t label = 0;
  double distance = 0;
  friend bool operator==(const Outlier&, const Outlier&) = default;
};

/// Collective over comm: the `count` rows with the largest distance to their centre over all
/// ranks, farthest first, ties to the lowest global row; fewer when the data have fewer rows.
/// Local row i is global row first_row + i with `labels[i]` and `distances[i]` (NaN
/// distances are never chosen). A distributed selection: each rank keeps its own `count`
/// best, then the lists merge pairwise in a reduction (Comm::smallest) — at most `count`
/// candidates travel per rank and no row leaves its rank. Identical on every rank.
std::vector<Outlier> top_outliers(const Comm& comm, std::uint64_t first_row, std::span<const std::int32_t> labels,
                                  std::span<const double> distances, std::uint64_t count);

/// Collective over comm: the rows of each of the k clusters over all ranks (labels in
/// [0, k)), identical on every rank.
std::vector<std::int64_t> cluster_sizes(const Comm& comm, std::span<const std::int32_t> labels, std::int64_t k);

}  // namespace lloyd
