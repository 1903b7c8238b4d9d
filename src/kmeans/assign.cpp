#include "lloyd/kmeans/assign.hpp"

#include <algorithm>
#include <limits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef EIGEN_USE_BLAS
#include <dlfcn.h>
#endif

namespace lloyd {

namespace {

// Row scans over whole chunks of scores (Assigner::kChunk wide; padding columns hold
// +inf). With AVX-512 they compare a chunk in one instruction and read the first match from
// a bit mask; elsewhere Eigen's packet operations do the same work.
template <class T>
using ScoreChunk = typename Assigner<T>::Chunk;

struct FirstMinimum {
  Eigen::Index best;   ///< first index holding the minimum
  Eigen::Index close;  ///< entries <= threshold (the minimum included)
};

template <class T>
T row_minimum_of(const T* score, Eigen::Index padded) {
  constexpr Eigen::Index width = Assigner<T>::kChunk;
  ScoreChunk<T> lowest = ScoreChunk<T>::Map(score);
  for (Eigen::Index c = width; c < padded; c += width) lowest = lowest.min(ScoreChunk<T>::Map(score + c));
  return lowest.minCoeff();
}

template <class T>
FirstMinimum first_minimum(const T* score, Eigen::Index padded, T lowest, T threshold) {
  constexpr Eigen::Index width = Assigner<T>::kChunk;
  Eigen::Index best = -1, close = 0;
  for (Eigen::Index c = 0; c < padded; c += width) {
    const auto chunk = ScoreChunk<T>::Map(score + c);
    if (best < 0 && (chunk == lowest).any()) {
      best = c;
      while (score[best] != lowest) ++best;
    }
    close += (chunk <= threshold).count();
  }
  return {best, close};
}

#if defined(__AVX512F__)
// GCC 12 reports its own _mm512_reduce_min_* as reading an uninitialised value (a known
// false positive of the intrinsic's undefined-vector idiom).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
template <>
float row_minimum_of<float>(const float* score, Eigen::Index padded) {
  __m512 lowest = _mm512_loadu_ps(score);
  for (Eigen::Index c = 16; c < padded; c += 16) lowest = _mm512_min_ps(lowest, _mm512_loadu_ps(score + c));
  return _mm512_reduce_min_ps(lowest);
}

template <>
double row_minimum_of<double>(const double* score, Eigen::Index padded) {
  __m512d lowest = _mm512_loadu_pd(score);
  for (Eigen::Index c = 8; c < padded; c += 8) lowest = _mm512_min_pd(lowest, _mm512_loadu_pd(score + c));
  return _mm512_reduce_min_pd(lowest);
}

template <>
FirstMinimum first_minimum<float>(const float* score, Eigen::Index padded, float lowest, float threshold) {
  const __m512 low = _mm512_set1_ps(lowest), limit = _mm512_set1_ps(threshold);
  Eigen::Index best = -1, close = 0;
  for (Eigen::Index c = 0; c < padded; c += 16) {
    const __m512 chunk = _mm512_loadu_ps(score + c);
    const __mmask16 equal = _mm512_cmp_ps_mask(chunk, low, _CMP_EQ_OQ);
    if (best < 0 && equal) best = c + __builtin_ctz(equal);
    close += __builtin_popcount(_mm512_cmp_ps_mask(chunk, limit, _CMP_LE_OQ));
  }
  return {best, close};
}

template <>
FirstMinimum first_minimum<double>(const double* score, Eigen::Index padded, double lowest,
                                   double threshold) {
  const __m512d low = _mm512_set1_pd(lowest), limit = _mm512_set1_pd(threshold);
  Eigen::Index best = -1, close = 0;
  for (Eigen::Index c = 0; c < padded; c += 8) {
    const __m512d chunk = _mm512_loadu_pd(score + c);
    const __mmask8 equal = _mm512_cmp_pd_mask(chunk, low, _CMP_EQ_OQ);
    if (best < 0 && equal) best = c + __builtin_ctz(equal);
    close += __builtin_popcount(_mm512_cmp_pd_mask(chunk, limit, _CMP_LE_OQ));
  }
  return {best, close};
}
#pragma GCC diagnostic pop
#endif

}  // namespace

#ifdef EIGEN_USE_BLAS
namespace {
// Built with -DLLOYD_BLAS=ON, Eigen's products go to the system BLAS. lloyd places its own
// threads (ranks, --threads); a threaded BLAS (OpenBLAS) would start its own in every rank
// and every calling thread, so it is pinned to one thread when it offers the switch.
const bool blas_pinned_to_one_thread = [] {
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(1);
  return true;
}();
}  // namespace
#endif

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

int thread_index() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

template <class T>
T Assigner<T>::row_minimum(const T* score, Eigen::Index padded) {
  return row_minimum_of(score, padded);
}

template <class T>
typename Assigner<T>::Nearest Assigner<T>::nearest(const T* x, const T* score,
                                                   const RowMatrix<T>& centroids, T largest_norm,
                                                   T norm) {
  const Eigen::Index d = centroids.cols(), k = centroids.rows();
  const Eigen::Index padded_k = (k + kChunk - 1) / kChunk * kChunk;
  const double margin = slack(d) * (static_cast<double>(norm) + static_cast<double>(largest_norm));
  // The row's minimum (exact whatever the order), the first centre reaching it (ties:
  // lowest index) and how many centres lie within the rounding margin of it.
  const T lowest = row_minimum_of(score, padded_k);
  const T threshold = static_cast<T>(static_cast<double>(lowest) + margin);
  const auto [best_found, close] = first_minimum(score, padded_k, lowest, threshold);
  Eigen::Index best = best_found;
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
  return {static_cast<std::int32_t>(best), exact_best};
}

template <class T>
T Assigner<T>::minimum_except(T* score, Eigen::Index padded, Eigen::Index excluded) {
  const T kept = score[excluded];
  score[excluded] = std::numeric_limits<T>::infinity();
  const T lowest = row_minimum_of(score, padded);
  score[excluded] = kept;
  return lowest;
}

namespace {
// Assigner::nearest on stored scores (`padded` of them) and, when asked, the second-best score.
template <class T>
typename Assigner<T>::Nearest nearest_on_stored(const T* x, T* score, Eigen::Index padded,
                                                const RowMatrix<T>& centroids, T largest_norm, T norm,
                                                T* second) {
  const auto nearest = Assigner<T>::nearest(x, score, centroids, largest_norm, norm);
  if (second) *second = Assigner<T>::minimum_except(score, padded, nearest.centre);
  return nearest;
}

// nearest_direct with the scores stored first (any number of chunks; no AVX-512 needed).
template <class T>
typename Assigner<T>::Nearest nearest_from_stored_scores(const DirectScorer<T>& scorer, const T* x,
                                                         const RowMatrix<T>& centroids, T largest_norm,
                                                         T norm, T* second) {
  constexpr Eigen::Index kMax = Assigner<T>::kRegisterChunks * Assigner<T>::kChunk;
  alignas(64) T stored[kMax];
  std::vector<T> heap;
  const Eigen::Index padded = scorer.scaled_transpose.cols();
  T* score = padded <= kMax ? stored : (heap.resize(static_cast<std::size_t>(padded)), heap.data());
  scorer.scores(x, score);
  return nearest_on_stored(x, score, padded, centroids, largest_norm, norm, second);
}

#if defined(__AVX512F__)
// nearest_direct with `Chunks` registers of scores: the arithmetic of DirectScorer::scores
// and the decisions of Assigner::nearest, on registers.
template <class T, int Chunks>
typename Assigner<T>::Nearest nearest_in_registers(const DirectScorer<T>& scorer, const T* x,
                                                   const RowMatrix<T>& centroids, T largest_norm,
                                                   T norm, T* second) {
  using Ops = detail::Zmm<T>;
  using Register = decltype(Ops::zero());
  constexpr Eigen::Index W = DirectScorer<T>::kWidth;
  constexpr Eigen::Index columns = Chunks * W;
  const Eigen::Index d = scorer.scaled_transpose.rows();
  Register score[Chunks];
  for (int c = 0; c < Chunks; ++c) score[c] = scorer.chunk_scores(x, c * W);
  Register lowest_lanes = score[0];
  for (int c = 1; c < Chunks; ++c) lowest_lanes = Ops::min(lowest_lanes, score[c]);
  const T lowest = Ops::reduce_min(lowest_lanes);
  const double margin =
      Assigner<T>::slack(d) * (static_cast<double>(norm) + static_cast<double>(largest_norm));
  const T threshold = static_cast<T>(static_cast<double>(lowest) + margin);
  Eigen::Index best = -1;
  int close = 0;
  for (int c = 0; c < Chunks; ++c) {
    const auto equal = Ops::equal(score[c], lowest);
    if (best < 0 && equal) best = c * W + __builtin_ctz(equal);
    close += __builtin_popcount(Ops::at_most(score[c], threshold));
  }
  if (close > 1) {
    // Centres the GEMM form cannot tell apart: Assigner::nearest decides, on stored scores.
    alignas(64) T stored[columns];
    for (int c = 0; c < Chunks; ++c) Ops::store(stored + c * W, score[c]);
    return nearest_on_stored(x, stored, columns, centroids, largest_norm, norm, second);
  }
  if (second) {
    const int chunk = static_cast<int>(best / W);
    Register others = Ops::mask_infinity(score[chunk], static_cast<int>(best % W));
    for (int c = 0; c < Chunks; ++c)
      if (c != chunk) others = Ops::min(others, score[c]);
    *second = Ops::reduce_min(others);
  }
  return {static_cast<std::int32_t>(best), squared_distance(x, centroids.row(best).data(), d)};
}
#endif
}  // namespace

template <class T>
typename Assigner<T>::Nearest Assigner<T>::nearest_direct(const DirectScorer<T>& scorer, const T* x,
                                                          const RowMatrix<T>& centroids, T largest_norm,
                                                          T norm, T* second) {
#if defined(__AVX512F__)
  switch (scorer.scaled_transpose.cols() / kChunk) {
    case 1: return nearest_in_registers<T, 1>(scorer, x, centroids, largest_norm, norm, second);
    case 2: return nearest_in_registers<T, 2>(scorer, x, centroids, largest_norm, norm, second);
    case 3: return nearest_in_registers<T, 3>(scorer, x, centroids, largest_norm, norm, second);
    case 4: return nearest_in_registers<T, 4>(scorer, x, centroids, largest_norm, norm, second);
    default: break;
  }
#endif
  return nearest_from_stored_scores(scorer, x, centroids, largest_norm, norm, second);
}

template <class T>
void Assigner<T>::assign(const DenseShard<T>& shard, const RowMatrix<T>& centroids,
                         std::span<std::int32_t> labels, std::span<double> distances,
                         ClusterSums* sums, const FixedPoint* fixed) {
  const Eigen::Index d = shard.features(), k = centroids.rows();
  const Eigen::Index padded_k = (k + kChunk - 1) / kChunk * kChunk;
  // Small d: scores computed directly, row by row. Otherwise a product: with AVX-512 lloyd's
  // own register-blocked tiles (ScoreTiles; measured 215 against Eigen's 171 GFLOP/s per
  // core at d = k = 256), elsewhere Eigen's product over aligned blocks (BlockDistances).
  const bool direct = d <= DirectScorer<T>::kMaxFeatures;
#if defined(__AVX512F__)
  const bool tiled = !direct;
#else
  const bool tiled = false;
#endif
  const int thread_count = threads();
  distances_.set_centres(centroids);
  const T largest_norm = distances_.largest_centre_norm();
  const auto& centre_norms = distances_.centre_norms();
  if (direct) direct_.set(centroids, centre_norms);
  if (tiled) tiles_.set(centroids, centre_norms);
  while (static_cast<int>(threads_.size()) < thread_count) {
    ThreadSpace space{{}, {}, {}, Eigen::Matrix<T, 1, Eigen::Dynamic>::Constant(padded_k, std::numeric_limits<T>::infinity()),
                      ClusterSums(k, d)};
    if (!direct && !tiled) space.products = distances_.workspace(k);
    threads_.push_back(std::move(space));
  }
  const Eigen::Index blocks = distances_.block_count(shard);
  const T* norms = normed_ == &shard ? row_norms_.data() : nullptr;
  constexpr int kTileRows = ScoreTiles<T>::kRows;

#ifdef _OPENMP
#pragma omp parallel num_threads(thread_count)
#endif
  {
    ThreadSpace& space = threads_[static_cast<std::size_t>(thread_index())];
    space.sums.reset();
    if (tiled) {
      space.tile = tiles_.workspace();
      space.tile_scores.resize(static_cast<std::size_t>(kTileRows * tiles_.padded_centres()));
    }
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (Eigen::Index b = 0; b < blocks; ++b) {
      // The score of centre c is ‖c‖² − 2x·c, the GEMM-form distance without the row's own
      // constant ‖x‖², so the same argmin.
      const auto rows = direct || tiled ? distances_.block(shard, b, space.products)
                                        : distances_.compute(shard, centroids, b, space.products);
      for (Eigen::Index q = 0; q < rows.count; ++q) {
        const Eigen::Index i = rows.first + q;
        const T* x = shard.row(i);
        const T norm = norms ? norms[i] : squared_norm(x, d);
        const T* score = space.scores.data();
        if (tiled) {
          if (q % kTileRows == 0) {
            const T* tile_rows[kTileRows];
            const int count = static_cast<int>(std::min<Eigen::Index>(kTileRows, rows.count - q));
            for (int r = 0; r < count; ++r) tile_rows[r] = shard.row(i + r);
            tiles_.compute(tile_rows, count, space.tile_scores.data(), tiles_.padded_centres(), space.tile);
          }
          score = space.tile_scores.data() + (q % kTileRows) * tiles_.padded_centres();
        } else if (!direct) {
          space.scores.leftCols(k) =
              (-2 * space.products.products.row(space.products.offset + q).array() + centre_norms.transpose().array())
                  .matrix();
        }
        const auto [best, exact_best] =
            direct ? nearest_direct(direct_, x, centroids, largest_norm, norm)
                   : nearest(x, score, centroids, largest_norm, norm);
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

template <class T>
void Assigner<T>::remember_norms(const DenseShard<T>& shard) {
  row_norms_ = row_norms(shard);
  normed_ = &shard;
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
