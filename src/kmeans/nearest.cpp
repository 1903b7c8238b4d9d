#include "lloyd/kmeans/nearest.hpp"

#include <algorithm>
#include <limits>

#include "lloyd/core/exact_sum.hpp"
#include "lloyd/kmeans/assign.hpp"

namespace lloyd {

namespace {

// Rows [first, first + count) of the shard: each one's nearest centre and its distance
// (labels[i], distances[i] for row first + i).
template <class T>
void assign_rows(const DenseShard<T>& shard, const RowMatrix<T>& centres, Distance distance, Eigen::Index first,
                 Eigen::Index count, std::int32_t* labels, double* distances) {
  const Eigen::Index d = shard.features();
#pragma omp parallel for schedule(static) num_threads(threads())
  for (Eigen::Index i = 0; i < count; ++i) {
    double best = std::numeric_limits<double>::infinity();
    std::int32_t label = 0;
    for (Eigen::Index c = 0; c < centres.rows(); ++c) {
      const double value = row_distance(distance, shard.row(first + i), centres.row(c).data(), d);
      if (value < best) {
        best = value;
        label = static_cast<std::int32_t>(c);
      }
    }
    labels[i] = label;
    distances[i] = best;
  }
}

}  // namespace

template <class T>
void assign_nearest(const DenseShard<T>& shard, const RowMatrix<T>& centres, Distance distance,
                    std::span<std::int32_t> labels, std::span<double> distances) {
  assign_rows(shard, centres, distance, 0, shard.local_rows(), labels.data(), distances.data());
}

template <class T>
double predict_nearest(const Comm& comm, const DenseShard<T>& shard, const RowMatrix<T>& centres,
                       Distance distance, std::vector<std::int32_t>& labels) {
  // The distances of one piece at a time: the labels are all that is kept per row, and the
  // exact sum is the same in any pieces.
  constexpr Eigen::Index kPiece = kPassPieceRows;
  const Eigen::Index n = shard.local_rows();
  labels.assign(static_cast<std::size_t>(n), 0);
  std::vector<double> distances(static_cast<std::size_t>(std::min(n, kPiece)));
  const std::span<const double> weights(shard.weights);
  ExactSum sum;
  for (Eigen::Index first = 0; first < n; first += kPiece) {
    const Eigen::Index count = std::min(kPiece, n - first);
    assign_rows(shard, centres, distance, first, count, labels.data() + first, distances.data());
    const std::span<const double> values(distances.data(), static_cast<std::size_t>(count));
    if (weights.empty()) sum.add(values);
    else sum.add(values, weights.subspan(static_cast<std::size_t>(first), static_cast<std::size_t>(count)));
  }
  sum.allreduce(comm);
  return sum.value();
}

#define LLOYD_INSTANTIATE_NEAREST(T)                                                          \
  template void assign_nearest(const DenseShard<T>&, const RowMatrix<T>&, Distance,          \
                               std::span<std::int32_t>, std::span<double>);                  \
  template double predict_nearest(const Comm&, const DenseShard<T>&, const RowMatrix<T>&,    \
                                  Distance, std::vector<std::int32_t>&);
LLOYD_INSTANTIATE_NEAREST(float)
LLOYD_INSTANTIATE_NEAREST(double)

}  // namespace lloyd
