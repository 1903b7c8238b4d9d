#pragma once
// Sample weights (scikit-learn's sample_weight, Spark's weightCol): one value per row of the
// data, read like the data — each rank reads only its own rows' weights.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// Collective over comm: the weights of global rows `mine` from the 1-D dataset `ref` (any
/// float or integer type, read as double; one collective hyperslab read), checked as
/// scikit-learn's _check_sample_weight plus its "all zero" refusal: the dataset holds exactly
/// `rows` values, each finite and 0 or ≥ 1e-300, and not all are 0. Otherwise every rank throws
/// AgreedError with one line naming the dataset and, for a bad value, its first row.
std::vector<double> read_sample_weights(const Comm& comm, const DatasetRef& ref, std::uint64_t rows, RowRange mine);

/// Collective over comm: throws AgreedError on every rank (one line: `name`, the first bad global
/// row — local weight i is row first_row + i — and the cause) unless every weight is finite and
/// either 0 or at least 1e-300 (a smaller one overflows the weighted draws' keys), and some
/// weight on some rank is positive.
void check_sample_weights(const Comm& comm, std::span<const double> weights, std::uint64_t first_row,
                          const std::string& name);

/// Collective over comm: whether every weight on every rank is exactly 1 (then a fit is the
/// unweighted one, bit for bit, and takes the unweighted path).
bool every_weight_is_one(const Comm& comm, const std::vector<double>& weights);

/// Collective over comm: reads the weights of `shard`'s rows into it (has_weights), unless
/// they are all 1 (then the shard stays unweighted: the same fit, on the faster path). A
/// DenseShard or a CsrShard.
template <class Shard>
void attach_sample_weights(const Comm& comm, const DatasetRef& ref, Shard& shard) {
  const RowRange mine{shard.first_row, shard.first_row + static_cast<std::uint64_t>(shard.local_rows())};
  std::vector<double> weights = read_sample_weights(comm, ref, shard.global_rows, mine);
  if (every_weight_is_one(comm, weights)) return;
  shard.weights = std::move(weights);
  shard.has_weights = true;
}

}  // namespace lloyd
