#include "lloyd/kmeans/assign.hpp"

#include <algorithm>
#include <limits>

namespace lloyd {

template <class T>
Assigner<T>::Assigner(Eigen::Index features, Eigen::Index clusters)
    : block_(RowMatrix<T>::Zero(kBlockRows, features)), dots_(kBlockRows, clusters),
      centre_norms_(clusters) {}

template <class T>
void Assigner<T>::assign(const DenseShard<T>& shard, const RowMatrix<T>& centroids,
                         std::span<std::int32_t> labels, std::span<double> distances,
                         ClusterSums* sums, const FixedPoint* fixed) {
  const Eigen::Index d = shard.features(), k = centroids.rows();
  T largest_norm = 0;
  for (Eigen::Index c = 0; c < k; ++c) {
    T norm = 0;
    for (Eigen::Index j = 0; j < d; ++j) norm += centroids(c, j) * centroids(c, j);
    centre_norms_(c) = norm;
    largest_norm = std::max(largest_norm, norm);
  }
  // Rounding error bound of the GEMM-form distance, relative to ‖x‖² + max‖c‖², with room
  // for both of the two distances being compared.
  const double slack = 4.0 * static_cast<double>(d + 2) * std::numeric_limits<T>::epsilon();

  const std::uint64_t first = shard.first_row, end = first + shard.local_rows();
  const std::uint64_t B = static_cast<std::uint64_t>(kBlockRows);
  for (std::uint64_t block_start = first / B * B; block_start < end; block_start += B) {
    const std::uint64_t lo = std::max(block_start, first), hi = std::min(block_start + B, end);
    for (std::uint64_t g = lo; g < hi; ++g)
      std::copy_n(shard.row(static_cast<Eigen::Index>(g - first)), d,
                  block_.data() + (g - block_start) * d);
    dots_.noalias() = block_ * centroids.transpose();

    for (std::uint64_t g = lo; g < hi; ++g) {
      const auto r = static_cast<Eigen::Index>(g - block_start);
      const auto i = static_cast<Eigen::Index>(g - first);
      const T* x = shard.row(i);
      T row_norm = 0;
      for (Eigen::Index j = 0; j < d; ++j) row_norm += x[j] * x[j];
      Eigen::Index best = 0;
      T best_distance = std::numeric_limits<T>::infinity();
      for (Eigen::Index c = 0; c < k; ++c) {
        const T distance = row_norm - 2 * dots_(r, c) + centre_norms_(c);
        if (distance < best_distance) {
          best_distance = distance;
          best = c;
        }
      }
      double exact_best = squared_distance(x, centroids.row(best).data(), d);
      const double margin =
          slack * (static_cast<double>(row_norm) + static_cast<double>(largest_norm));
      for (Eigen::Index c = 0; c < k; ++c) {
        if (c == best) continue;
        const T distance = row_norm - 2 * dots_(r, c) + centre_norms_(c);
        if (static_cast<double>(distance) - static_cast<double>(best_distance) > margin) continue;
        const double exact = squared_distance(x, centroids.row(c).data(), d);
        if (exact < exact_best || (exact == exact_best && c < best)) {
          exact_best = exact;
          best = c;
        }
      }
      labels[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(best);
      distances[static_cast<std::size_t>(i)] = exact_best;
      if (sums) sums->add(static_cast<std::int32_t>(best), x, *fixed);
    }
  }
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
