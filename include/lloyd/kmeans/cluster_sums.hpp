#pragma once
#include <cstdint>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/exact_sum.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// Per-cluster member counts and coordinate sums, held in fixed point (see FixedPoint) so
/// that the reduced sums, and the centroids computed from them, are bit-identical for any
/// number of ranks. Rows are first added into int64 words (vectorisable; FixedPoint keeps
/// every value below 2^52, so kFlushRows of them cannot overflow) that are carried into the
/// 128-bit sums every kFlushRows rows.
class ClusterSums {
 public:
  static constexpr int kFlushRows = 2048;

  ClusterSums(Eigen::Index clusters, Eigen::Index features)
      : clusters_(clusters), features_(features),
        sums_(static_cast<std::size_t>(clusters * features)),
        pending_(static_cast<std::size_t>(clusters * features)),
        counts_(static_cast<std::size_t>(clusters)) {}

  void reset() {
    std::fill(sums_.begin(), sums_.end(), Int128{0});
    std::fill(pending_.begin(), pending_.end(), std::int64_t{0});
    pending_rows_ = 0;
    std::fill(counts_.begin(), counts_.end(), std::int64_t{0});
  }
  template <class T>
  void add(std::int32_t cluster, const T* row, const FixedPoint& fixed) {
    fixed.add_row(&pending_[static_cast<std::size_t>(cluster * features_)], row);
    ++counts_[static_cast<std::size_t>(cluster)];
    if (++pending_rows_ == kFlushRows) flush();
  }
  /// The inverse of add, for sums of changes (counts may go negative there).
  template <class T>
  void subtract(std::int32_t cluster, const T* row, const FixedPoint& fixed) {
    fixed.add_row<-1>(&pending_[static_cast<std::size_t>(cluster * features_)], row);
    --counts_[static_cast<std::size_t>(cluster)];
    if (++pending_rows_ == kFlushRows) flush();
  }
  /// Adds a sparse row (values at `columns`) straight into the 128-bit sums: few entries,
  /// so no int64 staging.
  template <class T>
  void add_sparse(std::int32_t cluster, const std::int32_t* columns, const T* values,
                  std::int64_t count, const FixedPoint& fixed) {
    Int128* sum = &sums_[static_cast<std::size_t>(cluster * features_)];
    for (std::int64_t e = 0; e < count; ++e) {
      const auto j = static_cast<std::size_t>(columns[e]);
      sum[j] += fixed.to_fixed(static_cast<double>(values[e]), j);
    }
    ++counts_[static_cast<std::size_t>(cluster)];
  }
  template <class T>
  void remove(std::int32_t cluster, const T* row, const FixedPoint& fixed) {
    flush();
    Int128* sum = &sums_[static_cast<std::size_t>(cluster * features_)];
    for (Eigen::Index j = 0; j < features_; ++j)
      sum[j] -= fixed.to_fixed(static_cast<double>(row[j]), static_cast<std::size_t>(j));
    --counts_[static_cast<std::size_t>(cluster)];
  }
  /// Adds another partial (e.g. of another thread); exact, so the order does not matter.
  void merge(const ClusterSums& other) {
    flush();
    other.flush();
    for (std::size_t e = 0; e < sums_.size(); ++e) sums_[e] += other.sums_[e];
    for (std::size_t c = 0; c < counts_.size(); ++c) counts_[c] += other.counts_[c];
  }
  /// Collective over comm: sums and counts over all ranks. `extra` rides along in the
  /// counts message (e.g. the number of changed labels) and is summed too.
  void allreduce(const Comm& comm, std::span<std::int64_t> extra = {});

  std::int64_t count(Eigen::Index cluster) const {
    return counts_[static_cast<std::size_t>(cluster)];
  }
  Eigen::Index clusters() const { return clusters_; }
  /// The fixed-point sums, clusters × features, row-major.
  std::span<const Int128> sums() const {
    flush();
    return sums_;
  }
  /// Row `cluster` of the centroids: sum / count, rounded once to T. Clusters with no
  /// members keep `previous`'s row.
  template <class T>
  void means(const FixedPoint& fixed, RowMatrix<T>& centroids) const {
    flush();
    for (Eigen::Index c = 0; c < clusters_; ++c) {
      const std::int64_t n = count(c);
      if (n == 0) continue;
      const Int128* sum = &sums_[static_cast<std::size_t>(c * features_)];
      for (Eigen::Index j = 0; j < features_; ++j)
        centroids(c, j) = static_cast<T>(fixed.to_double(sum[j], static_cast<std::size_t>(j)) /
                                         static_cast<double>(n));
    }
  }

 private:
  Eigen::Index clusters_, features_;
  // Carries the int64 words into the 128-bit sums (logically const: the value is unchanged).
  void flush() const {
    for (std::size_t e = 0; e < pending_.size(); ++e) {
      sums_[e] += pending_[e];
      pending_[e] = 0;
    }
    pending_rows_ = 0;
  }
  mutable std::vector<Int128> sums_;
  mutable std::vector<std::int64_t> pending_;
  mutable int pending_rows_ = 0;
  std::vector<std::int64_t> counts_;
};

}  // namespace lloyd
