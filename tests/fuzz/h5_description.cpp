#include "h5_description.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cstring>

#include "lloyd/io/hdf5.hpp"

namespace lloyd::fuzz {

namespace {

enum Type : std::uint8_t { F32, F64, I32, I64, U8, FixedString, VlenString, kTypes };
constexpr std::uint8_t kHugeDim = 255;
constexpr hsize_t kHuge = hsize_t{1} << 33;
// Arrays larger than this are created but never written (and no values are described).
constexpr std::uint64_t kMaxWritten = 4096;
constexpr std::uint64_t kMaxAttributeValues = 64;
constexpr std::uint8_t kRawString = 255;

class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const { return at_ >= size_; }
  std::uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  template <class V>
  V raw() {
    V value{};
    const std::size_t n = std::min(sizeof(V), size_ - std::min(at_, size_));
    std::memcpy(&value, data_ + std::min(at_, size_), n);
    at_ += sizeof(V);
    return value;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_, at_ = 0;
};

// An array as described: its type, extent and (when written) values.
struct Array {
  Type type = F64;
  std::vector<hsize_t> dims;  // empty: a scalar
  bool written = true;
  std::vector<double> reals;
  std::vector<std::int64_t> integers;
  std::vector<std::string> texts;
  std::uint64_t points() const {
    std::uint64_t n = 1;
    for (const hsize_t d : dims) n = d > 0 && n > ~std::uint64_t{0} / d ? ~std::uint64_t{0} : n * d;
    return n;
  }
};

Array read_array(Reader& in, const Vocabulary& v) {
  Array a;
  a.type = static_cast<Type>(in.byte() % kTypes);
  const int rank = in.byte() % 4;
  for (int r = 0; r < rank; ++r) {
    const std::uint8_t d = in.byte();
    a.dims.push_back(d == kHugeDim ? kHuge : d);
    if (d == kHugeDim) a.written = false;
  }
  if (a.points() > kMaxWritten) a.written = false;
  if (!a.written) return a;
  for (std::uint64_t i = 0; i < a.points(); ++i) {
    if (a.type == F32 || a.type == F64) {
      a.reals.push_back(in.raw<double>());
    } else if (a.type == FixedString || a.type == VlenString) {
      const std::uint8_t index = in.byte();
      if (index < v.strings.size() && index != kRawString) {
        a.texts.push_back(v.strings[index]);
      } else {
        std::string text(in.byte(), '\0');
        for (char& c : text) c = static_cast<char>(in.byte());
        a.texts.push_back(text);
      }
    } else {
      a.integers.push_back(in.raw<std::int64_t>());
    }
  }
  return a;
}

// The file type of an array, and the memory type its values are handed to HDF5 in.
Hid file_type(const Array& a) {
  switch (a.type) {
    case F32: return Hid(H5Tcopy(H5T_IEEE_F32LE), H5Tclose);
    case F64: return Hid(H5Tcopy(H5T_IEEE_F64LE), H5Tclose);
    case I32: return Hid(H5Tcopy(H5T_STD_I32LE), H5Tclose);
    case I64: return Hid(H5Tcopy(H5T_STD_I64LE), H5Tclose);
    case U8: return Hid(H5Tcopy(H5T_STD_U8LE), H5Tclose);
    default: break;
  }
  Hid type(H5Tcopy(H5T_C_S1), H5Tclose);
  if (a.type == VlenString) {
    H5Tset_size(type.get(), H5T_VARIABLE);
    H5Tset_cset(type.get(), H5T_CSET_UTF8);
  } else {
    std::size_t width = 1;
    for (const auto& text : a.texts) width = std::max(width, text.size());
    H5Tset_size(type.get(), width);
    H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  }
  return type;
}

// Writes the values through `write(memory_type, buffer)` (H5Dwrite or H5Awrite).
template <class Write>
void write_values(const Array& a, hid_t type, Write write) {
  if (a.type == F32 || a.type == F64) {
    write(H5T_NATIVE_DOUBLE, a.reals.data());  // HDF5 converts (overflow to float: ±Inf)
  } else if (a.type == FixedString) {
    const std::size_t width = H5Tget_size(type);
    std::vector<char> buffer(std::max<std::size_t>(a.texts.size(), 1) * width, '\0');
    for (std::size_t i = 0; i < a.texts.size(); ++i)
      std::memcpy(buffer.data() + i * width, a.texts[i].data(), a.texts[i].size());
    write(type, buffer.data());
  } else if (a.type == VlenString) {
    std::vector<const char*> pointers;
    for (const auto& text : a.texts) pointers.push_back(text.c_str());
    write(type, pointers.data());
  } else {
    write(H5T_NATIVE_INT64, a.integers.data());
  }
}

Hid dataspace(const Array& a, bool extendible) {
  if (a.dims.empty()) return Hid(H5Screate(H5S_SCALAR), H5Sclose);
  const std::vector<hsize_t> unlimited(a.dims.size(), H5S_UNLIMITED);
  return Hid(H5Screate_simple(static_cast<int>(a.dims.size()), a.dims.data(), extendible ? unlimited.data() : nullptr),
             H5Sclose);
}

Hid intermediate_groups() {
  Hid lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  return lcpl;
}

void create_dataset(hid_t file, const std::string& name, const Array& a) {
  if (h5::path_exists(file, name)) return;
  Hid type = file_type(a);
  Hid dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (!a.written && !a.dims.empty()) {
    // Claimed but never written: chunked, so that no storage is allocated.
    std::vector<hsize_t> chunk;
    for (const hsize_t d : a.dims) chunk.push_back(std::clamp<hsize_t>(d, 1, 16));
    H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
  }
  Hid space = dataspace(a, !a.written && !a.dims.empty());
  Hid lcpl = intermediate_groups();
  Hid dataset(H5Dcreate2(file, name.c_str(), type.get(), space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
              H5Dclose);
  if (dataset.get() < 0 || !a.written || a.points() == 0) return;
  write_values(a, type.get(), [&](hid_t memory, const void* values) {
    H5Dwrite(dataset.get(), memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
  });
}

void create_attribute(hid_t file, const std::string& holder, const std::string& name, const Array& a) {
  if (!a.written || a.points() > kMaxAttributeValues) return;
  if (!h5::path_exists(file, holder)) {
    Hid lcpl = intermediate_groups();
    Hid group(H5Gcreate2(file, holder.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  }
  Hid object(H5Oopen(file, holder.c_str(), H5P_DEFAULT), H5Oclose);
  if (object.get() < 0 || H5Aexists(object.get(), name.c_str()) != 0) return;
  Hid type = file_type(a);
  Hid space = dataspace(a, false);
  Hid attribute(H5Acreate2(object.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                H5Aclose);
  if (attribute.get() < 0 || a.points() == 0) return;
  write_values(a, type.get(), [&](hid_t memory, const void* values) { H5Awrite(attribute.get(), memory, values); });
}

// ---------------------------------------------------------------- describe_file

class Writer {
 public:
  void byte(std::uint8_t b) { out.push_back(b); }
  template <class V>
  void raw(V value) {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(&value);
    out.insert(out.end(), bytes, bytes + sizeof(V));
  }
  std::vector<std::uint8_t> out;
};

// Describes a dataset or attribute (`is_attribute`) `object`; false when it cannot be.
bool describe_array(hid_t object, bool is_attribute, const Vocabulary& v, Writer& w) {
  Hid type(is_attribute ? H5Aget_type(object) : H5Dget_type(object), H5Tclose);
  Hid space(is_attribute ? H5Aget_space(object) : H5Dget_space(object), H5Sclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  const std::size_t bytes = H5Tget_size(type.get());
  Type code;
  if (type_class == H5T_FLOAT) code = bytes == 4 ? F32 : F64;
  else if (type_class == H5T_INTEGER) code = bytes == 4 ? I32 : bytes == 1 ? U8 : I64;
  else if (type_class == H5T_STRING) code = H5Tis_variable_str(type.get()) > 0 ? VlenString : FixedString;
  else return false;
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 3) return false;
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  Array a;
  a.type = code;
  a.dims = dims;
  if (std::any_of(dims.begin(), dims.end(), [](hsize_t d) { return d >= kHugeDim; }) || a.points() > kMaxWritten)
    return false;
  const auto n = static_cast<std::size_t>(a.points());
  auto read = [&](hid_t memory, void* buffer) {
    return is_attribute ? H5Aread(object, memory, buffer) : H5Dread(object, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
  };
  w.byte(code);
  w.byte(static_cast<std::uint8_t>(rank));
  for (const hsize_t d : dims) w.byte(static_cast<std::uint8_t>(d));
  if (n == 0) return true;
  if (code == F32 || code == F64) {
    std::vector<double> values(n);
    read(H5T_NATIVE_DOUBLE, values.data());
    for (const double value : values) w.raw(value);
  } else if (code == FixedString || code == VlenString) {
    std::vector<std::string> texts;
    if (code == VlenString) {
      std::vector<char*> pointers(n, nullptr);
      read(type.get(), pointers.data());
      for (char* text : pointers) texts.emplace_back(text ? text : "");
      H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, pointers.data());
    } else {
      std::vector<char> buffer(n * bytes);
      read(type.get(), buffer.data());
      for (std::size_t i = 0; i < n; ++i) texts.emplace_back(buffer.data() + i * bytes, strnlen(buffer.data() + i * bytes, bytes));
    }
    for (const auto& text : texts) {
      const auto known = std::find(v.strings.begin(), v.strings.end(), text);
      if (known != v.strings.end() && known - v.strings.begin() < kRawString) {
        w.byte(static_cast<std::uint8_t>(known - v.strings.begin()));
      } else {
        w.byte(kRawString);
        const std::size_t length = std::min<std::size_t>(text.size(), 255);
        w.byte(static_cast<std::uint8_t>(length));
        for (std::size_t i = 0; i < length; ++i) w.byte(static_cast<std::uint8_t>(text[i]));
      }
    }
  } else {
    std::vector<std::int64_t> values(n);
    read(H5T_NATIVE_INT64, values.data());
    for (const std::int64_t value : values) w.raw(value);
  }
  return true;
}

}  // namespace

Vocabulary csr_vocabulary() {
  return {{"/X", "/X/data", "/X/indices", "/X/indptr"},
          {"/X", "/"},
          {"shape", "encoding-type"},
          {"csr_matrix"}};
}

Vocabulary model_vocabulary() {
  return {{"/centroids", "/labels", "/tree/centers", "/tree/parent", "/tree/children", "/tree/size", "/tree/label",
           "/tree/inertia", "/vocabulary"},
          {"/", "/tree"},
          {"algorithm", "mode", "metric", "distance", "assignment", "bisecting_strategy", "k", "n_features"},
          {"lloyd", "bisecting", "minibatch", "kmedians", "kmedoids", "euclidean", "cosine", "manhattan", "l1",
           "hamerly", "yinyang", "biggest-inertia", "largest-cluster", "hamming", "weird"}};
}

Vocabulary checkpoint_vocabulary() {
  return {{"/centroids", "/previous_centroids", "/inertia_history", "/shift_history", "/restart_inertia",
           "/best_centroids", "/best_inertia_history", "/best_shift_history"},
          {"/"},
          {"format", "format_version", "restart", "iteration", "has_best", "best_inertia", "best_n_iter",
           "best_converged", "best_restart", "k", "n_init", "max_iter", "tol", "seed", "init", "input", "n_samples",
           "n_features", "dtype", "data_fingerprint"},
          {"lloyd checkpoint", "k-means++", "float64", "float32", "data.h5:/X"}};
}

void build_file(const std::uint8_t* description, std::size_t size, const Vocabulary& v, const std::string& path) {
  Hid file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (file.get() < 0) return;
  Reader in(description, size);
  for (int objects = 0; !in.empty() && objects < 64; ++objects) {
    if (in.byte() % 2 == 0) {
      const std::string& name = v.datasets[in.byte() % v.datasets.size()];
      create_dataset(file.get(), name, read_array(in, v));
    } else {
      const std::string& holder = v.holders[in.byte() % v.holders.size()];
      const std::string& name = v.attributes[in.byte() % v.attributes.size()];
      create_attribute(file.get(), holder, name, read_array(in, v));
    }
  }
}

std::vector<std::uint8_t> describe_file(const std::string& path, const Vocabulary& v) {
  Writer w;
  Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (file.get() < 0) return w.out;
  for (std::size_t i = 0; i < v.datasets.size(); ++i) {
    H5O_info_t info;
    if (!h5::path_exists(file.get(), v.datasets[i]) ||
        H5Oget_info_by_name(file.get(), v.datasets[i].c_str(), &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_DATASET)
      continue;
    Hid dataset(H5Dopen2(file.get(), v.datasets[i].c_str(), H5P_DEFAULT), H5Dclose);
    Writer one;
    one.byte(0);
    one.byte(static_cast<std::uint8_t>(i));
    if (describe_array(dataset.get(), false, v, one)) w.out.insert(w.out.end(), one.out.begin(), one.out.end());
  }
  for (std::size_t h = 0; h < v.holders.size(); ++h) {
    if (!h5::path_exists(file.get(), v.holders[h])) continue;
    Hid object(H5Oopen(file.get(), v.holders[h].c_str(), H5P_DEFAULT), H5Oclose);
    for (std::size_t a = 0; a < v.attributes.size(); ++a) {
      if (H5Aexists(object.get(), v.attributes[a].c_str()) <= 0) continue;
      Hid attribute(H5Aopen(object.get(), v.attributes[a].c_str(), H5P_DEFAULT), H5Aclose);
      Writer one;
      one.byte(1);
      one.byte(static_cast<std::uint8_t>(h));
      one.byte(static_cast<std::uint8_t>(a));
      if (describe_array(attribute.get(), true, v, one)) w.out.insert(w.out.end(), one.out.begin(), one.out.end());
    }
  }
  return w.out;
}

}  // namespace lloyd::fuzz
