#include "lloyd/io/small_file.hpp"

#include <cmath>

#include "lloyd/value_range.hpp"

namespace lloyd {

namespace {

std::string dims_text(const std::vector<hsize_t>& dims) {
  std::string text;
  for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? " x " : "") + std::to_string(dims[i]);
  return dims.empty() ? "a scalar" : text;
}

std::string value_text(double value) { return std::isnan(value) ? "NaN" : "Inf"; }

}  // namespace

struct SmallFile::Opened {
  Hid dataset;
  std::vector<hsize_t> dims;
  std::uint64_t values = 0;
  std::size_t element_bytes = 0;
};

SmallFile::SmallFile(std::string path, std::string role) : path_(std::move(path)), role_(std::move(role)) {
  file_ = open_file(path_, role_);
}

bool SmallFile::has(const std::string& object) const { return h5::path_exists(file_.get(), object); }

bool SmallFile::has_attribute(const std::string& attribute, const std::string& object) const {
  if (object != "/" && !has(object)) return false;
  return H5Aexists_by_name(file_.get(), object.c_str(), attribute.c_str(), H5P_DEFAULT) > 0;
}

std::int64_t SmallFile::integer(const std::string& attribute) const {
  try {
    return read_attribute_int(file_.get(), attribute);
  } catch (const Error& e) {
    throw problem(e.what());
  }
}

double SmallFile::real(const std::string& attribute, const std::string& object) const {
  const std::string name = object == "/" ? attribute : attribute + " of " + object;
  double value = 0;
  try {
    if (object == "/") {
      value = read_attribute_double(file_.get(), attribute);
    } else {
      if (!has(object)) throw Error(object + " is missing");
      const Hid opened(h5::checked(H5Oopen(file_.get(), object.c_str(), H5P_DEFAULT), "open " + object),
                       H5Oclose);
      value = read_attribute_double(opened.get(), attribute);
    }
  } catch (const Error& e) {
    throw problem(object == "/" ? std::string(e.what()) : object + ": " + e.what());
  }
  if (!std::isfinite(value)) throw problem("attribute " + name + " is " + value_text(value));
  return value;
}

std::string SmallFile::text(const std::string& attribute) const {
  if (!has_attribute(attribute)) throw problem("attribute " + attribute + " is missing");
  return *text_if_present(attribute);
}

std::optional<std::string> SmallFile::text_if_present(const std::string& attribute) const {
  if (!has_attribute(attribute)) return std::nullopt;
  try {
    return read_attribute_string(file_.get(), attribute, "");
  } catch (const Error& e) {
    throw problem(e.what());
  }
}

SmallFile::Opened SmallFile::open_dataset(const std::string& dataset, H5T_class_t expected) const {
  if (!has(dataset)) throw problem(dataset + " is missing");
  H5O_info_t info;
  if (H5Oget_info_by_name(file_.get(), dataset.c_str(), &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_DATASET)
    throw problem(dataset + " is not a dataset");
  Opened opened;
  opened.dataset = Hid(H5Dopen2(file_.get(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (opened.dataset.get() < 0) throw problem("cannot open " + dataset);
  Hid type(H5Dget_type(opened.dataset.get()), H5Tclose);
  const H5T_class_t type_class = type.get() < 0 ? H5T_NO_CLASS : H5Tget_class(type.get());
  if (type_class != expected)
    throw problem(dataset + " holds " +
                  (type_class == H5T_FLOAT     ? "floats"
                   : type_class == H5T_INTEGER ? "integers"
                   : type_class == H5T_STRING  ? "strings"
                                               : "values of another kind") +
                  "; expected " + (expected == H5T_FLOAT ? "floats" : "integers"));
  opened.element_bytes = H5Tget_size(type.get());
  Hid space(H5Dget_space(opened.dataset.get()), H5Sclose);
  const int rank = space.get() < 0 ? -1 : H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || H5Sget_simple_extent_type(space.get()) == H5S_NULL)
    throw problem(dataset + " has no valid extent");
  opened.dims.assign(static_cast<std::size_t>(rank), 0);
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), opened.dims.data(), nullptr);
  // The element count from the extent (HDF5's own count wraps around beyond 2^63).
  opened.values = 1;
  for (const hsize_t d : opened.dims)
    if (__builtin_mul_overflow(opened.values, static_cast<std::uint64_t>(d), &opened.values))
      throw problem(dataset + " (" + dims_text(opened.dims) + ") is larger than any file");
  // A dataset whose storage was never written holds only fill values (and may claim any
  // extent): nothing of it came from the file.
  if (!h5::storage_allocated(opened.dataset.get()))
    throw problem(dataset + " (" + dims_text(opened.dims) + ") has no stored values");
  return opened;
}

template <class V>
void SmallFile::read_all(const Opened& opened, const std::string& dataset, V* out) const {
  if (opened.values == 0) return;
  if (H5Dread(opened.dataset.get(), h5::native_type<V>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    throw problem("cannot read " + dataset);
}

std::uint64_t SmallFile::integer_length(const std::string& dataset) const {
  const Opened opened = open_dataset(dataset, H5T_INTEGER);
  if (opened.dims.size() != 1 && (opened.dims.size() != 2 || opened.dims[1] != 1))
    throw problem(dataset + " is " + dims_text(opened.dims) + "; expected a 1-D dataset");
  return opened.dims[0];
}

std::size_t SmallFile::float_bytes(const std::string& dataset) const {
  return open_dataset(dataset, H5T_FLOAT).element_bytes;
}

template <class T>
RowMatrix<T> SmallFile::matrix(const std::string& dataset, std::optional<std::uint64_t> rows,
                               std::optional<std::uint64_t> cols) const {
  const Opened opened = open_dataset(dataset, std::is_floating_point_v<T> ? H5T_FLOAT : H5T_INTEGER);
  if (opened.dims.size() != 2 || (rows && opened.dims[0] != *rows) || (cols && opened.dims[1] != *cols)) {
    const std::string expected = (rows ? std::to_string(*rows) : "rows") + " x " +
                                 (cols ? std::to_string(*cols) : "columns");
    throw problem(dataset + " is " + dims_text(opened.dims) + "; expected " + expected);
  }
  RowMatrix<T> values(static_cast<Eigen::Index>(opened.dims[0]), static_cast<Eigen::Index>(opened.dims[1]));
  read_all(opened, dataset, values.data());
  if constexpr (std::is_floating_point_v<T>) {
    // Centres, like data, must be finite and small enough that their distances cannot
    // overflow (value_range.hpp).
    const auto d = static_cast<std::uint64_t>(values.cols());
    const auto count = static_cast<std::size_t>(values.size());
    const std::size_t at = first_refused_value(values.data(), count, largest_accepted_magnitude<T>(d));
    if (at < count) throw problem(refused_value_message(dataset, at / d, at % d, values.data()[at], d));
  }
  return values;
}

template <class V>
std::vector<V> SmallFile::vector(const std::string& dataset, std::optional<std::uint64_t> length) const {
  const Opened opened = open_dataset(dataset, std::is_floating_point_v<V> ? H5T_FLOAT : H5T_INTEGER);
  const bool one_dimensional =
      opened.dims.size() == 1 || (opened.dims.size() == 2 && opened.dims[1] == 1);
  if (!one_dimensional || (length && opened.dims[0] != *length))
    throw problem(dataset + " is " + dims_text(opened.dims) + "; expected " +
                  (length ? std::to_string(*length) + " values" : std::string("a 1-D dataset")));
  std::vector<V> values(static_cast<std::size_t>(opened.values));
  read_all(opened, dataset, values.data());
  if constexpr (std::is_floating_point_v<V>) {
    for (std::size_t i = 0; i < values.size(); ++i)
      if (!std::isfinite(values[i]))
        throw problem(dataset + " element " + std::to_string(i) + " is " + value_text(values[i]));
  }
  return values;
}

template RowMatrix<float> SmallFile::matrix(const std::string&, std::optional<std::uint64_t>,
                                            std::optional<std::uint64_t>) const;
template RowMatrix<double> SmallFile::matrix(const std::string&, std::optional<std::uint64_t>,
                                             std::optional<std::uint64_t>) const;
template RowMatrix<std::int64_t> SmallFile::matrix(const std::string&, std::optional<std::uint64_t>,
                                                   std::optional<std::uint64_t>) const;
template std::vector<double> SmallFile::vector(const std::string&, std::optional<std::uint64_t>) const;
template std::vector<std::int64_t> SmallFile::vector(const std::string&, std::optional<std::uint64_t>) const;

}  // namespace lloyd
