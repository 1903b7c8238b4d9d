#pragma once
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "lloyd/kmeans/cluster_sums.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// Squared Euclidean distance accumulated in double: the one definition of "the" distance
/// of a row to a centre (inertia, relocation, ties). The terms go into eight lanes (feature
/// j into lane j mod 8) summed in a fixed tree at the end: a fixed order, so the result does
/// not depend on where the row lives, and one that compilers vectorise.
template <class T, class U>
double squared_distance(const T* x, const U* c, Eigen::Index features) {
  constexpr int kLanes = 8;
  double lane[kLanes] = {};
  Eigen::Index j = 0;
  for (; j + kLanes <= features; j += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const double diff = static_cast<double>(x[j + l]) - static_cast<double>(c[j + l]);
      lane[l] += diff * diff;
    }
  for (int l = 0; j < features; ++j, ++l) {
    const double diff = static_cast<double>(x[j]) - static_cast<double>(c[j]);
    lane[l] += diff * diff;
  }
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

/// ‖x‖² in T with the same fixed lane order (used for rounding-error bounds).
template <class T>
T squared_norm(const T* x, Eigen::Index features) {
  constexpr int kLanes = 8;
  T lane[kLanes] = {};
  Eigen::Index j = 0;
  for (; j + kLanes <= features; j += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] += x[j + l] * x[j + l];
  for (int l = 0; j < features; ++j, ++l) lane[l] += x[j] * x[j];
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

/// Squared distances of a shard's rows to a few centres, in the GEMM form
/// ‖x‖² − 2x·c + ‖c‖² in T precision, over blocks of kBlockRows rows aligned to *global*
/// row indices: every row lands at the same position of an equally sized block whatever
/// the rank layout, so its computed distances are the same bits for any number of ranks.
template <class T>
class BlockDistances {
 public:
  static constexpr Eigen::Index kBlockRows = 256;

  BlockDistances(Eigen::Index features, Eigen::Index centres)
      : block_(RowMatrix<T>::Zero(kBlockRows, features)), dots_(kBlockRows, centres),
        centre_norms_(centres) {}

  /// Calls visit(first, count, products) for every block of rows: local rows
  /// [first, first + count) sit at rows [offset, offset + count) of `products`, where
  /// products(r, c) = x·c (in T) and offset = products_offset(). centre_norm(c) = ‖c‖².
  template <class Visit>
  void for_each_block(const DenseShard<T>& shard, const RowMatrix<T>& centres, Visit&& visit) {
    const Eigen::Index d = shard.features(), k = centres.rows();
    centre_norms_.resize(k);
    largest_norm_ = 0;
    for (Eigen::Index c = 0; c < k; ++c) {
      centre_norms_(c) = squared_norm(centres.row(c).data(), d);
      largest_norm_ = std::max(largest_norm_, centre_norms_(c));
    }
    const std::uint64_t first = shard.first_row, end = first + shard.local_rows();
    const auto B = static_cast<std::uint64_t>(kBlockRows);
    for (std::uint64_t block_start = first / B * B; block_start < end; block_start += B) {
      const std::uint64_t lo = std::max(block_start, first), hi = std::min(block_start + B, end);
      if (hi - lo == B) {
        // A whole block inside the shard: multiply in place. GEMM packs its operands into
        // its own buffers, so where the rows live does not change the computed bits.
        const Eigen::Map<const RowMatrix<T>> rows(shard.row(static_cast<Eigen::Index>(lo - first)),
                                                  kBlockRows, d);
        dots_.noalias() = rows * centres.transpose();
      } else {
        // A block cut by the shard's edge: its rows keep their in-block positions in a
        // zero-padded copy, so the product has the same shape as for a whole block.
        for (std::uint64_t g = lo; g < hi; ++g)
          std::copy_n(shard.row(static_cast<Eigen::Index>(g - first)), d,
                      block_.data() + (g - block_start) * d);
        dots_.noalias() = block_ * centres.transpose();
      }
      offset_ = static_cast<Eigen::Index>(lo - block_start);
      visit(static_cast<Eigen::Index>(lo - first), static_cast<Eigen::Index>(hi - lo),
            static_cast<const RowMatrix<T>&>(dots_));
    }
  }

  /// Calls visit(local_row, row_norm, distances) for every local row, where distances[c]
  /// is the GEMM-form squared distance to centre c (it may be slightly negative through
  /// cancellation when x is very close to c).
  template <class Visit>
  void for_each_row(const DenseShard<T>& shard, const RowMatrix<T>& centres, Visit&& visit) {
    const Eigen::Index d = shard.features(), k = centres.rows();
    std::vector<T> distances(static_cast<std::size_t>(k));
    for_each_block(shard, centres, [&](Eigen::Index first, Eigen::Index count, const RowMatrix<T>& dots) {
      for (Eigen::Index q = 0; q < count; ++q) {
        const T row_norm = squared_norm(shard.row(first + q), d);
        for (Eigen::Index c = 0; c < k; ++c)
          distances[static_cast<std::size_t>(c)] = row_norm - 2 * dots(offset_ + q, c) + centre_norms_(c);
        visit(first + q, row_norm, distances.data());
      }
    });
  }

  Eigen::Index products_offset() const { return offset_; }
  const Eigen::Matrix<T, Eigen::Dynamic, 1>& centre_norms() const { return centre_norms_; }

  /// The largest ‖c‖² of the last for_each_row call.
  T largest_centre_norm() const { return largest_norm_; }

 private:
  RowMatrix<T> block_;  ///< kBlockRows × d copy of the rows of one aligned block
  RowMatrix<T> dots_;   ///< block × centres
  Eigen::Matrix<T, Eigen::Dynamic, 1> centre_norms_;
  T largest_norm_ = 0;
  Eigen::Index offset_ = 0;
};

/// Nearest-centre assignment of a shard's rows, on BlockDistances. Where the GEMM form
/// cannot separate the best centre from another (within its rounding error bound, e.g.
/// points very close to a centre), the candidates are compared by squared_distance
/// instead; ties go to the lower centre index.
template <class T>
class Assigner {
 public:
  Assigner(Eigen::Index features, Eigen::Index clusters) : distances_(features, clusters) {}

  /// Writes each row's label and its squared_distance to that centre; when `sums` is given,
  /// also adds each row to its cluster's sums (fused: one pass over the data).
  void assign(const DenseShard<T>& shard, const RowMatrix<T>& centroids,
              std::span<std::int32_t> labels, std::span<double> distances,
              ClusterSums* sums = nullptr, const FixedPoint* fixed = nullptr);

 private:
  /// One SIMD register of scores (64 bytes).
  static constexpr Eigen::Index kChunk = 64 / sizeof(T);
  using Chunk = Eigen::Array<T, kChunk, 1>;

  BlockDistances<T> distances_;
  /// ‖c‖² − 2x·c of a block (the distance less the row's constant ‖x‖²), with columns
  /// padded to a multiple of kChunk with +inf.
  RowMatrix<T> scores_;
};

}  // namespace lloyd
