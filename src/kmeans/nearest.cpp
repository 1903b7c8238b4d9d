#include "lloyd/kmeans/nearest.hpp"

#include <limits>

#include "lloyd/core/exact_sum.hpp"
#include "lloyd/kmeans/assign.hpp"

namespace lloyd {

template <class T>
void assign_nearest(const DenseShard<T>& shard, const RowMatrix<T>& centres, Distance distance,
                    std::span<std::int32_t> labels, std::span<double> distances) {
  const Eigen::Index d = shard.features();
#pragma omp parallel for schedule(static) num_threads(threads())
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
    double best = std::numeric_limits<double>::infinity();
    std::int32_t label = 0;
    for (Eigen::Index c = 0; c < centres.rows(); ++c) {
      const double value = row_distance(distance, shard.row(i), centres.row(c).data(), d);
      if (value < best) {
        best = value;
        label = static_cast<std::int32_t>(c);
      }
    }
    labels[static_cast<std::size_t>(i)] = label;
    distances[static_cast<std::size_t>(i)] = best;
  }
}

template <class T>
double predict_nearest(const Comm& comm, const DenseShard<T>& shard, const RowMatrix<T>& centres,
                       Distance distance, std::vector<std::int32_t>& labels) {
  labels.assign(static_cast<std::size_t>(shard.local_rows()), 0);
  std::vector<double> distances(labels.size());
  assign_nearest(shard, centres, distance, labels, distances);
  return exact_total(comm, distances, shard.weights);
}

#define LLOYD_INSTANTIATE_NEAREST(T)                                                          \
  template void assign_nearest(const DenseShard<T>&, const RowMatrix<T>&, Distance,          \
                               std::span<std::int32_t>, std::span<double>);                  \
  template double predict_nearest(const Comm&, const DenseShard<T>&, const RowMatrix<T>&,    \
                                  Distance, std::vector<std::int32_t>&);
LLOYD_INSTANTIATE_NEAREST(float)
LLOYD_INSTANTIATE_NEAREST(double)

}  // namespace lloyd
