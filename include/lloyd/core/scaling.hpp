#pragma once
// Standardisation (z-scores) of dense rows, as scikit-learn's StandardScaler: each feature
// centred on its mean and divided by its population standard deviation (ddof = 0). The mean
// and variance come from exact sums (core/exact_sum.hpp), so a scaling — and every row scaled
// by it — is the same bits for any number of ranks, threads or blocks. `fit --standardize`
// computes it, the model stores it (io/model.hpp), `predict` applies it.
#include <cstdint>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/core/summary.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// x' = (x − mean) / scale per feature. scale is 1 for a constant feature (it becomes 0),
/// as scikit-learn's StandardScaler.
struct Scaling {
  std::vector<double> mean, scale;
  std::size_t features() const { return mean.size(); }
  friend bool operator==(const Scaling&, const Scaling&) = default;
};

/// Collective over comm: the standard scaling of n rows given block by block (two passes:
/// exact Σx with the range of every feature, then exact Σ(x − mean) and Σ(x − mean)²).
/// mean = Σx / n; variance = (Σ(x − mean)² − (Σ(x − mean))²/n) / n, the correction of
/// scikit-learn's _incremental_mean_and_var for the rounding of the mean; scale = √variance,
/// or 1 for a feature whose values are all equal or whose variance is below scikit-learn's
/// rounding bound (_is_constant_feature). The same bits however the rows are split.
template <class T>
Scaling fit_standard_scaling(const Comm& comm, const BlockVisitor<T>& visit_blocks, std::uint64_t rows,
                             Eigen::Index features);

/// Collective over comm: fit_standard_scaling of the in-memory shard.
template <class T>
Scaling fit_standard_scaling(const Comm& comm, const DenseShard<T>& shard);

/// Scales `count` rows of scaling.features() values (row-major) in place: each value
/// (x − mean) / scale computed in double and rounded once to T. Not collective.
template <class T>
void standardize_rows(const Scaling& scaling, T* rows, std::size_t count);

/// Scales every row of the matrix in place (standardize_rows). Not collective.
template <class T>
void standardize(const Scaling& scaling, RowMatrix<T>& rows) {
  standardize_rows(scaling, rows.data(), static_cast<std::size_t>(rows.rows()));
}

/// Scales every row of the shard in place (standardize_rows). The rows of a view
/// (DenseShard::view_of) are first copied into memory the shard owns (make_owned): the
/// caller's memory is never written. Not collective.
template <class T>
void standardize(const Scaling& scaling, DenseShard<T>& shard) {
  shard.make_owned();
  standardize_rows(scaling, shard.rows.mutable_data(), static_cast<std::size_t>(shard.local_rows()));
}

/// Centres of the scaled space in data units: c · scale + mean in double, rounded once to T.
template <class T>
RowMatrix<T> unstandardize(const Scaling& scaling, const RowMatrix<T>& centres);

}  // namespace lloyd
