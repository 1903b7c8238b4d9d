#include "lloyd/kmeans/assign.hpp"

#include <algorithm>
#include <limits>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace lloyd {

namespace {
// One thread unless asked: a library must not spread over cores its caller gave to other
// ranks (OpenMP's own default is every CPU of the process).
int configured_threads = 1;
}  // namespace

void set_threads(int threads) { configured_threads = std::max(threads, 1); }

int threads() {
#ifdef _OPENMP
  return configured_threads;
#else
  return 1;
#endif
}

template <class T>
void Assigner<T>::assign(const DenseShard<T>& shard, const RowMatrix<T>& centroids,
                         std::span<std::int32_t> labels, std::span<double> distances,
                         ClusterSums* sums, const FixedPoint* fixed) {
  const Eigen::Index d = shard.features(), k = centroids.rows();
  // Rounding error bound of the GEMM-form distance, relative to ‖x‖² + max‖c‖², with room
  // for both of the two distances being compared.
  const double slack = 4.0 * static_cast<double>(d + 2) * std::numeric_limits<T>::epsilon();
  const Eigen::Index padded_k = (k + kChunk - 1) / kChunk * kChunk;
  const int thread_count = threads();
  while (static_cast<int>(threads_.size()) < thread_count) {
    threads_.push_back({distances_.workspace(k),
                        RowMatrix<T>::Constant(BlockDistances<T>::kBlockRows, padded_k,
                                               std::numeric_limits<T>::infinity()),
                        ClusterSums(k, d)});
  }
  distances_.set_centres(centroids);
  const T largest_norm = distances_.largest_centre_norm();
  const auto& centre_norms = distances_.centre_norms();
  const Eigen::Index blocks = BlockDistances<T>::block_count(shard);

#ifdef _OPENMP
#pragma omp parallel num_threads(thread_count)
#endif
  {
#ifdef _OPENMP
    ThreadSpace& space = threads_[static_cast<std::size_t>(omp_get_thread_num())];
#else
    ThreadSpace& space = threads_[0];
#endif
    space.sums.reset();
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (Eigen::Index b = 0; b < blocks; ++b) {
      const auto rows = distances_.compute(shard, centroids, b, space.products);
      // Whole-block array arithmetic (vectorised): the score of centre c is ‖c‖² − 2x·c, the
      // GEMM-form distance without the row's own constant ‖x‖², so the same argmin.
      space.scores.leftCols(k) =
          ((-2 * space.products.products.array()).rowwise() + centre_norms.transpose().array())
              .matrix();
      for (Eigen::Index q = 0; q < rows.count; ++q) {
        const Eigen::Index i = rows.first + q;
        const T* x = shard.row(i);
        const T* score = space.scores.row(space.products.offset + q).data();
        const double margin = slack * (static_cast<double>(squared_norm(x, d)) +
                                       static_cast<double>(largest_norm));
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
        if (sums) space.sums.add(static_cast<std::int32_t>(best), x, *fixed);
      }
    }
  }
  // Integer sums: merging the threads' parts in any order gives the same bits.
  if (sums)
    for (int t = 0; t < thread_count; ++t) sums->merge(threads_[static_cast<std::size_t>(t)].sums);
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
