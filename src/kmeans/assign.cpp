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
  const Eigen::Index padded_k = (k + kChunk - 1) / kChunk * kChunk;
  if (scores_.cols() != padded_k) {
    scores_.setConstant(BlockDistances<T>::kBlockRows, padded_k, std::numeric_limits<T>::infinity());
  }

  distances_.for_each_block(shard, centroids, [&](Eigen::Index first, Eigen::Index count,
                                                  const RowMatrix<T>& dots) {
    // Whole-block array arithmetic (vectorised): the score of centre c is ‖c‖² − 2x·c, the
    // GEMM-form distance without the row's own constant ‖x‖², so the same argmin.
    const Eigen::Index offset = distances_.products_offset();
    scores_.leftCols(k) =
        ((-2 * dots.array()).rowwise() + distances_.centre_norms().transpose().array()).matrix();
    for (Eigen::Index q = 0; q < count; ++q) {
      const Eigen::Index i = first + q, r = offset + q;
      const T* x = shard.row(i);
      const T* score = scores_.row(r).data();
      const double margin = slack * (static_cast<double>(squared_norm(x, d)) +
                                     static_cast<double>(distances_.largest_centre_norm()));
      // The row's minimum (exact whatever the order), then the first centre reaching it
      // (ties: lowest index), in whole SIMD-width chunks; the padding columns hold +inf.
      Chunk lowest_chunk = Chunk::Map(score);
      for (Eigen::Index c = kChunk; c < padded_k; c += kChunk)
        lowest_chunk = lowest_chunk.min(Chunk::Map(score + c));
      const T lowest = lowest_chunk.minCoeff();
      const T threshold = static_cast<T>(static_cast<double>(lowest) + margin);
      Eigen::Index best = 0, close = 0;
      for (Eigen::Index c = 0; c < padded_k; c += kChunk) {
        const auto chunk = Chunk::Map(score + c);
        if (close == 0 && (chunk == lowest).any()) {
          best = c;
          while (score[best] != lowest) ++best;
        }
        close += (chunk <= threshold).count();
      }
      double exact_best = squared_distance(x, centroids.row(best).data(), d);
      if (close > 1) {
        // Centres the GEMM form cannot tell apart: decide by the direct distance.
        for (Eigen::Index c = 0; c < k; ++c) {
          if (c == best || score[c] > threshold) continue;
          const double exact = squared_distance(x, centroids.row(c).data(), d);
          if (exact < exact_best || (exact == exact_best && c < best)) {
            exact_best = exact;
            best = c;
          }
        }
      }
      labels[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(best);
      distances[static_cast<std::size_t>(i)] = exact_best;
      if (sums) sums->add(static_cast<std::int32_t>(best), x, *fixed);
    }
  });
}

template class Assigner<float>;
template class Assigner<double>;

void ClusterSums::allreduce(const Comm& comm, std::span<std::int64_t> extra) {
  flush();
  comm.allreduce_sum(std::span<Int128>(sums_));
  std::vector<std::int64_t> message(counts_);
  message.insert(message.end(), extra.begin(), extra.end());
  comm.allreduce(std::span<std::int64_t>(message), MPI_SUM);
  std::copy_n(message.begin(), counts_.size(), counts_.begin());
  std::copy(message.begin() + static_cast<std::ptrdiff_t>(counts_.size()), message.end(),
            extra.begin());
}

}  // namespace lloyd
