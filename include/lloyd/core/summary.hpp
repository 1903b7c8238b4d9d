#pragma once
// The data summary every fit starts from (fixed-point scales, mean, mean variance), computed
// exactly over all ranks from rows in one or many blocks: shared by kmeans/ (every mode, the
// streamed mini-batch too) and metrics/ (the scales of the exact sums).
#include <functional>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/core/exact_sum.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// What every fit on a shard needs to know about the whole data set.
struct DataSummary {
  FixedPoint fixed;            ///< fixed-point scales from the global max |x_j| (weighted: of w·x)
  double mean_variance = 0;    ///< mean over features of the (population) variance
  std::vector<double> mean;    ///< the mean row (from exact sums)
};

/// Calls its argument once for each block of this rank's rows, in order; every rank makes
/// the same number of calls (RowSource::for_each_block), so the summary may use collectives.
template <class T>
using BlockVisitor = std::function<void(const std::function<void(const DenseShard<T>&)>&)>;

/// Collective over comm: the summary of n rows of d features given block by block (three
/// passes: the range, the exact mean, the exact Σ‖x − mean‖²; the last two only when
/// `need_variance`). The same bits however the rows are split into blocks and ranks.
template <class T>
DataSummary summarize_blocks(const Comm& comm, const BlockVisitor<T>& visit_blocks, std::uint64_t rows,
                             Eigen::Index features, bool need_variance);

/// Collective over comm: the grid of a weighted fit's exact sums (FixedPoint::set_weight_grid):
/// that of the products w·x (both halves of every weighted_product) carrying that of the
/// weights. `visit(row_weight, value)` calls row_weight(w) for every row of positive weight and
/// value(w, feature, x) for each of its (stored) values. AgreedError when a weighted sum could
/// overflow (a product, or the total weight times the largest |x_j|, near the largest double).
using WeightedValueVisitor = std::function<void(const std::function<void(double)>&,
                                                const std::function<void(double, std::size_t, double)>&)>;
FixedPoint weighted_grid(const Comm& comm, Eigen::Index d, const WeightedValueVisitor& visit);

/// summarize_blocks of sample-weighted rows (each block's weights): the mean and variance of
/// the rows as above (scikit-learn's tolerance ignores the weights), and `fixed` the grid of
/// the weighted sums (FixedPoint::set_weight_grid; AgreedError when they could overflow).
template <class T>
DataSummary summarize_blocks(const Comm& comm, const BlockVisitor<T>& visit_blocks, std::uint64_t rows,
                             Eigen::Index features, bool need_variance, bool weighted);

/// Collective over comm: summarize_blocks of the in-memory shard (one block; weighted when
/// the shard is).
template <class T>
DataSummary summarize(const Comm& comm, const DenseShard<T>& shard);

}  // namespace lloyd
