#pragma once
// Cluster labels as the metrics see them: this rank's slice of an n-vector of int32.
#include <cstdint>
#include <span>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/io/hdf5.hpp"

namespace lloyd {

/// Collective over comm: reads this rank's block (block_rows) of a 1-D integer dataset of
/// `rows` elements (an n × 1 dataset is accepted too) with one collective MPI-IO read.
/// A missing dataset, a non-integer type or another length is an AgreedError.
std::vector<std::int32_t> read_labels(const Comm& comm, const DatasetRef& ref, std::uint64_t rows);

/// Collective over comm: global min and max of the labels, and the count of every value in
/// [min, max] (index value - min). Counts are identical on every rank.
struct LabelCounts {
  std::int32_t min = 0, max = -1;
  std::vector<std::int64_t> counts;
  /// values that occur at least once
  std::int64_t distinct() const;
};
LabelCounts count_labels(const Comm& comm, std::span<const std::int32_t> labels);

/// Collective over comm: throws AgreedError unless every label is ≥ 0 (cluster labels index
/// clusters 0..k-1; unused values are allowed and ignored, like scikit-learn's relabelling).
/// Returns k = max label + 1.
std::int32_t check_cluster_labels(const Comm& comm, std::span<const std::int32_t> labels,
                                  const char* what);

}  // namespace lloyd
