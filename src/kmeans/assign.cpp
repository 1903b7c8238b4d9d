#include "lloyd/kmeans/assign.hpp"

#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef EIGEN_USE_BLAS
#include <dlfcn.h>
#endif

namespace lloyd {

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
// ranks (OpenMP's own default is every CPU of the process). Per calling thread: two fits run at
// once from two Python threads with different n_threads, and a count changed by the other
// between sizing per-thread buffers and opening the parallel region would index past them.
thread_local int configured_threads = 1;
}  // namespace

void set_threads(int threads) { configured_threads = std::max(threads, 1); }

int apply_thread_count(const Comm& comm, int requested, const std::string& name) {
  // Every rank splits, whatever it was given: the ranks may not all see the same environment.
  const int ranks_on_node = comm.ranks_on_node();
  int threads = std::max(requested, 0);
  std::string source = name + " ";
  if (threads == 0) {
    if (const char* env = std::getenv("OMP_NUM_THREADS"); env && std::atoi(env) > 0) {
      threads = std::atoi(env);
      source = "OMP_NUM_THREADS=";
    } else {
      cpu_set_t cpus;
      CPU_ZERO(&cpus);
      const int available = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
      threads = std::max(1, available / ranks_on_node);
    }
  }
  // Threads per rank beyond this many per CPU of the node are refused: they cannot run at once,
  // and the OpenMP runtime dies of them (SIGSEGV at --threads 100000).
  constexpr long kThreadsPerCpu = 4;
  const long cpus = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  std::optional<std::string> problem;
  if (threads > kThreadsPerCpu * cpus)
    problem = "lloyd: " + source + std::to_string(threads) + " is more than " + std::to_string(kThreadsPerCpu) +
              " x the " + std::to_string(cpus) + " CPUs of the node (at most " +
              std::to_string(kThreadsPerCpu * cpus) + " threads per rank)";
  comm.agree(problem);  // nodes may differ in CPUs: every rank stops if one must
  set_threads(threads);
  return threads;
}

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
  return simd::kernels<T>().row_minimum(score, padded);
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
  const auto& kernels = simd::kernels<T>();
  const T lowest = kernels.row_minimum(score, padded_k);
  const T threshold = static_cast<T>(static_cast<double>(lowest) + margin);
  const auto [best_found, close] = kernels.first_minimum(score, padded_k, lowest, threshold);
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
  if (excluded < 0 || excluded >= padded) return row_minimum(score, padded);  // nothing to mask
  const T kept = score[excluded];
  score[excluded] = std::numeric_limits<T>::infinity();
  const T lowest = row_minimum(score, padded);
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

}  // namespace

template <class T>
void Assigner<T>::nearest_direct_rows(const DirectScorer<T>& scorer, const T* base, const std::int32_t* offset,
                                      int count, const RowMatrix<T>& centroids, T largest_norm, const T* norms,
                                      Nearest* nearest, T* second) {
  const Eigen::Index d = scorer.scaled_transpose.rows();
  const auto group_nearest = simd::kernels<T>().direct_group_nearest;
  if (!group_nearest) {  // a level without the grouped kernel: the same bits, row by row
    for (int r = 0; r < count; ++r)
      nearest[r] = nearest_from_stored_scores(scorer, base + offset[r], centroids, largest_norm, norms[r],
                                              second ? second + r : nullptr);
    return;
  }
  static_assert(DirectScorer<T>::kMaxFeatures <= simd::kDirectGroupMaxFeatures);
  constexpr int W = DirectScorer<T>::kWidth;
  alignas(64) T group_second[W];
  alignas(64) std::int32_t group_best[W];
  alignas(64) double group_distance[W];
  // The rows whose best centre lies within the rounding margin of another (the margin fused
  // into its addition, as the -march=native build always did): computed in the kernel, in
  // registers (measured on P2: the scalar test, a std::fma library call per row at baseline
  // x86-64, made the assignment ~30% slower than the -march=native build).
  const std::uint32_t ambiguous =
      group_nearest(scorer.scaled_transpose.data(), scorer.norms.data(), scorer.transpose.data(),
                    scorer.scaled_transpose.cols(), scorer.centres, d, base, offset, count, norms, largest_norm,
                    slack(d), group_second, group_best, group_distance);
  for (int r = 0; r < count; ++r) {
    if (ambiguous >> r & 1u) {
      // Another centre within the rounding margin: Assigner::nearest decides, on stored scores.
      nearest[r] = nearest_from_stored_scores(scorer, base + offset[r], centroids, largest_norm, norms[r],
                                              second ? second + r : nullptr);
      continue;
    }
    nearest[r] = {group_best[r], group_distance[r]};
    if (second) second[r] = group_second[r];
  }
}

template <class T>
void Assigner<T>::distances_direct(const DirectScorer<T>& scorer, const T* base, const std::int32_t* offset,
                                   int count, const std::int32_t* centre, double* distance) {
  const Eigen::Index d = scorer.scaled_transpose.rows();
  if (const auto group_distances = simd::kernels<T>().direct_group_distances) {
    group_distances(scorer.transpose.data(), scorer.transpose.cols(), d, base, offset, count, centre, distance);
    return;
  }
  // A level without the grouped kernel: the same bits, row by row.
  T coordinates[DirectScorer<T>::kMaxFeatures];  // the centre as a row (d ≤ kMaxFeatures here)
  for (int r = 0; r < count; ++r) {
    for (Eigen::Index j = 0; j < d; ++j) coordinates[j] = scorer.transpose(j, centre[r]);
    distance[r] = squared_distance(base + offset[r], coordinates, d);
  }
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
    ThreadSpace space{{}, {}, Eigen::Matrix<T, 1, Eigen::Dynamic>::Constant(padded_k, std::numeric_limits<T>::infinity()),
                      ClusterSums(k, d)};
    threads_.push_back(std::move(space));
  }
  const Eigen::Index blocks = distances_.block_count(shard);
  constexpr int kTileRows = ScoreTiles<T>::kRows;
  constexpr int kPrefetchTiles = 2;

#ifdef _OPENMP
#pragma omp parallel num_threads(thread_count)
#endif
  {
    ThreadSpace& space = threads_[static_cast<std::size_t>(thread_index())];
    if (sums) space.sums.reset(*fixed);  // laid out for `fixed` (weighted when it carries a weight grid)
    // Rows [first, first + count) of the shard into the sums of clusters centre[0 .. count):
    // in one kernel call, or weighted row by row (ClusterSums::add_weighted: exact, so the
    // same sums as add_weighted_rows after the assignment, in the same pass over the rows).
    auto add_to_sums = [&](const std::int32_t* centre, Eigen::Index first, int count) {
      if (!space.sums.weighted()) return space.sums.add_rows(centre, shard.row(first), count, *fixed);
      for (int r = 0; r < count; ++r)
        space.sums.add_weighted(centre[r], shard.row(first + r), shard.weight(first + r), *fixed);
    };
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
      const auto rows = distances_.block(shard, b);
      if (tiled) {
        // A tile at a time: its scores, then the rows one centre clearly wins decided in the
        // kernel (the scores still in L1), labels and distances written in place; the others
        // by Assigner::nearest on the stored scores.
        for (Eigen::Index q = 0; q < rows.count; q += kTileRows) {
          const Eigen::Index i = rows.first + q;
          const int count = static_cast<int>(std::min<Eigen::Index>(kTileRows, rows.count - q));
          const T* tile_rows[kTileRows];
          for (int r = 0; r < count; ++r) tile_rows[r] = shard.row(i + r);
          // The rows a few tiles ahead (the next block's too: the shard's rows are contiguous),
          // while this one is computed.
          if (const Eigen::Index ahead = i + kPrefetchTiles * kTileRows; ahead + kTileRows <= shard.local_rows())
            prefetch(shard.row(ahead), static_cast<std::size_t>(kTileRows * d) * sizeof(T));
          tiles_.compute(tile_rows, count, space.tile_scores.data(), tiles_.padded_centres(), space.tile);
          std::int32_t* tile_labels = labels.data() + i;
          double* tile_distances = distances.data() + i;
          std::uint32_t undecided = tiles_.decide(space.tile_scores.data(), tiles_.padded_centres(), k, tile_rows,
                                                  slack(d), largest_norm, count, tile_labels, tile_distances);
          while (undecided) {
            const int r = __builtin_ctz(undecided);
            undecided &= undecided - 1;
            const T* score = space.tile_scores.data() + r * tiles_.padded_centres();
            const Nearest found = nearest(tile_rows[r], score, centroids, largest_norm, squared_norm(tile_rows[r], d));
            tile_labels[r] = found.centre;
            tile_distances[r] = found.distance;
          }
          if (sums) add_to_sums(tile_labels, i, count);
        }
        continue;
      }
      constexpr int kGroup = kDirectRows;
      Nearest group[kGroup];  // the decisions of a group of consecutive rows
      for (Eigen::Index q = 0; q < rows.count; ++q) {
        const Eigen::Index i = rows.first + q;
        const T* x = shard.row(i);
        if (q % kGroup == 0) {
          const int count = static_cast<int>(std::min<Eigen::Index>(kGroup, rows.count - q));
          std::int32_t offset[kGroup];
          T group_norms[kGroup];
          for (int r = 0; r < count; ++r) {
            offset[r] = static_cast<std::int32_t>(r * d);
            group_norms[r] = squared_norm(x + r * d, d);
          }
          nearest_direct_rows(direct_, x, offset, count, centroids, largest_norm, group_norms, group);
          if (sums) {  // the group's sums in one kernel call (a call per row cost 7% at d = 8)
            std::int32_t centre[kGroup];
            for (int r = 0; r < count; ++r) centre[r] = group[r].centre;
            add_to_sums(centre, i, count);
          }
        }
        const Nearest& found = group[q % kGroup];
        labels[static_cast<std::size_t>(i)] = found.centre;
        distances[static_cast<std::size_t>(i)] = found.distance;
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
  if (weighted()) comm.allreduce_sum(std::span<Int128>(weight_sums_));
  std::vector<std::int64_t> message(counts_);
  message.insert(message.end(), extra.begin(), extra.end());
  comm.allreduce(std::span<std::int64_t>(message), MPI_SUM);
  std::copy_n(message.begin(), counts_.size(), counts_.begin());
  std::copy(message.begin() + static_cast<std::ptrdiff_t>(counts_.size()), message.end(),
            extra.begin());
}

}  // namespace lloyd
