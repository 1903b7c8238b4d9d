#pragma once
#include <cstdint>
#include <span>
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
/// overflow), a cluster's carried into its 128-bit sums once kFlushRows rows went into it
/// (measured at d = k = 256, float64: carrying every cluster every kFlushRows rows cost an
/// eighth of the summing). Every add/subtract/remove/means takes the FixedPoint that laid
/// the sums out (the same limbs).
class ClusterSums {
 public:
  static constexpr int kFlushRows = 2047;  ///< 2047 · 2^52 < 2^63

  /// One limb per value (reset(fixed) lays the sums out for another FixedPoint).
  ClusterSums(Eigen::Index clusters, Eigen::Index features) : ClusterSums(clusters, features, 1) {}
  /// Laid out for `fixed`; weighted when `fixed` carries a weight grid (a weighted fit).
  ClusterSums(Eigen::Index clusters, const FixedPoint& fixed)
      : ClusterSums(clusters, static_cast<Eigen::Index>(fixed.features()), fixed.limbs()) {
    if (fixed.weight_grid()) {
      weight_grid_ = fixed.shared_weight_grid();
      const FixedPoint* grid = weight_grid_.get();
      weight_sums_.assign(static_cast<std::size_t>(clusters * grid->limbs()), Int128{0});
    }
  }

  void reset() {
    std::fill(sums_.begin(), sums_.end(), Int128{0});
    std::fill(pending_.begin(), pending_.end(), std::int64_t{0});
    std::fill(pending_rows_.begin(), pending_rows_.end(), 0);
    std::fill(counts_.begin(), counts_.end(), std::int64_t{0});
    std::fill(weight_sums_.begin(), weight_sums_.end(), Int128{0});
  }
  /// reset() with the layout of `fixed` (its number of limbs).
  void reset(const FixedPoint& fixed) {
    if (fixed.limbs() != limbs_ || fixed.weight_grid() != weight_grid_.get())
      *this = ClusterSums(clusters_, fixed);
    reset();
  }

  /// Sums of a weighted fit (the FixedPoint carried a weight grid): rows are added with
  /// add_weighted, count() counts the rows of positive weight (a cluster without weight is
  /// empty, as in scikit-learn), weight() is a cluster's exact total weight and means()
  /// divides Σ w·x by it.
  bool weighted() const { return weight_grid_ != nullptr; }
  /// Adds (Sign −1: removes) w · row to `cluster`: each product as weighted_product, both
  /// halves exact on the grid of `fixed` (the products' range); a row of weight 0 changes
  /// nothing.
  template <int Sign = 1, class T>
  void add_weighted(std::int32_t cluster, const T* row, double weight, const FixedPoint& fixed) {
    check_layout(fixed);
    if (weight == 0) return;
    Int128* sum = &sums_[offset(cluster)];
    for (Eigen::Index j = 0; j < features_; ++j) {
      const WeightedProduct product = weighted_product(weight, static_cast<double>(row[j]));
      const auto feature = static_cast<std::size_t>(j);
      fixed.add_limbs<Sign>(product.product, feature, sum + j, static_cast<std::size_t>(features_));
      if (product.error != 0)
        fixed.add_limbs<Sign>(product.error, feature, sum + j, static_cast<std::size_t>(features_));
    }
    weight_grid_->add_limbs<Sign>(weight, 0, &weight_sums_[static_cast<std::size_t>(cluster * weight_grid_->limbs())],
                                  1);
    counts_[static_cast<std::size_t>(cluster)] += Sign;
  }
  /// add_weighted for a sparse row (values at `columns`).
  template <class T>
  void add_sparse_weighted(std::int32_t cluster, const std::int32_t* columns, const T* values, std::int64_t count,
                           double weight, const FixedPoint& fixed) {
    check_layout(fixed);
    if (weight == 0) return;
    Int128* sum = &sums_[offset(cluster)];
    for (std::int64_t e = 0; e < count; ++e) {
      const auto j = static_cast<std::size_t>(columns[e]);
      const WeightedProduct product = weighted_product(weight, static_cast<double>(values[e]));
      fixed.add_limbs(product.product, j, sum + j, static_cast<std::size_t>(features_));
      if (product.error != 0) fixed.add_limbs(product.error, j, sum + j, static_cast<std::size_t>(features_));
    }
    weight_grid_->add_limbs(weight, 0, &weight_sums_[static_cast<std::size_t>(cluster * weight_grid_->limbs())], 1);
    ++counts_[static_cast<std::size_t>(cluster)];
  }
  /// A cluster's total weight, rounded once (its count() without weights).
  double weight(Eigen::Index cluster) const {
    if (!weighted()) return static_cast<double>(count(cluster));
    return weight_grid_->to_double(&weight_sums_[static_cast<std::size_t>(cluster * weight_grid_->limbs())], 1, 0);
  }
  template <class T>
  void add(std::int32_t cluster, const T* row, const FixedPoint& fixed) {
    check_layout(fixed);
    check_unweighted();
    make_room(cluster, 1);
    fixed.add_row(&pending_[offset(cluster)], row);
    ++counts_[static_cast<std::size_t>(cluster)];
    ++pending_rows_[static_cast<std::size_t>(cluster)];
  }
  /// add() for `count` consecutive rows (row r at rows + r · features, into clusters[r]).
  template <class T>
  void add_rows(const std::int32_t* clusters, const T* rows, int count, const FixedPoint& fixed) {
    check_layout(fixed);
    check_unweighted();
    for (int r = 0; r < count; ++r) make_room(clusters[r], count);
    fixed.add_rows(pending_.data(), static_cast<std::ptrdiff_t>(features_ * limbs_), clusters, rows, count);
    for (int r = 0; r < count; ++r) {
      ++counts_[static_cast<std::size_t>(clusters[r])];
      ++pending_rows_[static_cast<std::size_t>(clusters[r])];
    }
  }
  /// The inverse of add, for sums of changes (counts may go negative there).
  template <class T>
  void subtract(std::int32_t cluster, const T* row, const FixedPoint& fixed) {
    check_layout(fixed);
    check_unweighted();
    make_room(cluster, 1);
    fixed.add_row<-1>(&pending_[offset(cluster)], row);
    --counts_[static_cast<std::size_t>(cluster)];
    ++pending_rows_[static_cast<std::size_t>(cluster)];
  }
  /// Adds a sparse row (values at `columns`) straight into the 128-bit sums: few entries,
  /// so no int64 staging.
  template <class T>
  void add_sparse(std::int32_t cluster, const std::int32_t* columns, const T* values,
                  std::int64_t count, const FixedPoint& fixed) {
    check_layout(fixed);
    check_unweighted();
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
    check_unweighted();
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
    if (other.weight_sums_.size() != weight_sums_.size()) throw std::logic_error("ClusterSums::merge: other weights");
    for (std::size_t e = 0; e < weight_sums_.size(); ++e) weight_sums_[e] += other.weight_sums_[e];
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
      // Without weights, the count; with them, the exact total weight rounded once (for
      // integer weights the count of the repeated rows: the same quotient).
      const double divisor = weighted() ? weight(c) : static_cast<double>(n);
      const Int128* sum = &sums_[offset(static_cast<std::int32_t>(c))];
      for (Eigen::Index j = 0; j < features_; ++j)
        centroids(c, j) = static_cast<T>(
            fixed.to_double(sum + j, static_cast<std::size_t>(features_), static_cast<std::size_t>(j)) / divisor);
    }
  }

 private:
  ClusterSums(Eigen::Index clusters, Eigen::Index features, int limbs)
      : clusters_(clusters), features_(features), limbs_(limbs),
        sums_(static_cast<std::size_t>(clusters * features * limbs)),
        pending_(static_cast<std::size_t>(clusters * features * limbs)),
        pending_rows_(static_cast<std::size_t>(clusters)),
        counts_(static_cast<std::size_t>(clusters)) {}
  // Sums laid out for one FixedPoint must never meet another's limbs (a write beyond them).
  void check_layout(const FixedPoint& fixed) const {
    if (fixed.limbs() != limbs_ || static_cast<Eigen::Index>(fixed.features()) != features_ ||
        (fixed.weight_grid() != nullptr) != weighted())
      throw std::logic_error("ClusterSums: laid out for another FixedPoint");
  }
  // Weighted sums take rows only with their weights (add_weighted): an unweighted add there
  // would be a row counted with weight 1 on the products' grid.
  void check_unweighted() const {
    if (weighted()) throw std::logic_error("ClusterSums: a weighted fit adds rows with add_weighted");
  }
  std::size_t offset(std::int32_t cluster) const {
    return static_cast<std::size_t>(cluster) * static_cast<std::size_t>(features_ * limbs_);
  }
  Eigen::Index clusters_, features_;
  int limbs_ = 1;
  // Carries a cluster's int64 words into its 128-bit sums (logically const: the value is
  // unchanged).
  void flush(std::int32_t cluster) const {
    const std::size_t first = offset(cluster), size = static_cast<std::size_t>(features_ * limbs_);
    for (std::size_t e = first; e < first + size; ++e) {
      sums_[e] += pending_[e];
      pending_[e] = 0;
    }
    pending_rows_[static_cast<std::size_t>(cluster)] = 0;
  }
  void flush() const {
    for (Eigen::Index c = 0; c < clusters_; ++c)
      if (pending_rows_[static_cast<std::size_t>(c)] > 0) flush(static_cast<std::int32_t>(c));
  }
  // Before up to `rows` more rows go into `cluster`'s int64 words: carried first if they
  // could then hold more than kFlushRows.
  void make_room(std::int32_t cluster, int rows) const {
    if (pending_rows_[static_cast<std::size_t>(cluster)] + rows > kFlushRows) flush(cluster);
  }
  mutable std::vector<Int128> sums_;
  mutable std::vector<std::int64_t> pending_;
  mutable std::vector<int> pending_rows_;  ///< per cluster: rows in its int64 words
  std::vector<std::int64_t> counts_;
  std::shared_ptr<const FixedPoint> weight_grid_;  ///< that of the FixedPoint the sums are laid out for
  std::vector<Int128> weight_sums_;          ///< per cluster, the weight grid's limbs
};

/// The sums of a weighted fit from its labels (sample weights: an assignment's fused sums are
/// the unweighted ones): every row of `shard` with its weight, one pass.
template <class T>
void add_weighted_rows(const DenseShard<T>& shard, std::span<const std::int32_t> labels, const FixedPoint& fixed,
                       ClusterSums& sums) {
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
    sums.add_weighted(labels[static_cast<std::size_t>(i)], shard.row(i), shard.weight(i), fixed);
}

}  // namespace lloyd
