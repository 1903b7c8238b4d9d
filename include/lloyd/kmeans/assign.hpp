#pragma once
#include <cstdint>
#include <span>

#include "lloyd/kmeans/cluster_sums.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// Squared Euclidean distance accumulated in double, term by term in feature order: the one
/// definition of "the" distance of a row to a centre (inertia, relocation, seeding, ties).
template <class T, class U>
double squared_distance(const T* x, const U* c, Eigen::Index features) {
  double sum = 0;
  for (Eigen::Index j = 0; j < features; ++j) {
    const double diff = static_cast<double>(x[j]) - static_cast<double>(c[j]);
    sum += diff * diff;
  }
  return sum;
}

/// Nearest-centre assignment of a shard's rows.
///
/// Distances come from the GEMM form ‖x‖² − 2x·c + ‖c‖² in T precision, over blocks of
/// kBlockRows rows aligned to *global* row indices: every row lands at the same position of
/// an equally sized block whatever the rank layout, so its computed distances are the same
/// bits for any number of ranks. Where the GEMM form cannot separate the best centre from
/// another (within its rounding error bound, e.g. points very close to a centre), the
/// candidates are compared by squared_distance instead; ties go to the lower centre index.
template <class T>
class Assigner {
 public:
  static constexpr Eigen::Index kBlockRows = 256;

  Assigner(Eigen::Index features, Eigen::Index clusters);

  /// Writes each row's label and its squared_distance to that centre; when `sums` is given,
  /// also adds each row to its cluster's sums (fused: one pass over the data).
  void assign(const DenseShard<T>& shard, const RowMatrix<T>& centroids,
              std::span<std::int32_t> labels, std::span<double> distances,
              ClusterSums* sums = nullptr, const FixedPoint* fixed = nullptr);

 private:
  RowMatrix<T> block_;  ///< kBlockRows × d copy of the rows of one aligned block
  Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> dots_;  ///< block × k
  Eigen::Matrix<T, Eigen::Dynamic, 1> centre_norms_;
};

}  // namespace lloyd
