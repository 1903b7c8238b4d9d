#include "lloyd/io/csr.hpp"
#include "lloyd/value_range.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

namespace lloyd {

namespace {

using h5::checked;
using h5::checked_status;

// One 1-D dataset of a CSR group, checked for its element class; returns its length.
std::uint64_t open_member(hid_t group, const DatasetRef& ref, const char* name,
                          H5T_class_t expected, Hid& dataset) {
  if (H5Lexists(group, name, H5P_DEFAULT) <= 0)
    throw Error("sparse matrix " + ref.text() + " has no '" + name +
                "' dataset (a CSR group holds data, indices and indptr)");
  dataset = Hid(checked(H5Dopen2(group, name, H5P_DEFAULT), std::string("open ") + name), H5Dclose);
  Hid space(checked(H5Dget_space(dataset.get()), "H5Dget_space"), H5Sclose);
  if (H5Sget_simple_extent_ndims(space.get()) != 1)
    throw Error("sparse matrix " + ref.text() + ": '" + name + "' is not 1-D");
  hsize_t length = 0;
  checked_status(H5Sget_simple_extent_dims(space.get(), &length, nullptr), "H5Sget_simple_extent_dims");
  // Created with some length but never written: nothing of it came from the file (and the
  // length, read as rows, could claim any memory).
  if (!h5::storage_allocated(dataset.get()))
    throw Error("sparse matrix " + ref.text() + ": '" + name + "' (" + std::to_string(length) +
                " entries) has no stored values");
  Hid type(checked(H5Dget_type(dataset.get()), "H5Dget_type"), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  if (type_class != expected)
    throw Error("sparse matrix " + ref.text() + ": '" + name + "' has " +
                (type_class == H5T_FLOAT ? "float" : type_class == H5T_INTEGER ? "integer" : "non-numeric") +
                " elements; expected " + (expected == H5T_FLOAT ? "float32 or float64" : "integers"));
  if (expected == H5T_FLOAT && H5Tget_size(type.get()) != 4 && H5Tget_size(type.get()) != 8)
    throw Error("sparse matrix " + ref.text() + ": 'data' must be float32 or float64");
  return length;
}

struct CsrMembers {
  Hid group, data, indices, indptr;
  std::uint64_t values = 0;  // length of data
  MatrixShape shape;
  bool indices_fit_int32 = false;  // read straight into the shard's int32 column indices
};

// Whether every value of an integer dataset fits an int32: signed types of up to 32 bits,
// unsigned ones of up to 16 (HDF5 would clip the others when it converts them).
bool integers_fit_int32(hid_t dataset) {
  Hid type(checked(H5Dget_type(dataset), "H5Dget_type"), H5Tclose);
  const std::size_t bytes = H5Tget_size(type.get());
  return H5Tget_sign(type.get()) == H5T_SGN_NONE ? bytes <= 2 : bytes <= 4;
}

CsrMembers open_csr(hid_t file, const DatasetRef& ref) {
  CsrMembers m;
  m.group = Hid(checked(H5Gopen2(file, ref.path.c_str(), H5P_DEFAULT), "open " + ref.text()), H5Gclose);
  if (H5Aexists(m.group.get(), "shape") <= 0)
    throw Error("sparse matrix " + ref.text() + " has no 'shape' attribute ([rows, columns])");
  {
    Hid attribute(checked(H5Aopen(m.group.get(), "shape", H5P_DEFAULT), "open attribute shape"), H5Aclose);
    Hid space(checked(H5Aget_space(attribute.get()), "H5Aget_space"), H5Sclose);
    Hid type(checked(H5Aget_type(attribute.get()), "H5Aget_type"), H5Tclose);
    if (H5Sget_simple_extent_npoints(space.get()) != 2 || H5Tget_class(type.get()) != H5T_INTEGER)
      throw Error("sparse matrix " + ref.text() + ": attribute 'shape' must be two integers [rows, columns]");
    std::int64_t dims[2] = {0, 0};
    checked_status(H5Aread(attribute.get(), H5T_NATIVE_INT64, dims), "read attribute shape");
    if (dims[0] <= 0) throw Error("sparse matrix " + ref.text() + " has no rows");
    if (dims[1] <= 0) throw Error("sparse matrix " + ref.text() + " has no columns");
    if (dims[1] > std::numeric_limits<std::int32_t>::max())
      throw Error("sparse matrix " + ref.text() + " has more than 2^31 - 1 columns");
    m.shape.rows = static_cast<std::uint64_t>(dims[0]);
    m.shape.cols = static_cast<std::uint64_t>(dims[1]);
  }
  m.values = open_member(m.group.get(), ref, "data", H5T_FLOAT, m.data);
  const std::uint64_t index_count = open_member(m.group.get(), ref, "indices", H5T_INTEGER, m.indices);
  const std::uint64_t pointer_count = open_member(m.group.get(), ref, "indptr", H5T_INTEGER, m.indptr);
  if (index_count != m.values)
    throw Error("sparse matrix " + ref.text() + ": 'data' has " + std::to_string(m.values) +
                " values but 'indices' has " + std::to_string(index_count));
  if (pointer_count != m.shape.rows + 1)
    throw Error("sparse matrix " + ref.text() + ": 'indptr' has " + std::to_string(pointer_count) +
                " entries; expected rows + 1 = " + std::to_string(m.shape.rows + 1));
  m.indices_fit_int32 = integers_fit_int32(m.indices.get());
  Hid type(checked(H5Dget_type(m.data.get()), "H5Dget_type"), H5Tclose);
  m.shape.type = H5Tget_size(type.get()) == 4 ? ElementType::Float32 : ElementType::Float64;
  m.shape.sparse = true;
  m.shape.nonzeros = m.values;
  return m;
}

// Collective over the file's communicator: elements [start, start + count) of a 1-D dataset.
template <class T>
void read_range(hid_t dataset, std::uint64_t start, std::uint64_t count, T* out, const std::string& what) {
  Hid file_space(checked(H5Dget_space(dataset), "H5Dget_space"), H5Sclose);
  const hsize_t memory_count = std::max<hsize_t>(count, 1);
  Hid memory_space(checked(H5Screate_simple(1, &memory_count, nullptr), "H5Screate_simple"), H5Sclose);
  if (count == 0) {
    checked_status(H5Sselect_none(file_space.get()), "H5Sselect_none");
    checked_status(H5Sselect_none(memory_space.get()), "H5Sselect_none");
  } else {
    const hsize_t first = start, length = count;
    checked_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &first, nullptr, &length, nullptr),
                   "select " + what);
  }
  Hid dxpl = h5::collective_transfer();
  T placeholder{};
  checked_status(H5Dread(dataset, h5::native_type<T>(), memory_space.get(), file_space.get(), dxpl.get(),
                         count ? out : &placeholder),
                 "read " + what);
}

// The first column index outside [0, columns) met while narrowing 64-bit indices, with its
// value as stored (the shard holds -1 in its place).
struct OutOfRangeIndex {
  std::uint64_t element = 0;
  std::int64_t value = 0;
};

// Collective over comm: the column indices [start, start + count) into `out` (int32). Types
// that fit are read straight in; 64-bit (and unsigned 32-bit) ones a piece of kPiece at a
// time through an int64 buffer, every rank taking part in as many collective reads as the
// rank with the most values, so that no int64 copy of them all (8 bytes a value) is held.
std::optional<OutOfRangeIndex> read_column_indices(const Comm& comm, const CsrMembers& members, std::uint64_t start,
                                                   std::uint64_t count, std::int32_t* out, std::int64_t columns,
                                                   const std::string& what) {
  if (members.indices_fit_int32) {
    read_range(members.indices.get(), start, count, out, what);
    return std::nullopt;
  }
  constexpr std::uint64_t kPiece = std::uint64_t{1} << 17;
  const std::uint64_t pieces = comm.allreduce((count + kPiece - 1) / kPiece, MPI_MAX);
  std::vector<std::int64_t> buffer(std::min(count, kPiece));
  std::optional<OutOfRangeIndex> first_bad;
  for (std::uint64_t p = 0; p < pieces; ++p) {
    const std::uint64_t at = std::min(p * kPiece, count), length = std::min(kPiece, count - at);
    read_range(members.indices.get(), start + at, length, buffer.data(), what);
    for (std::uint64_t e = 0; e < length; ++e) {
      const std::int64_t column = buffer[e];
      const bool inside = column >= 0 && column < columns;
      if (!inside && !first_bad) first_bad = OutOfRangeIndex{at + e, column};
      out[at + e] = inside ? static_cast<std::int32_t>(column) : -1;
    }
  }
  return first_bad;
}

}  // namespace

bool is_csr_group(hid_t file, const DatasetRef& ref) {
  if (ref.path.empty() || ref.path[0] != '/') return false;
  H5O_info_t info;
  return H5Oget_info_by_name(file, ref.path.c_str(), &info, H5P_DEFAULT) >= 0 &&
         info.type == H5O_TYPE_GROUP;
}

MatrixShape inspect_csr(hid_t file, const DatasetRef& ref) { return open_csr(file, ref).shape; }

template <class T>
CsrShard<T> read_csr_shard(const Comm& comm, const DatasetRef& ref, const MatrixShape& shape) {
  Hid file = open_file_parallel(comm, ref.file);
  CsrMembers members;
  run_agreed(comm, [&] { members = open_csr(file.get(), ref); });
  const std::string name = "sparse matrix " + ref.text();
  const std::uint64_t n = shape.rows, values = members.values;

  const RowRange mine = block_rows(n, comm.size(), comm.rank());
  CsrShard<T> shard;
  shard.global_rows = n;
  shard.first_row = mine.begin;
  shard.columns = shape.cols;
  // indptr[begin .. end] (one entry more than the rows: the neighbours' slices overlap by one,
  // so every step between two rows is checked by some rank).
  shard.indptr.assign(mine.size() + 1, 0);
  run_agreed(comm, [&] {
    read_range(members.indptr.get(), mine.begin, mine.size() + 1, shard.indptr.data(), ref.text() + "/indptr");
  });
  run_agreed(comm, [&] {
    const auto& ptr = shard.indptr;
    if (mine.begin == 0 && ptr[0] != 0)
      throw Error(name + ": indptr[0] is " + std::to_string(ptr[0]) + "; expected 0");
    for (std::size_t i = 0; i + 1 < ptr.size(); ++i)
      if (ptr[i + 1] < ptr[i])
        throw Error(name + ": indptr decreases at row " + std::to_string(mine.begin + i) + " (" +
                    std::to_string(ptr[i]) + " then " + std::to_string(ptr[i + 1]) + ")");
    for (std::size_t i = 0; i < ptr.size(); ++i)
      if (ptr[i] < 0 || static_cast<std::uint64_t>(ptr[i]) > values)
        throw Error(name + ": indptr[" + std::to_string(mine.begin + i) + "] = " + std::to_string(ptr[i]) +
                    " lies outside [0, " + std::to_string(values) + "] (the number of values)");
    if (mine.end == n && static_cast<std::uint64_t>(ptr.back()) != values)
      throw Error(name + ": indptr ends at " + std::to_string(ptr.back()) + " but 'data' has " +
                  std::to_string(values) + " values");
  });

  const auto first_value = static_cast<std::uint64_t>(shard.indptr.front());
  const auto local_values = static_cast<std::uint64_t>(shard.indptr.back()) - first_value;
  // The column indices go straight into the shard's int32 array (an int64 staging copy of
  // them cost 8 bytes a stored value, as much again as the shard's indices and values).
  shard.indices.resize(local_values);
  shard.values.resize(local_values);
  std::optional<OutOfRangeIndex> out_of_range;
  run_agreed(comm, [&] {
    out_of_range = read_column_indices(comm, members, first_value, local_values, shard.indices.data(),
                                       static_cast<std::int64_t>(shape.cols), ref.text() + "/indices");
    read_range(members.data.get(), first_value, local_values, shard.values.data(), ref.text() + "/data");
  });
  auto& columns = shard.indices;
  for (auto& offset : shard.indptr) offset -= static_cast<std::int64_t>(first_value);

  run_agreed(comm, [&] {
    const auto d = static_cast<std::int64_t>(shape.cols);
    const double limit = largest_accepted_magnitude<T>(shape.cols);
    std::vector<std::pair<std::int32_t, T>> entries;
    for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
      const auto lo = static_cast<std::size_t>(shard.row_begin(i)), hi = static_cast<std::size_t>(shard.row_end(i));
      const std::string row = "row " + std::to_string(shard.global_index(i));
      for (std::size_t e = lo; e < hi; ++e) {
        if (columns[e] < 0 || columns[e] >= d)
          throw Error(name + ": " + row + " has column index " +
                      std::to_string(out_of_range && out_of_range->element == e ? out_of_range->value
                                                                                 : std::int64_t{columns[e]}) +
                      " outside [0, " + std::to_string(d) + ")");
        if (!accepted_value(shard.values[e], limit))  // see largest_accepted_magnitude
          throw Error(refused_value_message(name, shard.global_index(i), static_cast<std::uint64_t>(columns[e]),
                                            shard.values[e], shape.cols));
      }
      if (!std::is_sorted(columns.begin() + static_cast<std::ptrdiff_t>(lo),
                          columns.begin() + static_cast<std::ptrdiff_t>(hi))) {
        entries.clear();
        for (std::size_t e = lo; e < hi; ++e) entries.emplace_back(columns[e], shard.values[e]);
        std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        for (std::size_t e = lo; e < hi; ++e) std::tie(columns[e], shard.values[e]) = entries[e - lo];
      }
      for (std::size_t e = lo + 1; e < hi; ++e)
        if (columns[e] == columns[e - 1])
          throw Error(name + ": " + row + " has column " + std::to_string(columns[e]) + " more than once");
    }
  });
  return shard;
}

template <class T>
void write_csr(const Comm& comm, OutputFile& file, const std::string& group, const CsrShard<T>& shard) {
  const std::uint64_t local_values = shard.nonzeros();
  const std::vector<std::uint64_t> counts = comm.allgatherv(std::span<const std::uint64_t>(&local_values, 1));
  const std::uint64_t offset = std::accumulate(counts.begin(), counts.begin() + comm.rank(), std::uint64_t{0});
  const std::uint64_t total = std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});

  file.create_group(group);
  file.write_distributed(group + "/data", shard.values.data(), local_values, offset, total, 0);
  file.write_distributed(group + "/indices", shard.indices.data(), local_values, offset, total, 0);
  // Each rank writes the offsets of its rows; the last rank also the closing entry.
  const bool last = comm.rank() == comm.size() - 1;
  std::vector<std::int64_t> pointers;
  for (Eigen::Index i = 0; i < shard.local_rows() + (last ? 1 : 0); ++i)
    pointers.push_back(static_cast<std::int64_t>(offset) + shard.indptr[static_cast<std::size_t>(i)]);
  file.write_distributed(group + "/indptr", pointers.data(), pointers.size(), shard.first_row,
                         shard.global_rows + 1, 0);

  file.collective_step([&] {
    Hid handle(checked(H5Gopen2(file.root(), group.c_str(), H5P_DEFAULT), "open " + group), H5Gclose);
    const std::int64_t dims[2] = {static_cast<std::int64_t>(shard.global_rows),
                                  static_cast<std::int64_t>(shard.columns)};
    const hsize_t two = 2;
    Hid space(checked(H5Screate_simple(1, &two, nullptr), "H5Screate_simple"), H5Sclose);
    Hid attribute(checked(H5Acreate2(handle.get(), "shape", H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                          "create attribute shape"),
                  H5Aclose);
    checked_status(H5Awrite(attribute.get(), H5T_NATIVE_INT64, dims), "write attribute shape");
    // anndata's names for this layout, so that its readers recognise the group.
    write_attribute(handle.get(), "encoding-type", std::string("csr_matrix"));
    write_attribute(handle.get(), "encoding-version", std::string("0.1.0"));
  });
}

void write_strings(const Comm& comm, OutputFile& file, const std::string& name,
                   const std::vector<std::string>& local, std::uint64_t first, std::uint64_t total) {
  std::uint64_t width = 1;
  for (const auto& text : local) width = std::max<std::uint64_t>(width, text.size());
  width = comm.allreduce(width, MPI_MAX);
  file.collective_step([&] {
    Hid type(checked(H5Tcopy(H5T_C_S1), "H5Tcopy"), H5Tclose);
    checked_status(H5Tset_size(type.get(), width), "H5Tset_size");
    checked_status(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), "H5Tset_strpad");
    checked_status(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset");
    const hsize_t dims = total;
    Hid file_space(checked(H5Screate_simple(1, &dims, nullptr), "H5Screate_simple"), H5Sclose);
    Hid dataset(checked(H5Dcreate2(file.root(), name.c_str(), type.get(), file_space.get(), H5P_DEFAULT,
                                   H5P_DEFAULT, H5P_DEFAULT),
                        "create dataset " + name),
                H5Dclose);
    file.reserve_storage(dataset.get(), name);
    if (total == 0) return;
    std::vector<char> buffer(std::max<std::size_t>(local.size(), 1) * width, '\0');
    for (std::size_t i = 0; i < local.size(); ++i) std::copy(local[i].begin(), local[i].end(), buffer.begin() + i * width);
    const hsize_t count = std::max<hsize_t>(local.size(), 1);
    Hid memory_space(checked(H5Screate_simple(1, &count, nullptr), "H5Screate_simple"), H5Sclose);
    if (local.empty()) {
      checked_status(H5Sselect_none(file_space.get()), "H5Sselect_none");
      checked_status(H5Sselect_none(memory_space.get()), "H5Sselect_none");
    } else {
      const hsize_t start = first, length = local.size();
      checked_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &length, nullptr),
                     "select " + name);
    }
    Hid dxpl = h5::collective_transfer();
    checked_status(H5Dwrite(dataset.get(), type.get(), memory_space.get(), file_space.get(), dxpl.get(), buffer.data()),
                   "write " + name);
  });
}

StringDataset::StringDataset(const std::string& file_name, const std::string& name)
    : file_name_(file_name), name_(name), file_(open_file(file_name, "file")) {
  if (H5Lexists(file_.get(), name.c_str(), H5P_DEFAULT) <= 0)
    throw Error("'" + file_name + "' has no dataset '" + name + "'");
  dataset_ = Hid(checked(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT), "open " + name), H5Dclose);
  type_ = Hid(checked(H5Dget_type(dataset_.get()), "H5Dget_type"), H5Tclose);
  Hid space(checked(H5Dget_space(dataset_.get()), "H5Dget_space"), H5Sclose);
  if (H5Tget_class(type_.get()) != H5T_STRING || H5Sget_simple_extent_ndims(space.get()) != 1)
    throw Error(file_name + ":" + name + " is not a 1-D string dataset");
  size_ = static_cast<std::uint64_t>(H5Sget_simple_extent_npoints(space.get()));
}

std::vector<std::string> StringDataset::read(std::uint64_t first, std::uint64_t count) const {
  std::vector<std::string> strings;
  if (count == 0) return strings;
  strings.reserve(count);
  Hid space(checked(H5Dget_space(dataset_.get()), "H5Dget_space"), H5Sclose);
  const hsize_t start = first, length = count;
  checked_status(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, &start, nullptr, &length, nullptr),
                 "select " + name_);
  Hid memory_space(checked(H5Screate_simple(1, &length, nullptr), "H5Screate_simple"), H5Sclose);
  if (H5Tis_variable_str(type_.get()) > 0) {
    Hid memory_type(checked(H5Tcopy(H5T_C_S1), "H5Tcopy"), H5Tclose);
    checked_status(H5Tset_size(memory_type.get(), H5T_VARIABLE), "H5Tset_size");
    std::vector<char*> pointers(count, nullptr);
    checked_status(H5Dread(dataset_.get(), memory_type.get(), memory_space.get(), space.get(), H5P_DEFAULT,
                           pointers.data()),
                   "read " + name_);
    for (char* text : pointers) strings.emplace_back(text ? text : "");
    checked_status(H5Dvlen_reclaim(memory_type.get(), memory_space.get(), H5P_DEFAULT, pointers.data()),
                   "H5Dvlen_reclaim");
  } else {
    const std::size_t width = H5Tget_size(type_.get());
    std::vector<char> buffer(count * width);
    checked_status(H5Dread(dataset_.get(), type_.get(), memory_space.get(), space.get(), H5P_DEFAULT, buffer.data()),
                   "read " + name_);
    for (std::size_t i = 0; i < count; ++i) {
      const char* text = buffer.data() + i * width;
      strings.emplace_back(text, strnlen(text, width));
    }
  }
  return strings;
}

std::vector<std::string> read_strings(const std::string& file_name, const std::string& name) {
  const StringDataset strings(file_name, name);
  return strings.read(0, strings.size());
}

template <class T>
CsrShard<T> read_rows_as_csr(const Comm& comm, const DatasetRef& ref, const MatrixShape& shape) {
  return shape.sparse ? read_csr_shard<T>(comm, ref, shape) : to_csr(read_shard<T>(comm, ref, shape));
}

template CsrShard<float> read_rows_as_csr(const Comm&, const DatasetRef&, const MatrixShape&);
template CsrShard<double> read_rows_as_csr(const Comm&, const DatasetRef&, const MatrixShape&);
template CsrShard<float> read_csr_shard(const Comm&, const DatasetRef&, const MatrixShape&);
template CsrShard<double> read_csr_shard(const Comm&, const DatasetRef&, const MatrixShape&);
template void write_csr(const Comm&, OutputFile&, const std::string&, const CsrShard<float>&);
template void write_csr(const Comm&, OutputFile&, const std::string&, const CsrShard<double>&);

}  // namespace lloyd
