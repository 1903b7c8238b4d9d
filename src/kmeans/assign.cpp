#include "lloyd/kmeans/assign.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

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
  // No centre's score equals the minimum when scores are NaN (then the minimum may be NaN or
  // a padding column's +inf). The values lloyd reads cannot produce that (value_range.hpp),
  // but whatever reaches this kernel, no index outside the centres is ever used: then
  // squared_distance alone decides.
  if (best_found < 0 || best_found >= k) return nearest_by_distance(x, centroids);
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
typename Assigner<T>::Nearest Assigner<T>::nearest_by_distance(const T* x, const RowMatrix<T>& centroids) {
  const Eigen::Index d = centroids.cols();
  Nearest nearest{0, squared_distance(x, centroids.row(0).data(), d)};
  for (Eigen::Index c = 1; c < centroids.rows(); ++c) {
    const double exact = squared_distance(x, centroids.row(c).data(), d);
    // NaN-aware: a number beats NaN; otherwise strictly smaller (ties: the lower index).
    if (exact < nearest.distance || (std::isnan(nearest.distance) && !std::isnan(exact)))
      nearest = {static_cast<std::int32_t>(c), exact};
  }
  return nearest;
}

template <class T>
T Assigner<T>::minimum_except(T* score, Eigen::Index padded, Eigen::Index excluded) {
  if (excluded < 0 || excluded >= padded) return row_minimum_of(score, padded);  // nothing to mask
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
  constexpr Eigen::Index kMax = 4 * Assigner<T>::kChunk;  // scores on the stack up to this many centres
  alignas(64) T stored[kMax];
  std::vector<T> heap;
  const Eigen::Index padded = scorer.scaled_transpose.cols();
  T* score = padded <= kMax ? stored : (heap.resize(static_cast<std::size_t>(padded)), heap.data());
  scorer.scores(x, score);
  return nearest_on_stored(x, score, padded, centroids, largest_norm, norm, second);
}

#if defined(__AVX512F__)
// GCC 12 reports the unpack/shuffle intrinsics as reading an uninitialised value: the same
// false positive of their undefined-vector idiom as for _mm512_reduce_min_*.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// The D features of up to kWidth rows (row r at base + offset[r]), one row per register
// lane: x[j] holds feature j of every row. Floats are transposed in registers (gathers
// measured 7x slower here); doubles through a small buffer.
template <int D>
void rows_in_lanes(const float* base, const std::int32_t* offset, int count, __m512 (&x)[D]) {
  auto row = [&](int r) { return base + offset[r]; };
  if constexpr (D <= 8) {
    // Register m holds rows m and m + 4 (m < 4), rows 8 + m and 12 + m (m ≥ 4): the lanes
    // come out in row order.
    const auto features = static_cast<__mmask8>((1u << D) - 1);
    auto half = [&](int r) { return r < count ? _mm256_maskz_loadu_ps(features, row(r)) : _mm256_setzero_ps(); };
    __m512 pair[8], column[8];
    for (int m = 0; m < 4; ++m) {
      pair[m] = _mm512_insertf32x8(_mm512_castps256_ps512(half(m)), half(m + 4), 1);
      pair[4 + m] = _mm512_insertf32x8(_mm512_castps256_ps512(half(8 + m)), half(12 + m), 1);
    }
    detail::transpose_lanes(pair, column);
    detail::transpose_lanes(pair + 4, column + 4);
    for (int q = 0; q < 4; ++q) {
      if (q < D) x[q] = _mm512_shuffle_f32x4(column[q], column[4 + q], 0x88);
      if (q + 4 < D) x[q + 4] = _mm512_shuffle_f32x4(column[q], column[4 + q], 0xdd);
    }
  } else {
    const auto features = static_cast<__mmask16>((1u << D) - 1);
    __m512 rows[16];
    for (int r = 0; r < 16; ++r) rows[r] = r < count ? _mm512_maskz_loadu_ps(features, row(r)) : _mm512_setzero_ps();
    detail::transpose16(rows, x, D);
  }
}

template <int D>
void rows_in_lanes(const double* base, const std::int32_t* offset, int count, __m512d (&x)[D]) {
  alignas(64) double lanes[D][8] = {};
  for (int r = 0; r < count; ++r)
    for (int j = 0; j < D; ++j) lanes[j][r] = base[offset[r] + j];
  for (int j = 0; j < D; ++j) x[j] = _mm512_load_pd(lanes[j]);
}

// squared_distance of the rows in x (one per lane) to centre[lane], by its arithmetic
// (feature j into lane j mod 8, fused, then the fixed tree): the same bits as row by row. The
// centres' features are picked per lane from cᵀ, a register of centres at a time.
template <class T, int D, class Register, class Index>
void group_distances(const DirectScorer<T>& scorer, const Register (&x)[D], Index centre, double* distance) {
  using Ops = detail::Zmm<T>;
  constexpr int W = DirectScorer<T>::kWidth;
  const Eigen::Index columns = scorer.transpose.cols();
  const T* transpose = scorer.transpose.data();
  __m512d lane[Ops::kHalves][8];
  for (auto& half : lane)
    for (auto& l : half) l = _mm512_setzero_pd();
#pragma GCC unroll 16
  for (int j = 0; j < D; ++j) {
    Register coordinate = Ops::zero();
    for (Eigen::Index c = 0; c < columns; c += W)
      coordinate = Ops::pick(coordinate, Ops::index_within(centre, static_cast<int>(c)), centre,
                             Ops::load(transpose + j * columns + c));
    for (int h = 0; h < Ops::kHalves; ++h) {
      const __m512d diff = _mm512_sub_pd(Ops::half_as_doubles(x[j], h), Ops::half_as_doubles(coordinate, h));
      lane[h][j % 8] = _mm512_fmadd_pd(diff, diff, lane[h][j % 8]);
    }
  }
  for (int h = 0; h < Ops::kHalves; ++h) {
    const __m512d* l = lane[h];
    _mm512_storeu_pd(distance + 8 * h, _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(l[0], l[4]), _mm512_add_pd(l[2], l[6])),
                                                     _mm512_add_pd(_mm512_add_pd(l[1], l[5]), _mm512_add_pd(l[3], l[7]))));
  }
}

// For up to kWidth rows at once, one row per lane: each row's smallest score, the first
// centre reaching it, the smallest score of the other centres (the second smallest, counted
// with multiplicity) and the squared_distance to that centre. Every score is computed by the
// arithmetic of DirectScorer::chunk_scores (norm, then feature j into accumulator j mod 4,
// summed as (a0 + a1) + (a2 + a3)) and every distance by that of squared_distance (feature j
// into lane j mod 8, then the fixed tree): the same bits as for the row alone. D (the number
// of features) is a template argument so that the rows' features stay in registers.
template <class T>
struct GroupNearest {
  static constexpr int kWidth = DirectScorer<T>::kWidth;
  alignas(64) T lowest[kWidth];
  alignas(64) T second[kWidth];
  alignas(64) std::int32_t best[kWidth];
  alignas(64) double distance[kWidth];
};

template <class T, int D>
void group_nearest(const DirectScorer<T>& scorer, const T* base, const std::int32_t* offset, int count,
                   GroupNearest<T>& out) {
  using Ops = detail::Zmm<T>;
  using Register = decltype(Ops::zero());
  Register x[D];
  rows_in_lanes<D>(base, offset, count, x);
  const Eigen::Index columns = scorer.scaled_transpose.cols();
  const T* scaled = scorer.scaled_transpose.data();
  const T* norms = scorer.norms.data();
  Register lowest = Ops::broadcast(std::numeric_limits<T>::infinity()), second = lowest;
  auto best = Ops::index_zero();
  for (int c = 0; c < static_cast<int>(scorer.centres); ++c) {
    Register a[4] = {Ops::broadcast(norms[c]), Ops::zero(), Ops::zero(), Ops::zero()};
#pragma GCC unroll 16
    for (int j = 0; j < D; ++j) a[j % 4] = Ops::fma(x[j], Ops::broadcast(scaled[j * columns + c]), a[j % 4]);
    const Register score = Ops::add(Ops::add(a[0], a[1]), Ops::add(a[2], a[3]));
    best = Ops::set_index(best, Ops::less(score, lowest), c);  // strictly: ties keep the lower index
    second = Ops::min(second, Ops::max(lowest, score));
    lowest = Ops::min(lowest, score);
  }
  Ops::store(out.lowest, lowest);
  Ops::store(out.second, second);
  Ops::store_index(out.best, best);
  group_distances<T, D>(scorer, x, best, out.distance);
}

// Dispatch on the number of features (1 … kMaxFeatures) to a template instance.
template <int... D, class Call>
void with_features(std::integer_sequence<int, D...>, Eigen::Index d, Call&& call) {
  ((d == D + 1 ? call(std::integral_constant<int, D + 1>{}) : void()), ...);
}
template <class T, class Call>
void with_features(Eigen::Index d, Call&& call) {
  with_features(std::make_integer_sequence<int, DirectScorer<T>::kMaxFeatures>{}, d, std::forward<Call>(call));
}

#pragma GCC diagnostic pop
#endif
}  // namespace

template <class T>
void Assigner<T>::nearest_direct_rows(const DirectScorer<T>& scorer, const T* base, const std::int32_t* offset,
                                      int count, const RowMatrix<T>& centroids, T largest_norm, const T* norms,
                                      Nearest* nearest, T* second) {
#if defined(__AVX512F__)
  const Eigen::Index d = scorer.scaled_transpose.rows();
  GroupNearest<T> group;
  with_features<T>(d, [&](auto D) { group_nearest<T, D>(scorer, base, offset, count, group); });
  for (int r = 0; r < count; ++r) {
    // The margin fused into its addition (as the -march=native build always did).
    const T threshold = static_cast<T>(std::fma(slack(d), static_cast<double>(norms[r]) + static_cast<double>(largest_norm),
                                                static_cast<double>(group.lowest[r])));
    if (group.second[r] <= threshold) {
      // Another centre within the rounding margin: Assigner::nearest decides, on stored scores.
      nearest[r] = nearest_from_stored_scores(scorer, base + offset[r], centroids, largest_norm, norms[r],
                                              second ? second + r : nullptr);
      continue;
    }
    nearest[r] = {group.best[r], group.distance[r]};
    if (second) second[r] = group.second[r];
  }
#else
  for (int r = 0; r < count; ++r)
    nearest[r] = nearest_from_stored_scores(scorer, base + offset[r], centroids, largest_norm, norms[r],
                                            second ? second + r : nullptr);
#endif
}

template <class T>
void Assigner<T>::distances_direct(const DirectScorer<T>& scorer, const T* base, const std::int32_t* offset,
                                   int count, const std::int32_t* centre, double* distance) {
  const Eigen::Index d = scorer.scaled_transpose.rows();
#if defined(__AVX512F__)
  using Ops = detail::Zmm<T>;
  alignas(64) double lanes[DirectScorer<T>::kWidth];
  with_features<T>(d, [&](auto D) {
    decltype(Ops::zero()) x[D];
    rows_in_lanes<D>(base, offset, count, x);
    group_distances<T, D>(scorer, x, Ops::load_index(centre, Ops::first_lanes(count)), lanes);
  });
  std::copy_n(lanes, count, distance);
#else
  T coordinates[DirectScorer<T>::kMaxFeatures];  // the centre as a row (d ≤ kMaxFeatures here)
  for (int r = 0; r < count; ++r) {
    for (Eigen::Index j = 0; j < d; ++j) coordinates[j] = scorer.transpose(j, centre[r]);
    distance[r] = squared_distance(base + offset[r], coordinates, d);
  }
#endif
}

template <class T>
typename Assigner<T>::Nearest Assigner<T>::nearest_direct(const DirectScorer<T>& scorer, const T* x,
                                                          const RowMatrix<T>& centroids, T largest_norm,
                                                          T norm, T* second) {
  const std::int32_t offset = 0;
  Nearest nearest;
  nearest_direct_rows(scorer, x, &offset, 1, centroids, largest_norm, &norm, &nearest, second);
  return nearest;
}

template <class T>
void Assigner<T>::assign(const DenseShard<T>& shard, const RowMatrix<T>& centroids,
                         std::span<std::int32_t> labels, std::span<double> distances,
                         ClusterSums* sums, const FixedPoint* fixed) {
  const Eigen::Index d = shard.features(), k = centroids.rows();
  const Eigen::Index padded_k = (k + kChunk - 1) / kChunk * kChunk;
  const ScoreKernel kernel = score_kernel<T>(d);
  const bool direct = kernel == ScoreKernel::Direct, tiled = kernel == ScoreKernel::Tiles;
  const int thread_count = threads();
  distances_.set_centres(centroids);
  const T largest_norm = distances_.largest_centre_norm();
  const auto& centre_norms = distances_.centre_norms();
  if (direct) direct_.set(centroids, centre_norms);
  if (tiled) tiles_.set(centroids, centre_norms);
  while (static_cast<int>(threads_.size()) < thread_count) {
    ThreadSpace space{{}, {}, {}, Eigen::Matrix<T, 1, Eigen::Dynamic>::Constant(padded_k, std::numeric_limits<T>::infinity()),
                      ClusterSums(k, d)};
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
    if (sums) space.sums.reset(*fixed);  // laid out for `fixed`
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
      const auto rows = distances_.block(shard, b, space.products);
      constexpr int kGroup = kDirectRows;
      Nearest group[kGroup];  // direct: the decisions of a group of consecutive rows
      std::int32_t tile_centre[kTileRows];  // tiles: the tile's labels so far, for its sums
      for (Eigen::Index q = 0; q < rows.count; ++q) {
        const Eigen::Index i = rows.first + q;
        const T* x = shard.row(i);
        Nearest found;
        if (direct) {
          if (q % kGroup == 0) {
            const int count = static_cast<int>(std::min<Eigen::Index>(kGroup, rows.count - q));
            std::int32_t offset[kGroup];
            T group_norms[kGroup];
            for (int r = 0; r < count; ++r) {
              offset[r] = static_cast<std::int32_t>(r * d);
              group_norms[r] = norms ? norms[i + r] : squared_norm(x + r * d, d);
            }
            nearest_direct_rows(direct_, x, offset, count, centroids, largest_norm, group_norms, group);
            if (sums) {  // the group's sums in one kernel call (a call per row cost 7% at d = 8)
              std::int32_t centre[kGroup];
              for (int r = 0; r < count; ++r) centre[r] = group[r].centre;
              space.sums.add_rows(centre, x, count, *fixed);
            }
          }
          found = group[q % kGroup];
        } else {
          {
            if (q % kTileRows == 0) {
              const T* tile_rows[kTileRows];
              const int count = static_cast<int>(std::min<Eigen::Index>(kTileRows, rows.count - q));
              for (int r = 0; r < count; ++r) tile_rows[r] = shard.row(i + r);
              // The next tile's rows, while this one is computed (as in BoundedAssigner).
              if (q + 2 * kTileRows <= rows.count)
                prefetch(shard.row(i + kTileRows), static_cast<std::size_t>(kTileRows * d) * sizeof(T));
              tiles_.compute(tile_rows, count, space.tile_scores.data(), tiles_.padded_centres(), space.tile);
            }
          }
          const T* score = space.tile_scores.data() + (q % kTileRows) * tiles_.padded_centres();
          found = nearest(x, score, centroids, largest_norm, norms ? norms[i] : squared_norm(x, d));
          // The tile's sums in one kernel call once its last row is decided.
          const int in_tile = static_cast<int>(q % kTileRows);
          tile_centre[in_tile] = found.centre;
          if (sums && (in_tile == kTileRows - 1 || q + 1 == rows.count))
            space.sums.add_rows(tile_centre, shard.row(i - in_tile), in_tile + 1, *fixed);
        }
        labels[static_cast<std::size_t>(i)] = found.centre;
        distances[static_cast<std::size_t>(i)] = found.distance;
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
