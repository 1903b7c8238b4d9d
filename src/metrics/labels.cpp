#include "lloyd/metrics/labels.hpp"

#include <algorithm>
#include <limits>

namespace lloyd {

namespace {
hid_t checked(hid_t id, const std::string& what) {
  if (id < 0) throw Error("HDF5 call failed: " + what);
  return id;
}
}  // namespace

std::vector<std::int32_t> read_labels(const Comm& comm, const DatasetRef& ref, std::uint64_t rows) {
  Hid file = open_file_parallel(comm, ref.file);
  Hid dataset;
  run_agreed(comm, [&] {
    if (ref.path.empty() || ref.path[0] != '/')
      throw Error("dataset path '" + ref.path + "' must start with '/'");
    for (std::size_t pos = 1;; ++pos) {  // walk the path: H5Lexists fails on missing groups
      const std::size_t next = ref.path.find('/', pos);
      const std::string prefix = ref.path.substr(0, next);
      if (H5Lexists(file.get(), prefix.c_str(), H5P_DEFAULT) <= 0)
        throw Error("no dataset " + ref.text());
      if (next == std::string::npos) break;
      pos = next;
    }
    dataset = Hid(H5Dopen2(file.get(), ref.path.c_str(), H5P_DEFAULT), H5Dclose);
    if (dataset.get() < 0) throw Error("no dataset " + ref.text());
    Hid type(checked(H5Dget_type(dataset.get()), "H5Dget_type"), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_INTEGER)
      throw Error("labels " + ref.text() + " must be integers");
    Hid space(checked(H5Dget_space(dataset.get()), "H5Dget_space"), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    hsize_t dims[2] = {0, 0};
    H5Sget_simple_extent_dims(space.get(), dims, nullptr);
    if (rank < 1 || rank > 2 || (rank == 2 && dims[1] != 1))
      throw Error("labels " + ref.text() + " must be a vector (n or n x 1)");
    if (dims[0] != rows)
      throw Error("labels " + ref.text() + " have " + std::to_string(dims[0]) +
                  " entries but the data has " + std::to_string(rows) + " rows");
  });

  const RowRange mine = block_rows(rows, comm.size(), comm.rank());
  std::vector<std::int32_t> labels(mine.size());
  run_agreed(comm, [&] {
    Hid file_space(checked(H5Dget_space(dataset.get()), "H5Dget_space"), H5Sclose);
    const int ndims = H5Sget_simple_extent_ndims(file_space.get());
    const hsize_t start[2] = {mine.begin, 0}, count[2] = {mine.size(), 1};
    const hsize_t memory_dims[1] = {std::max<hsize_t>(mine.size(), 1)};
    Hid memory_space(checked(H5Screate_simple(1, memory_dims, nullptr), "H5Screate_simple"),
                     H5Sclose);
    if (mine.size() == 0) {
      H5Sselect_none(file_space.get());
      H5Sselect_none(memory_space.get());
    } else if (H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count,
                                   nullptr) < 0) {
      throw Error("cannot select rows of " + ref.text());
    }
    (void)ndims;
    Hid dxpl(checked(H5Pcreate(H5P_DATASET_XFER), "H5Pcreate"), H5Pclose);
    H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_COLLECTIVE);
    std::int32_t placeholder = 0;
    if (H5Dread(dataset.get(), H5T_NATIVE_INT32, memory_space.get(), file_space.get(), dxpl.get(),
                mine.size() ? labels.data() : &placeholder) < 0)
      throw Error("cannot read " + ref.text() + " as 32-bit integers");
  });
  return labels;
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
    throw AgreedError(std::string(what) + " contain label " + std::to_string(highest) +
                      "; at most 2^20 clusters are supported");
  return highest + 1;
}

}  // namespace lloyd
