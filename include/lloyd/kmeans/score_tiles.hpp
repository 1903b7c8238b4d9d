#pragma once
#include <algorithm>
#include <limits>
#include <span>
#include <vector>

#include "lloyd/simd/kernels.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// The scores ‖c‖² − 2x·c of a tile of rows against every centre, by a register-blocked
/// kernel made for assignment (simd::Kernels::tile_scores, at every SIMD level; with AVX-512):
/// a tile of kRows rows against a panel of kPanel centres is held in 2 × kRows registers for
/// the whole feature loop, so each product term costs one fused multiply-add with its row
/// value broadcast straight from memory, and the scores of a tile go to a small buffer that
/// stays in L1 until the row decisions read them. Eigen's general product, by contrast,
/// writes every product to a matrix the size of the block and re-packs the centres for
/// every block (measured at d = k = 256: its kernel ran at ~75% of one core's peak and the
/// block of products lived in L3).
///
/// Every score is one chain: it starts at ‖c‖² and adds x_j · (−2c_j) for j = 0, 1, …, d−1
/// in that order (−2c is exact). Its rounding error is within Assigner::slack, and it does
/// not depend on where the row sits in its tile or block: the same bits for any rank or
/// thread layout.
template <class T>
class ScoreTiles {
 public:
  static constexpr int kWidth = 64 / static_cast<int>(sizeof(T));  ///< values per 64-byte register
  static constexpr int kPanel = simd::TileShape<T>::kPanel;  ///< centres per panel: two registers per row
  /// Rows per tile: with AVX-512, 2 × 12 accumulators, the panel's two registers and a
  /// broadcast fit the 32 vector registers without spilling.
  static constexpr int kRows = simd::TileShape<T>::kRows;
  /// Features per slice of a packed tile: the tile's rows are copied slice by slice so that
  /// every row value sits at a fixed offset from one pointer (no per-row address register).
  static constexpr int kSlice = simd::TileShape<T>::kSlice;

  /// Packs the centres: panel p holds −2·cᵀ of centres [p·kPanel, (p+1)·kPanel) feature by
  /// feature (zero beyond k), and the norms (+inf beyond k, so padding never wins).
  void set(const RowMatrix<T>& centres, const Eigen::Matrix<T, Eigen::Dynamic, 1>& norms) {
    features_ = centres.cols();
    const Eigen::Index k = centres.rows();
    panels_ = padded(k) / kPanel;
    packed_.assign(static_cast<std::size_t>(panels_ * kPanel * features_), T(0));
    norms_.assign(static_cast<std::size_t>(panels_ * kPanel), std::numeric_limits<T>::infinity());
    centre_rows_.resize(static_cast<std::size_t>(k * features_));
    std::copy_n(centres.data(), k * features_, centre_rows_.begin());  // exact in double
    for (Eigen::Index c = 0; c < k; ++c) {
      T* column = packed_.data() + (c / kPanel) * kPanel * features_ + c % kPanel;
      for (Eigen::Index j = 0; j < features_; ++j) column[j * kPanel] = T(-2) * centres(c, j);
      norms_[static_cast<std::size_t>(c)] = norms(c);
    }
  }

  /// Score columns written per row for `centres` centres: rounded up to whole panels (a
  /// multiple of Assigner::kChunk; the padding holds +inf).
  static Eigen::Index padded(Eigen::Index centres) { return (centres + kPanel - 1) / kPanel * kPanel; }
  /// padded() for the centres last set.
  Eigen::Index padded_centres() const { return panels_ * kPanel; }
  /// Scratch for one tile (one per thread).
  std::vector<T> workspace() const {
    return std::vector<T>(static_cast<std::size_t>(kRows * slices() * kSlice), T(0));
  }

  /// Scores of rows[0..count) (count ≤ kRows) into score + r·stride, padded_centres() each.
  void compute(const T* const* rows, int count, T* score, Eigen::Index stride, std::vector<T>& tile) const {
    simd::kernels<T>().tile_scores(packed_.data(), norms_.data(), panels_, features_, rows, count, score, stride,
                                   tile.data());
  }

  /// Whether decide() decides rows at the SIMD level in use (else it leaves every row).
  static bool decides() { return simd::kernels<T>().tile_nearest != nullptr; }
  /// Assigner::nearest's decisions for the rows of a tile on their scores from compute()
  /// (simd::Kernels::tile_nearest; the rounding margin of row r's scores is slack times
  /// ‖rows[r]‖² (norms[r] where given) + largest_norm, ‖c‖² of the largest centre): best[r] and
  /// distance[r] where one centre is clearly nearest, and there, with `second`, the smallest
  /// score of the other centres. Returns the rows left to the caller (bit r), every row at a
  /// level without the kernel.
  std::uint32_t decide(const T* score, Eigen::Index stride, Eigen::Index centres, const T* const* rows, double slack,
                       T largest_norm, int count, std::int32_t* best, double* distance, const T* norms = nullptr,
                       T* second = nullptr) const {
    const auto kernel = simd::kernels<T>().tile_nearest;
    if (!kernel) return count >= 32 ? ~0u : (1u << count) - 1;
    return kernel(score, stride, padded_centres(), centres, rows, centre_rows_.data(), features_, norms, slack,
                  largest_norm, count, best, distance, second);
  }

 private:
  Eigen::Index slices() const { return (features_ + kSlice - 1) / kSlice; }
  Eigen::Index features_ = 0, panels_ = 0;
  std::vector<T> packed_, norms_;
  std::vector<double> centre_rows_;  ///< the centres in double (k × d), for the exact distances
};


}  // namespace lloyd
