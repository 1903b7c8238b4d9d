#pragma once
// A small HDF5 file that each rank reads whole on its own — a model, a checkpoint — and
// trusts in nothing: every dataset is checked for its rank, element class, shape and finite
// values before it is used, every attribute for its class and size, and every problem is an
// Error of one line naming the file and the field ("model 'm.h5': /tree/label ...").
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lloyd/error.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

class SmallFile {
 public:
  /// Opens `path` read-only (not collective). `role` names the file in every message
  /// ("model", "checkpoint"); a missing, unreadable or non-HDF5 file is an Error.
  SmallFile(std::string path, std::string role);

  const std::string& path() const { return path_; }
  /// "model 'm.h5'": how messages name the file.
  std::string name() const { return role_ + " '" + path_ + "'"; }
  /// The Error "<name>: <what>".
  Error problem(const std::string& what) const { return Error(name() + ": " + what); }

  /// Whether the object (a dataset or group, "/a/b") exists.
  bool has(const std::string& object) const;
  /// Attributes of the root, or of the group `object` ("/timings"); missing, of another class
  /// or not a single value: an Error.
  bool has_attribute(const std::string& attribute, const std::string& object = "/") const;
  std::int64_t integer(const std::string& attribute) const;
  double real(const std::string& attribute, const std::string& object = "/") const;  ///< finite
  std::string text(const std::string& attribute) const;  ///< fixed- or variable-length
  std::optional<std::string> text_if_present(const std::string& attribute) const;

  /// The length of a 1-D (or n × 1) integer dataset, without reading it.
  std::uint64_t integer_length(const std::string& dataset) const;
  /// Bytes per element of a float dataset as stored (4: float32, 8: float64).
  std::size_t float_bytes(const std::string& dataset) const;
  /// A 2-D dataset of `rows` × `cols` where given: floats converted to T (float, double;
  /// every value finite) or integers (T = std::int64_t).
  template <class T>
  RowMatrix<T> matrix(const std::string& dataset, std::optional<std::uint64_t> rows,
                      std::optional<std::uint64_t> cols) const;
  /// A 1-D (or n × 1) dataset of `length` values where given: floats (V = double, every
  /// value finite) or integers (V = std::int64_t).
  template <class V>
  std::vector<V> vector(const std::string& dataset, std::optional<std::uint64_t> length) const;

 private:
  struct Opened;
  Opened open_dataset(const std::string& dataset, H5T_class_t expected) const;
  template <class V>
  void read_all(const Opened& opened, const std::string& dataset, V* out) const;
  std::string path_, role_;
  Hid file_;
};

}  // namespace lloyd
