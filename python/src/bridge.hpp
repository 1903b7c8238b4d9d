#pragma once
// What every binding of the Python module (lloyd._lloyd) shares: the communicator a call runs
// on, NumPy arrays as shards, and results as NumPy arrays. The Python layer (python/lloyd/)
// validates arguments as scikit-learn does; what reaches these functions is C-contiguous
// float32/float64 rows, int32 labels and float64 weights.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/kmeans/spherical.hpp"
#include "lloyd/shard.hpp"

namespace lloyd::python {

namespace py = pybind11;

/// Rows as the engine reads them: C order, the array's own dtype (no cast).
template <class T>
using Rows = py::array_t<T, py::array::c_style>;

/// The communicator a call runs on: an mpi4py communicator's Fortran handle (`comm.py2f()`,
/// passed by the Python layer), or MPI_COMM_SELF for None — an in-process call.
Comm communicator(const py::object& handle);

/// Collective over comm: `rows` local rows of `features` columns on every rank, as a global row
/// count and this rank's first row (ranks hold consecutive blocks in rank order). An
/// AgreedError unless every rank that has rows has the same number of columns.
struct RowBlock {
  std::uint64_t global_rows = 0, first_row = 0;
  std::int64_t features = 0;
};
RowBlock distribute_rows(const Comm& comm, std::int64_t rows, std::int64_t features);

/// Collective over comm: this rank's rows of X (n_local × d) as a dense shard viewing the
/// array's memory (DenseShard::view_of: no copy; the array must outlive the shard), with every
/// value checked as the
/// file readers check theirs (NaN, Inf, overflowing magnitudes: an AgreedError naming the
/// global row and column) and, when `weights` is given, its sample weights.
template <class T>
DenseShard<T> dense_shard(const Comm& comm, const Rows<T>& X, const std::optional<py::array_t<double>>& weights);

/// Collective over comm: this rank's rows of a CSR matrix (scipy.sparse.csr_matrix's data,
/// indices, indptr; `columns` wide), checked as lloyd's CSR reader checks a file's.
template <class T>
CsrShard<T> csr_shard(const Comm& comm, const py::array_t<T, py::array::c_style>& data,
                      const py::array_t<std::int32_t, py::array::c_style>& indices,
                      const py::array_t<std::int64_t, py::array::c_style>& indptr, std::int64_t columns,
                      const std::optional<py::array_t<double>>& weights);

/// The rows of a dense shard scaled to unit norm, as CSR with their weights: what a cosine fit,
/// a cosine model and cosine scores read (as `lloyd fit --metric cosine` reads dense input).
template <class T>
CsrShard<T> unit_rows_of(const DenseShard<T>& shard) {
  CsrShard<T> unit_rows = to_csr(shard);
  normalize_rows(unit_rows);
  return unit_rows;
}

/// A k × d matrix (centres) as a new NumPy array, and back (checked finite and in range).
template <class T>
py::array_t<T> to_numpy(const RowMatrix<T>& matrix);
template <class T>
RowMatrix<T> matrix_from(const Rows<T>& array, const std::string& name);

/// A vector as a new one-dimensional NumPy array.
template <class V>
py::array_t<V> to_numpy(const std::vector<V>& values) {
  py::array_t<V> out(static_cast<py::ssize_t>(values.size()));
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}
/// A one-dimensional array (or any sequence NumPy converts) as a vector of V.
template <class V>
std::vector<V> vector_from(const py::handle& object) {
  const auto array = object.cast<py::array_t<V, py::array::c_style | py::array::forcecast>>();
  return std::vector<V>(array.data(), array.data() + array.size());
}

}  // namespace lloyd::python
