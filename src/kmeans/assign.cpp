#include "lloyd/kmeans/assign.hpp"

#include <algorithm>
#include <limits>

namespace lloyd {

template <class T>
void Assigner<T>::assign(const DenseShard<T>& shard, const RowMatrix<T>& centroids,
                         std::span<std::int32_t> labels, std::span<double> distances,
                         ClusterSums* sums, const FixedPoint* fixed) {
  const Eigen::Index d = shard.features(), k = centroids.rows();
  // Rounding error bound of the GEMM-form distance, relative to ‖x‖² + max‖c‖², with room
  // for both of the two distances being compared.
  const double slack = 4.0 * static_cast<double>(d + 2) * std::numeric_limits<T>::epsilon();

  distances_.for_each_row(shard, centroids, [&](Eigen::Index i, T row_norm, const T* gemm) {
    const T* x = shard.row(i);
    Eigen::Index best = 0;
    for (Eigen::Index c = 1; c < k; ++c)
      if (gemm[c] < gemm[best]) best = c;
    double exact_best = squared_distance(x, centroids.row(best).data(), d);
    const double margin = slack * (static_cast<double>(row_norm) +
                                   static_cast<double>(distances_.largest_centre_norm()));
    for (Eigen::Index c = 0; c < k; ++c) {
      if (c == best || static_cast<double>(gemm[c]) - static_cast<double>(gemm[best]) > margin)
        continue;
      const double exact = squared_distance(x, centroids.row(c).data(), d);
      if (exact < exact_best || (exact == exact_best && c < best)) {
        exact_best = exact;
        best = c;
      }
    }
    labels[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(best);
    distances[static_cast<std::size_t>(i)] = exact_best;
    if (sums) sums->add(static_cast<std::int32_t>(best), x, *fixed);
  });
}

template class Assigner<float>;
template class Assigner<double>;

void ClusterSums::allreduce(const Comm& comm, std::span<std::int64_t> extra) {
  comm.allreduce_sum(std::span<Int128>(sums_));
  std::vector<std::int64_t> message(counts_);
  message.insert(message.end(), extra.begin(), extra.end());
  comm.allreduce(std::span<std::int64_t>(message), MPI_SUM);
  std::copy_n(message.begin(), counts_.size(), counts_.begin());
  std::copy(message.begin() + static_cast<std::ptrdiff_t>(counts_.size()), message.end(),
            extra.begin());
}

}  // namespace lloyd
