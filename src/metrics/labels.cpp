#include "lloyd/metrics/labels.hpp"

#include <algorithm>
#include <limits>

#include "lloyd/out_of_memory.hpp"

namespace lloyd {

using h5::checked;
using h5::checked_status;

namespace {

// An integer label dataset as opened and checked on every rank: its handle and whether its
// values all fit an int32 (signed types of up to 32 bits, unsigned ones of up to 16), so that
// it can be read straight into 32-bit integers, without a 64-bit copy (8 bytes a row).
struct LabelDataset {
  Hid file, dataset;
  bool unsigned_64 = false, fits_int32 = false;
};

LabelDataset open_label_dataset(const Comm& comm, const DatasetRef& ref, std::uint64_t rows) {
  LabelDataset opened;
  opened.file = open_file_parallel(comm, ref.file);
  run_agreed(comm, [&] {
    if (ref.path.empty() || ref.path[0] != '/')
      throw Error("dataset path '" + ref.path + "' must start with '/'");
    if (!h5::path_exists(opened.file.get(), ref.path)) throw Error("no dataset " + ref.text());
    opened.dataset = Hid(H5Dopen2(opened.file.get(), ref.path.c_str(), H5P_DEFAULT), H5Dclose);
    if (opened.dataset.get() < 0) throw Error("no dataset " + ref.text());
    Hid type(checked(H5Dget_type(opened.dataset.get()), "H5Dget_type"), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_INTEGER)  // H5T_NO_CLASS when the call fails
      throw Error("labels " + ref.text() + " must be integers");
    const std::size_t bytes = H5Tget_size(type.get());
    if (bytes == 0) throw Error("HDF5: H5Tget_size of " + ref.text() + " failed" + h5::error_stack_detail());
    if (bytes > 8) throw Error("labels " + ref.text() + " are integers of more than 64 bits");
    const H5T_sign_t sign = H5Tget_sign(type.get());
    if (sign == H5T_SGN_ERROR) throw Error("HDF5: H5Tget_sign of " + ref.text() + " failed" + h5::error_stack_detail());
    // HDF5 clips what does not fit the memory type: unsigned 64-bit values are read as such.
    opened.unsigned_64 = bytes == 8 && sign == H5T_SGN_NONE;
    opened.fits_int32 = sign == H5T_SGN_NONE ? bytes <= 2 : bytes <= 4;
    Hid space(checked(H5Dget_space(opened.dataset.get()), "H5Dget_space"), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0) throw Error("HDF5: the extent of " + ref.text() + " cannot be read" + h5::error_stack_detail());
    hsize_t dims[2] = {0, 0};
    if (rank >= 1 && rank <= 2)
      checked_status(H5Sget_simple_extent_dims(space.get(), dims, nullptr), "H5Sget_simple_extent_dims");
    if (rank < 1 || rank > 2 || (rank == 2 && dims[1] != 1))
      throw Error("labels " + ref.text() + " must be a vector (n or n x 1)");
    if (dims[0] != rows)
      throw Error("labels " + ref.text() + " have " + std::to_string(dims[0]) +
                  " entries but the data has " + std::to_string(rows) + " rows");
  });
  return opened;
}

// Collective over comm: this rank's block of the labels into `Int` (int32 only where the
// dataset fits_int32), with one collective read.
template <class Int>
std::vector<Int> read_label_block(const Comm& comm, const LabelDataset& opened, const DatasetRef& ref,
                                  std::uint64_t rows) {
  static_assert(sizeof(Int) == 4 || sizeof(Int) == 8);
  const RowRange mine = block_rows(rows, comm.size(), comm.rank());
  std::vector<Int> labels;
  run_agreed(comm, [&] {
    allocating("the rank's " + std::to_string(mine.size()) + " labels of " + ref.text(),
               static_cast<double>(mine.size()) * sizeof(Int), [&] { labels.resize(mine.size()); });
    Hid file_space(checked(H5Dget_space(opened.dataset.get()), "H5Dget_space"), H5Sclose);
    const hsize_t start[2] = {mine.begin, 0}, count[2] = {mine.size(), 1};
    const hsize_t memory_dims[1] = {std::max<hsize_t>(mine.size(), 1)};
    Hid memory_space(checked(H5Screate_simple(1, memory_dims, nullptr), "H5Screate_simple"),
                     H5Sclose);
    if (mine.size() == 0) {
      checked_status(H5Sselect_none(file_space.get()), "H5Sselect_none");
      checked_status(H5Sselect_none(memory_space.get()), "H5Sselect_none");
    } else {
      checked_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr),
                     "select rows of " + ref.text());
    }
    const Hid dxpl = h5::collective_transfer();
    const hid_t memory_type = sizeof(Int) == 4       ? H5T_NATIVE_INT32
                              : opened.unsigned_64 ? H5T_NATIVE_UINT64
                                                   : H5T_NATIVE_INT64;
    Int placeholder = 0;
    if (H5Dread(opened.dataset.get(), memory_type, memory_space.get(), file_space.get(), dxpl.get(),
                mine.size() ? labels.data() : &placeholder) < 0)
      throw Error("cannot read " + ref.text() + " as " + std::to_string(8 * sizeof(Int)) + "-bit integers");
    if constexpr (sizeof(Int) == 8)
      if (opened.unsigned_64)
        for (std::size_t i = 0; i < labels.size(); ++i)
          if (labels[i] < 0)  // above 2^63 - 1 as unsigned
            throw Error("labels " + ref.text() + ": row " + std::to_string(mine.begin + i) + " holds " +
                        std::to_string(static_cast<std::uint64_t>(labels[i])) +
                        ", above the largest label supported (2^63 - 1)");
  });
  return labels;
}

}  // namespace

std::vector<std::int64_t> read_label_values(const Comm& comm, const DatasetRef& ref, std::uint64_t rows) {
  return read_label_block<std::int64_t>(comm, open_label_dataset(comm, ref, rows), ref, rows);
}

std::vector<std::int32_t> read_labels(const Comm& comm, const DatasetRef& ref, std::uint64_t rows) {
  const LabelDataset opened = open_label_dataset(comm, ref, rows);
  if (opened.fits_int32) return read_label_block<std::int32_t>(comm, opened, ref, rows);
  const std::vector<std::int64_t> values = read_label_block<std::int64_t>(comm, opened, ref, rows);
  const std::uint64_t first = block_rows(rows, comm.size(), comm.rank()).begin;
  std::vector<std::int32_t> labels;
  run_agreed(comm, [&] {
    allocating("the rank's " + std::to_string(values.size()) + " labels of " + ref.text(),
               static_cast<double>(values.size()) * 4, [&] { labels.resize(values.size()); });
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (values[i] < std::numeric_limits<std::int32_t>::min() ||
          values[i] > std::numeric_limits<std::int32_t>::max())
        throw Error("labels " + ref.text() + ": row " + std::to_string(first + i) + " holds " +
                    std::to_string(values[i]) + ", outside the 32-bit cluster indices");
      labels[i] = static_cast<std::int32_t>(values[i]);
    }
  });
  return labels;
}

namespace {

template <class Int>
std::vector<ValueCount> count_values_of(std::span<const Int> values) {
  // Labels hold few distinct values: counted into a short sorted list, without a sorted copy
  // of every value (one per row). Past kFewValues distinct ones the copy is cheaper.
  constexpr std::size_t kFewValues = 4096;
  std::vector<ValueCount> counts;
  for (const Int label : values) {
    const std::int64_t value = label;
    const auto at = std::lower_bound(counts.begin(), counts.end(), value,
                                     [](const ValueCount& c, std::int64_t v) { return c.value < v; });
    if (at != counts.end() && at->value == value) {
      ++at->count;
      continue;
    }
    if (counts.size() == kFewValues) {
      counts.clear();
      break;
    }
    counts.insert(at, {value, 1});
  }
  if (!counts.empty() || values.empty()) return counts;
  std::vector<Int> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    counts.push_back({sorted[i], static_cast<std::int64_t>(j - i)});
    i = j;
  }
  return counts;
}

}  // namespace

std::vector<ValueCount> count_values(std::span<const std::int64_t> values) { return count_values_of(values); }
std::vector<ValueCount> count_values(std::span<const std::int32_t> values) { return count_values_of(values); }

namespace {

// Point-to-point and broadcast of ValueCount lists as pairs of int64, in pieces that keep
// MPI's int counts in range.
constexpr std::size_t kPieceEntries = std::size_t{1} << 27;
constexpr int kCountsTag = 71;

void send_counts(const Comm& comm, const std::vector<ValueCount>& list, int to) {
  const std::uint64_t size = list.size();
  check_mpi(MPI_Send(&size, 1, MPI_UINT64_T, to, kCountsTag, comm.get()), "MPI_Send");
  for (std::size_t at = 0; at < list.size(); at += kPieceEntries) {
    const auto piece = static_cast<int>(std::min(kPieceEntries, list.size() - at));
    check_mpi(MPI_Send(&list[at], 2 * piece, MPI_INT64_T, to, kCountsTag, comm.get()), "MPI_Send");
  }
}

std::vector<ValueCount> receive_counts(const Comm& comm, int from) {
  std::uint64_t size = 0;
  check_mpi(MPI_Recv(&size, 1, MPI_UINT64_T, from, kCountsTag, comm.get(), MPI_STATUS_IGNORE), "MPI_Recv");
  std::vector<ValueCount> list(size);
  for (std::size_t at = 0; at < list.size(); at += kPieceEntries) {
    const auto piece = static_cast<int>(std::min(kPieceEntries, list.size() - at));
    check_mpi(MPI_Recv(&list[at], 2 * piece, MPI_INT64_T, from, kCountsTag, comm.get(), MPI_STATUS_IGNORE),
              "MPI_Recv");
  }
  return list;
}

std::vector<ValueCount> merge_counts(const std::vector<ValueCount>& a, const std::vector<ValueCount>& b) {
  std::vector<ValueCount> merged;
  merged.reserve(a.size() + b.size());
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].value < b[j].value)) {
      merged.push_back(a[i++]);
    } else if (i == a.size() || b[j].value < a[i].value) {
      merged.push_back(b[j++]);
    } else {
      merged.push_back({a[i].value, a[i].count + b[j].count});
      ++i;
      ++j;
    }
  }
  return merged;
}

}  // namespace

std::vector<ValueCount> sum_counts(const Comm& comm, std::vector<ValueCount> local) {
  static_assert(sizeof(ValueCount) == 2 * sizeof(std::int64_t));
  const int rank = comm.rank(), size = comm.size();
  // A rank with bit `step` set hands its list to rank - step and is done; the others take
  // the list of rank + step. Rank 0 ends with the union.
  for (int step = 1; step < size; step *= 2) {
    if (rank & step) {
      send_counts(comm, local, rank - step);
      break;
    }
    if (rank + step < size) local = merge_counts(local, receive_counts(comm, rank + step));
  }
  std::uint64_t total = rank == 0 ? local.size() : 0;
  comm.bcast(std::span<std::uint64_t>(&total, 1), 0);
  local.resize(total);
  for (std::size_t at = 0; at < local.size(); at += kPieceEntries) {
    const auto piece = static_cast<int>(std::min(kPieceEntries, local.size() - at));
    check_mpi(MPI_Bcast(&local[at], 2 * piece, MPI_INT64_T, 0, comm.get()), "MPI_Bcast");
  }
  return local;
}

namespace {

// Collective over comm: the distinct values of every rank's labels, ascending, identical on
// every rank.
std::vector<std::int64_t> distinct_values(const Comm& comm, std::vector<ValueCount> local) {
  const std::vector<ValueCount> counts = sum_counts(comm, std::move(local));
  if (counts.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
    throw AgreedError("labels hold " + std::to_string(counts.size()) +
                      " distinct values; at most 2^31 - 1 are supported");
  std::vector<std::int64_t> values;
  values.reserve(counts.size());
  for (const ValueCount& c : counts) values.push_back(c.value);
  return values;
}

}  // namespace

EncodedLabels encode_labels(const Comm& comm, std::span<const std::int64_t> labels) {
  EncodedLabels encoded;
  encoded.values = distinct_values(comm, count_values(labels));
  encoded.codes.resize(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i)
    encoded.codes[i] = static_cast<std::int32_t>(
        std::lower_bound(encoded.values.begin(), encoded.values.end(), labels[i]) - encoded.values.begin());
  return encoded;
}

EncodedLabels read_encoded_labels(const Comm& comm, const DatasetRef& ref, std::uint64_t rows) {
  const LabelDataset opened = open_label_dataset(comm, ref, rows);
  if (!opened.fits_int32) return encode_labels(comm, read_label_block<std::int64_t>(comm, opened, ref, rows));
  // The values themselves are read into what becomes their codes, then encoded in place.
  EncodedLabels encoded;
  encoded.codes = read_label_block<std::int32_t>(comm, opened, ref, rows);
  encoded.values = distinct_values(comm, count_values(std::span<const std::int32_t>(encoded.codes)));
  for (std::int32_t& label : encoded.codes)
    label = static_cast<std::int32_t>(
        std::lower_bound(encoded.values.begin(), encoded.values.end(), std::int64_t{label}) - encoded.values.begin());
  return encoded;
}

std::int64_t LabelCounts::distinct() const {
  return std::count_if(counts.begin(), counts.end(), [](std::int64_t c) { return c > 0; });
}

LabelCounts count_labels(const Comm& comm, std::span<const std::int32_t> labels) {
  std::int32_t bounds[2] = {std::numeric_limits<std::int32_t>::max(),
                            std::numeric_limits<std::int32_t>::max()};  // min, -max
  for (const std::int32_t label : labels) {
    bounds[0] = std::min(bounds[0], label);
    bounds[1] = std::min(bounds[1], static_cast<std::int32_t>(-label));
  }
  comm.allreduce(std::span<std::int32_t>(bounds, 2), MPI_MIN);
  LabelCounts result;
  if (bounds[0] == std::numeric_limits<std::int32_t>::max()) return result;  // no labels
  result.min = bounds[0];
  result.max = -bounds[1];
  const std::int64_t width = std::int64_t{result.max} - result.min + 1;
  comm.agree(width > (std::int64_t{1} << 24)
                 ? std::optional<std::string>("label values span " + std::to_string(width) +
                                              " integers; at most 2^24 are supported")
                 : std::nullopt);
  result.counts.assign(static_cast<std::size_t>(width), 0);
  for (const std::int32_t label : labels)
    ++result.counts[static_cast<std::size_t>(label - result.min)];
  comm.allreduce(std::span<std::int64_t>(result.counts), MPI_SUM);
  return result;
}

std::int32_t check_cluster_labels(const Comm& comm, std::span<const std::int32_t> labels,
                                  const char* what) {
  std::int32_t lowest = std::numeric_limits<std::int32_t>::max(), highest = -1;
  for (const std::int32_t label : labels) {
    lowest = std::min(lowest, label);
    highest = std::max(highest, label);
  }
  lowest = comm.allreduce(lowest, MPI_MIN);
  highest = comm.allreduce(highest, MPI_MAX);
  if (lowest < 0)
    throw AgreedError(std::string(what) + " contain a negative label (" + std::to_string(lowest) +
                      "); cluster labels must be 0..k-1");
  if (highest >= (1 << 20))
    throw AgreedError(std::string(what) + " need " + std::to_string(std::int64_t{highest} + 1) +
                      " clusters; at most 2^20 are supported");
  return highest + 1;
}

}  // namespace lloyd
