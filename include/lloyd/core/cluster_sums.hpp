#pragma once
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/core/exact_sum.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// Per-cluster member counts and coordinate sums, held in fixed point (see FixedPoint) so
/// that the reduced sums, and the centroids computed from them, are bit-identical for any
/// number of ranks and each centroid coordinate is its rows' exact mean, rounded. A cluster
/// holds `limbs` planes of `features` sums (the FixedPoint's limbs; one plane for most
/// data). Rows are first added into int64 words (vectorisable; every limb is at most 2^52 —
/// a value just below a power of two may round up to it — so kFlushRows of them cannot
/// overflow) that are carried into the 128-bit sums every kFlushRows rows. Every add/subtract/remove/means takes the FixedPoint that laid the sums
/// out (the same limbs).
class ClusterSums {
 public:
  static constexpr int kFlushRows = 2047;  ///< 2047 · 2^52 < 2^63

  /// One limb per value (reset(fixed) lays the sums out for another FixedPoint).
  ClusterSums(Eigen::Index clusters, Eigen::Index features) : ClusterSums(clusters, features, 1) {}
  /// Laid out for `fixed`.
  ClusterSums(Eigen::Index clusters, const FixedPoint& fixed)
      : ClusterSums(clusters, static_cast<Eigen::Index>(fixed.features()), fixed.limbs()) {}

  void reset() {
    std::fill(sums_.begin(), sums_.end(), Int128{0});
    std::fill(pending_.begin(), pending_.end(), std::int64_t{0});
    pending_rows_ = 0;
    std::fill(counts_.begin(), counts_.end(), std::int64_t{0});
  }
  /// reset() with the layout of `fixed` (its number of limbs).
  void reset(const FixedPoint& fixed) {
    if (fixed.limbs() != limbs_) *this = ClusterSums(clusters_, features_, fixed.limbs());
    reset();
  }
  template <class T>
  void add(std::int32_t cluster, const T* row, const FixedPoint& fixed) {
    check_layout(fixed);
    fixed.add_row(&pending_[offset(cluster)], row);
    ++counts_[static_cast<std::size_t>(cluster)];
    if (++pending_rows_ == kFlushRows) flush();
  }
  /// add() for `count` consecutive rows (row r at rows + r · features, into clusters[r]).
  template <class T>
  void add_rows(const std::int32_t* clusters, const T* rows, int count, const FixedPoint& fixed) {
    check_layout(fixed);
    if (pending_rows_ + count > kFlushRows) flush();
    fixed.add_rows(pending_.data(), static_cast<std::ptrdiff_t>(features_ * limbs_), clusters, rows, count);
    for (int r = 0; r < count; ++r) ++counts_[static_cast<std::size_t>(clusters[r])];
    pending_rows_ += count;
    if (pending_rows_ == kFlushRows) flush();
  }
  /// The inverse of add, for sums of changes (counts may go negative there).
  template <class T>
  void subtract(std::int32_t cluster, const T* row, const FixedPoint& fixed) {
    check_layout(fixed);
    fixed.add_row<-1>(&pending_[offset(cluster)], row);
    --counts_[static_cast<std::size_t>(cluster)];
    if (++pending_rows_ == kFlushRows) flush();
  }
  /// Adds a sparse row (values at `columns`) straight into the 128-bit sums: few entries,
  /// so no int64 staging.
  template <class T>
  void add_sparse(std::int32_t cluster, const std::int32_t* columns, const T* values,
                  std::int64_t count, const FixedPoint& fixed) {
    check_layout(fixed);
    Int128* sum = &sums_[offset(cluster)];
    for (std::int64_t e = 0; e < count; ++e) {
      const auto j = static_cast<std::size_t>(columns[e]);
      fixed.add_limbs(static_cast<double>(values[e]), j, sum + j, static_cast<std::size_t>(features_));
    }
    ++counts_[static_cast<std::size_t>(cluster)];
  }
  template <class T>
  void remove(std::int32_t cluster, const T* row, const FixedPoint& fixed) {
    check_layout(fixed);
    flush();
    Int128* sum = &sums_[offset(cluster)];
    for (Eigen::Index j = 0; j < features_; ++j)
      fixed.add_limbs<-1>(static_cast<double>(row[j]), static_cast<std::size_t>(j), sum + j,
                          static_cast<std::size_t>(features_));
    --counts_[static_cast<std::size_t>(cluster)];
  }
  /// Adds another partial (e.g. of another thread); exact, so the order does not matter.
  void merge(const ClusterSums& other) {
    if (other.sums_.size() != sums_.size()) throw std::logic_error("ClusterSums::merge: other layout");
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
  int limbs() const { return limbs_; }
  /// The fixed-point sums: per cluster, limbs() planes of features sums (cluster c, limb l,
  /// feature j at (c · limbs() + l) · features + j).
  std::span<const Int128> sums() const {
    flush();
    return sums_;
  }
  /// Where the limb sums of (cluster, feature) start in sums(): limb l at that + l · features.
  std::size_t position(Eigen::Index cluster, Eigen::Index feature) const {
    return offset(static_cast<std::int32_t>(cluster)) + static_cast<std::size_t>(feature);
  }
  /// Row `cluster` of the centroids: sum / count, the exact sum rounded once to double, the
  /// quotient once to T. Clusters with no members keep `previous`'s row.
  template <class T>
  void means(const FixedPoint& fixed, RowMatrix<T>& centroids) const {
    check_layout(fixed);
    flush();
    for (Eigen::Index c = 0; c < clusters_; ++c) {
      const std::int64_t n = count(c);
      if (n == 0) continue;
      const Int128* sum = &sums_[offset(static_cast<std::int32_t>(c))];
      for (Eigen::Index j = 0; j < features_; ++j)
        centroids(c, j) = static_cast<T>(
            fixed.to_double(sum + j, static_cast<std::size_t>(features_), static_cast<std::size_t>(j)) /
            static_cast<double>(n));
    }
  }

 private:
  ClusterSums(Eigen::Index clusters, Eigen::Index features, int limbs)
      : clusters_(clusters), features_(features), limbs_(limbs),
        sums_(static_cast<std::size_t>(clusters * features * limbs)),
        pending_(static_cast<std::size_t>(clusters * features * limbs)),
        counts_(static_cast<std::size_t>(clusters)) {}
  // Sums laid out for one FixedPoint must never meet another's limbs (a write beyond them).
  void check_layout(const FixedPoint& fixed) const {
    if (fixed.limbs() != limbs_ || static_cast<Eigen::Index>(fixed.features()) != features_)
      throw std::logic_error("ClusterSums: laid out for another FixedPoint");
  }
  std::size_t offset(std::int32_t cluster) const {
    return static_cast<std::size_t>(cluster) * static_cast<std::size_t>(features_ * limbs_);
  }
  Eigen::Index clusters_, features_;
  int limbs_ = 1;
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
