#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <vector>
#include <string>

#include "lloyd/comm.hpp"
#include "lloyd/core/distance.hpp"
#include "lloyd/core/cluster_sums.hpp"
#include "lloyd/kmeans/score_tiles.hpp"
#include "lloyd/simd/kernels.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// The blocks of block_rows() rows, aligned to *global* row indices, that assignment shares
/// among its threads, and the norms ‖c‖² of the centres it scores them against (the
/// scores themselves come from DirectScorer or ScoreTiles, row by row: the same bits
/// whatever the block layout).
template <class T>
class BlockDistances {
 public:
  /// Rows per block: as many as keep a block of rows (or of products) near kBlockBytes,
  /// between kMinBlockRows and kMaxBlockRows (a power of two). A function of d and k only,
  /// so the same on every rank.
  static constexpr Eigen::Index kMinBlockRows = 256, kMaxBlockRows = 2048;
  static constexpr std::size_t kBlockBytes = std::size_t{2} << 20;
  static Eigen::Index rows_per_block(Eigen::Index features, Eigen::Index centres) {
    const std::size_t row_bytes = sizeof(T) * static_cast<std::size_t>(std::max<Eigen::Index>({features, centres, 1}));
    Eigen::Index rows = kMinBlockRows;
    while (rows < kMaxBlockRows && static_cast<std::size_t>(2 * rows) * row_bytes <= kBlockBytes) rows *= 2;
    return rows;
  }

  /// A block of the shard: local rows [first, first + count).
  struct Rows {
    Eigen::Index first = 0, count = 0;
  };

  BlockDistances(Eigen::Index features, Eigen::Index centres)
      : features_(features), block_rows_(rows_per_block(features, centres)), centre_norms_(centres) {}

  Eigen::Index block_rows() const { return block_rows_; }

  /// Takes the centres of the next blocks: their norms ‖c‖² (and the largest).
  void set_centres(const RowMatrix<T>& centres) {
    centre_norms_.resize(centres.rows());
    largest_norm_ = 0;
    for (Eigen::Index c = 0; c < centres.rows(); ++c) {
      centre_norms_(c) = squared_norm(centres.row(c).data(), features_);
      largest_norm_ = std::max(largest_norm_, centre_norms_(c));
    }
  }

  /// The number of aligned blocks that hold rows of the shard.
  Eigen::Index block_count(const DenseShard<T>& shard) const {
    if (shard.local_rows() == 0) return 0;
    const auto B = static_cast<std::uint64_t>(block_rows_);
    const std::uint64_t last = shard.first_row + static_cast<std::uint64_t>(shard.local_rows()) - 1;
    return static_cast<Eigen::Index>(last / B - shard.first_row / B + 1);
  }

  /// The local rows of block `index`.
  Rows block(const DenseShard<T>& shard, Eigen::Index index) const {
    const auto B = static_cast<std::uint64_t>(block_rows_);
    const std::uint64_t first = shard.first_row, end = first + shard.local_rows();
    const std::uint64_t block_start = (first / B + static_cast<std::uint64_t>(index)) * B;
    const std::uint64_t lo = std::max(block_start, first), hi = std::min(block_start + B, end);
    return {static_cast<Eigen::Index>(lo - first), static_cast<Eigen::Index>(hi - lo)};
  }

  const Eigen::Matrix<T, Eigen::Dynamic, 1>& centre_norms() const { return centre_norms_; }
  /// The largest ‖c‖² of the centres last set.
  T largest_centre_norm() const { return largest_norm_; }

 private:
  Eigen::Index features_, block_rows_;
  Eigen::Matrix<T, Eigen::Dynamic, 1> centre_norms_;
  T largest_norm_ = 0;
};

/// The centres laid out for direct scoring, row by row, where a GEMM does not pay: for small
/// d (assignment), and for the few candidates of a k-means++ step (any d). It holds −2 times
/// their transpose (d × padded columns, padding 0; scaling by −2 is exact) and their norms
/// (padding: `padding_norm`), so that one fused multiply-add per feature updates the scores
/// of a whole register of centres. Each row's scores are computed in a fixed order (feature
/// j into accumulator j mod 4, summed as (a0 + a1) + (a2 + a3)): the same bits wherever the
/// row lives, and four independent chains instead of one dependent chain of d.
template <class T>
struct DirectScorer {
  /// Features up to which assignment scores directly (measured: GEMM packing dominates below).
  static constexpr Eigen::Index kMaxFeatures = 16;
  static constexpr Eigen::Index kWidth = 64 / sizeof(T);  ///< centres per 64-byte register
  using Chunk = Eigen::Array<T, kWidth, 1>;
  RowMatrix<T> scaled_transpose;  ///< −2·cᵀ
  RowMatrix<T> transpose;         ///< cᵀ (the exact distances of a group of rows)
  std::vector<T> norms;
  Eigen::Index centres = 0;  ///< without the padding

  /// The number of score columns for `centres` centres: a multiple of kWidth.
  static Eigen::Index padded(Eigen::Index centres) { return (centres + kWidth - 1) / kWidth * kWidth; }

  void set(const RowMatrix<T>& centres, const Eigen::Matrix<T, Eigen::Dynamic, 1>& centre_norms,
           T padding_norm = std::numeric_limits<T>::infinity()) {
    const Eigen::Index columns = padded(centres.rows());
    this->centres = centres.rows();
    scaled_transpose = RowMatrix<T>::Zero(centres.cols(), columns);
    scaled_transpose.leftCols(centres.rows()) = T(-2) * centres.transpose();
    transpose = RowMatrix<T>::Zero(centres.cols(), columns);
    transpose.leftCols(centres.rows()) = centres.transpose();
    norms.assign(static_cast<std::size_t>(columns), padding_norm);
    std::copy_n(centre_norms.data(), centres.rows(), norms.begin());
  }
  /// score[c] = ‖c‖² − 2 x·c for every (padded) centre: the GEMM form's score, with the
  /// same rounding error bound (d products summed in T). simd::Kernels::direct_scores.
  void scores(const T* x, T* score) const {
    simd::kernels<T>().direct_scores(scaled_transpose.data(), norms.data(), scaled_transpose.cols(),
                                     scaled_transpose.rows(), x, score);
  }
};

/// How assignment scores rows against the centres, by d: directly for small d (DirectScorer),
/// otherwise lloyd's register-blocked tiles (ScoreTiles; measured with AVX-512 at 215 against
/// Eigen's 171 GFLOP/s per core at d = k = 256), at every SIMD level, so that every level
/// computes the same bits. One choice for Assigner and BoundedAssigner.
enum class ScoreKernel { Direct, Tiles };
template <class T>
ScoreKernel score_kernel(Eigen::Index features) {
  return features <= DirectScorer<T>::kMaxFeatures ? ScoreKernel::Direct : ScoreKernel::Tiles;
}

/// Threads used inside a rank by the assignment kernel (OpenMP; default 1; always 1
/// without OpenMP).
void set_threads(int threads);
int threads();
/// Collective over comm: sets `requested` threads per rank (0: OMP_NUM_THREADS, else the rank's
/// CPUs divided by the ranks on its node) and returns the count set; an AgreedError naming the
/// setting (`name`, e.g. "--threads") when some rank would run more than 4 × its node's CPUs.
int apply_thread_count(const Comm& comm, int requested, const std::string& name);
/// The calling thread's index inside a parallel region of those threads (0 outside one or
/// without OpenMP): which per-thread scratch it owns.
int thread_index();

/// Nearest-centre assignment of a shard's rows, on BlockDistances. Where the GEMM form
/// cannot separate the best centre from another (within its rounding error bound, e.g.
/// points very close to a centre), the candidates are compared by squared_distance
/// instead; ties go to the lower centre index.
template <class T>
class Assigner {
 public:
  /// Scores are scanned in chunks of one 64-byte SIMD register.
  static constexpr Eigen::Index kChunk = 64 / sizeof(T);
  using Chunk = Eigen::Array<T, kChunk, 1>;

  Assigner(Eigen::Index features, Eigen::Index clusters)
      : features_(features), clusters_(clusters), distances_(features, clusters) {}

  /// Writes each row's label and its squared_distance to that centre; when `sums` is given,
  /// also adds each row to its cluster's sums (fused: one pass over the data; for sums laid
  /// out by a FixedPoint with a weight grid, each row with its sample weight, as
  /// add_weighted_rows after the assignment would: the same sums). Blocks are
  /// shared among the OpenMP threads (set_threads); every row's result and the exact sums
  /// are the same for any number of threads.
  void assign(const DenseShard<T>& shard, const RowMatrix<T>& centroids,
              std::span<std::int32_t> labels, std::span<double> distances,
              ClusterSums* sums = nullptr, const FixedPoint* fixed = nullptr);

  /// Bound on the rounding error of a GEMM-form distance in d dimensions, relative to
  /// ‖x‖² + max‖c‖², with room for both of two distances being compared.
  static double slack(Eigen::Index d) {
    return 4.0 * static_cast<double>(d + 2) * std::numeric_limits<T>::epsilon();
  }
  struct Nearest {
    std::int32_t centre;  ///< ties: the lower index
    double distance;      ///< squared_distance to it
  };
  /// The nearest centre of row x from its scores ‖c‖² − 2x·c (`score` padded with +inf to
  /// a multiple of kChunk); `largest_norm` is the largest ‖c‖², `norm` is squared_norm(x). Where the GEMM form cannot
  /// separate centres, squared_distance decides: the result is the argmin of
  /// squared_distance over all centres.
  static Nearest nearest(const T* x, const T* score, const RowMatrix<T>& centroids, T largest_norm,
                         T norm);
  /// The argmin of squared_distance over all centres (ties: the lower index; a NaN distance
  /// counts as farther than any number; centre 0 if all are NaN): nearest()'s decision
  /// where the scores cannot make one (NaN scores).
  static Nearest nearest_by_distance(const T* x, const RowMatrix<T>& centroids);
  /// The smallest of `padded` scores (a multiple of kChunk).
  static T row_minimum(const T* score, Eigen::Index padded);
  /// The smallest of them other than score[excluded] (the nearest other centre's score, for
  /// lower bounds); `score` is left as it was. An `excluded` outside [0, padded) masks nothing.
  static T minimum_except(T* score, Eigen::Index padded, Eigen::Index excluded);
  /// nearest() for direct scoring (d ≤ DirectScorer::kMaxFeatures) with the scores of
  /// `scorer` computed here: the same result. When `second` is given it gets the smallest
  /// score of the other centres (the best one's masked), for lower bounds.
  static Nearest nearest_direct(const DirectScorer<T>& scorer, const T* x, const RowMatrix<T>& centroids,
                                T largest_norm, T norm, T* second = nullptr);
  /// nearest_direct for up to kDirectRows rows at once: row r at base + offset[r] (offsets
  /// in values), its squared_norm in norms[r], its result in nearest[r] (and second[r]).
  /// With AVX-512 (simd::Kernels::direct_group_nearest; other levels decide row by row, the
  /// same bits) the rows sit one per register lane (transposed in registers), so the
  /// scores of a group take one fused multiply-add per feature and centre for all of them
  /// and the running minima need no reduction across lanes; every score has the same bits
  /// as for the row alone (measured on P2, 2M × 8, k = 16, one core: 12.7 ns per row with
  /// the rows gathered feature by feature, 5.8 transposed, with the exact distance).
  static constexpr int kDirectRows = DirectScorer<T>::kWidth;
  static void nearest_direct_rows(const DirectScorer<T>& scorer, const T* base, const std::int32_t* offset,
                                  int count, const RowMatrix<T>& centroids, T largest_norm, const T* norms,
                                  Nearest* nearest, T* second = nullptr);
  /// squared_distance of up to kDirectRows rows (as for nearest_direct_rows) to the centres
  /// of `scorer` numbered centre[r], into distance[r]: the same bits, rows one per lane
  /// (simd::Kernels::direct_group_distances) or, at levels without it, row by row.
  static void distances_direct(const DirectScorer<T>& scorer, const T* base, const std::int32_t* offset,
                               int count, const std::int32_t* centre, double* distance);

 private:
  // Scratch of one thread.
  struct ThreadSpace {
    std::vector<T> tile, tile_scores;  ///< ScoreTiles
    /// ‖c‖² − 2x·c of one row (the distance less the row's constant ‖x‖²), with columns
    /// padded to a multiple of kChunk with +inf: made from the row's products just before
    /// its decision, while they are in cache.
    Eigen::Matrix<T, 1, Eigen::Dynamic> scores;
    ClusterSums sums;
  };

  Eigen::Index features_, clusters_;
  BlockDistances<T> distances_;
  DirectScorer<T> direct_;
  ScoreTiles<T> tiles_;
  std::vector<ThreadSpace> threads_;
};

}  // namespace lloyd
