#pragma once
// Cluster labels as the metrics see them: this rank's slice of an n-vector of int32.
#include <cstdint>
#include <span>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/io/hdf5.hpp"

namespace lloyd {

/// Collective over comm: reads this rank's block (block_rows) of a 1-D integer dataset of
/// `rows` elements (an n × 1 dataset is accepted too) with one collective MPI-IO read, every
/// value exactly (any integer type of up to 64 bits; unsigned values above 2^63 - 1 are
/// refused). A missing dataset, a non-integer type or another length is an AgreedError.
std::vector<std::int64_t> read_label_values(const Comm& comm, const DatasetRef& ref, std::uint64_t rows);

/// Collective over comm: read_label_values as 32-bit cluster indices, read as such where the
/// dataset's type fits an int32; a value outside the int32 range is an AgreedError naming it and
/// its row (never clipped).
std::vector<std::int32_t> read_labels(const Comm& comm, const DatasetRef& ref, std::uint64_t rows);

/// How often a value occurs.
struct ValueCount {
  std::int64_t value = 0, count = 0;
  friend bool operator==(const ValueCount&, const ValueCount&) = default;
};

/// The distinct values of `values` with their counts, ascending. Not collective.
std::vector<ValueCount> count_values(std::span<const std::int64_t> values);
std::vector<ValueCount> count_values(std::span<const std::int32_t> values);

/// Collective over comm: the union of every rank's `local` (ascending, distinct values), the
/// counts of a value added over ranks; ascending and identical on every rank. Memory follows
/// the number of distinct values, not their range: the lists merge pairwise up a binomial
/// tree (⌈log2 p⌉ rounds) and rank 0 broadcasts the result.
std::vector<ValueCount> sum_counts(const Comm& comm, std::vector<ValueCount> local);

/// Labels as categories (scikit-learn's LabelEncoder): the distinct values over all ranks,
/// ascending and identical on every rank, and this rank's labels as indices into them, so
/// that everything sized by the clusters follows the number of distinct labels, whatever
/// their values (labels {0, 10^6} or {-1, 2^40} are two clusters).
struct EncodedLabels {
  std::vector<std::int64_t> values;
  std::vector<std::int32_t> codes;
};
/// Collective over comm.
EncodedLabels encode_labels(const Comm& comm, std::span<const std::int64_t> labels);

/// Collective over comm: encode_labels(read_label_values(...)), with 4 bytes a row where the
/// dataset's type fits an int32 (signed of up to 32 bits, unsigned of up to 16: what lloyd and
/// most tools write), read straight into the codes and encoded in place; 64-bit and unsigned
/// 32-bit labels are read as int64 first (8 bytes a row more while they are encoded).
EncodedLabels read_encoded_labels(const Comm& comm, const DatasetRef& ref, std::uint64_t rows);

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
/// clusters 0..k-1; unused values are allowed and ignored, like scikit-learn's relabelling)
/// and k ≤ 2^20. Returns k = max label + 1. Labels of any other values: encode_labels first.
std::int32_t check_cluster_labels(const Comm& comm, std::span<const std::int32_t> labels,
                                  const char* what);

}  // namespace lloyd
