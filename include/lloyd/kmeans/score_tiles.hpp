#pragma once
#include <algorithm>
#include <limits>
#include <span>
#include <vector>

#include "lloyd/kmeans/simd.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// The scores ‖c‖² − 2x·c of a tile of rows against every centre, by a register-blocked
/// kernel made for assignment (AVX-512 builds; elsewhere Assigner uses Eigen's product):
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
  static constexpr int kWidth = 64 / static_cast<int>(sizeof(T));  ///< values per register
  static constexpr int kPanel = 2 * kWidth;  ///< centres per panel: two registers per row
  /// Rows per tile: 2 × 12 accumulators, the panel's two registers and a broadcast fit the
  /// 32 vector registers without spilling.
  static constexpr int kRows = 12;
  /// Features per slice of a packed tile: the tile's rows are copied slice by slice so that
  /// every row value sits at a fixed offset from one pointer (no per-row address register).
  static constexpr int kSlice = 16;

  /// Packs the centres: panel p holds −2·cᵀ of centres [p·kPanel, (p+1)·kPanel) feature by
  /// feature (zero beyond k), and the norms (+inf beyond k, so padding never wins).
  void set(const RowMatrix<T>& centres, const Eigen::Matrix<T, Eigen::Dynamic, 1>& norms) {
    features_ = centres.cols();
    const Eigen::Index k = centres.rows();
    panels_ = padded(k) / kPanel;
    packed_.assign(static_cast<std::size_t>(panels_ * kPanel * features_), T(0));
    norms_.assign(static_cast<std::size_t>(panels_ * kPanel), std::numeric_limits<T>::infinity());
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
  void compute(const T* const* rows, int count, T* score, Eigen::Index stride, std::vector<T>& tile) const;

 private:
  Eigen::Index slices() const { return (features_ + kSlice - 1) / kSlice; }
  Eigen::Index features_ = 0, panels_ = 0;
  std::vector<T> packed_, norms_;
};

#if defined(__AVX512F__)
template <class T>
void ScoreTiles<T>::compute(const T* const* rows, int count, T* score, Eigen::Index stride,
                            std::vector<T>& tile) const {
  using Ops = detail::Zmm<T>;
  using Register = decltype(Ops::zero());
  const Eigen::Index d = features_, full = d / kSlice;
  // Slice s of tile row r at tile[(s·kRows + r)·kSlice]; rows beyond count and features
  // beyond d stay zero from the last fill (their scores are never read).
  T* packed_rows = tile.data();
  for (int r = 0; r < kRows; ++r) {
    // Register copies (a library copy call per 64 bytes cost a tenth of the time).
    for (Eigen::Index s = 0; s < full; ++s) {
      T* slice = packed_rows + (s * kRows + r) * kSlice;
      for (int v = 0; v < kSlice; v += kWidth)
        Ops::store(slice + v, r < count ? Ops::load(rows[r] + s * kSlice + v) : Ops::zero());
    }
    T* tail = packed_rows + (full * kRows + r) * kSlice;
    for (Eigen::Index j = full * kSlice; j < d; ++j) tail[j - full * kSlice] = r < count ? rows[r][j] : T(0);
  }
  for (Eigen::Index panel = 0; panel < panels_; ++panel) {
    const T* centre = packed_.data() + panel * kPanel * d;
    Register low[kRows], high[kRows];
    const Register norm_low = Ops::load(norms_.data() + panel * kPanel),
                   norm_high = Ops::load(norms_.data() + panel * kPanel + kWidth);
#pragma GCC unroll 12
    for (int r = 0; r < kRows; ++r) {
      low[r] = norm_low;
      high[r] = norm_high;
    }
    auto feature = [&](const T* column, const T* values) {
      const Register c_low = Ops::load(column), c_high = Ops::load(column + kWidth);
#pragma GCC unroll 12
      for (int r = 0; r < kRows; ++r) {
        const Register x = Ops::broadcast(values[r * kSlice]);
        low[r] = Ops::fma(x, c_low, low[r]);
        high[r] = Ops::fma(x, c_high, high[r]);
      }
    };
    Eigen::Index s = 0;
    for (; s < full; ++s) {
      const T* values = packed_rows + s * kRows * kSlice;
      const T* column = centre + s * kSlice * kPanel;
#pragma GCC unroll 16
      for (int j = 0; j < kSlice; ++j) feature(column + j * kPanel, values + j);
    }
    for (Eigen::Index j = full * kSlice; j < d; ++j)
      feature(centre + j * kPanel, packed_rows + full * kRows * kSlice + (j - full * kSlice));
#pragma GCC unroll 12
    for (int r = 0; r < kRows; ++r) {  // constant indices keep the accumulators in registers
      if (r >= count) break;
      Ops::store(score + r * stride + panel * kPanel, low[r]);
      Ops::store(score + r * stride + panel * kPanel + kWidth, high[r]);
    }
  }
}
#endif

}  // namespace lloyd
