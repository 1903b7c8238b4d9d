#include "bridge.hpp"

#include <algorithm>

#include "lloyd/error.hpp"
#include "lloyd/io/sample_weights.hpp"
#include "lloyd/value_range.hpp"

namespace lloyd::python {

Comm communicator(const py::object& handle) {
  if (handle.is_none()) return Comm(MPI_COMM_SELF);
  return Comm(MPI_Comm_f2c(handle.cast<MPI_Fint>()));
}

RowBlock distribute_rows(const Comm& comm, std::int64_t rows, std::int64_t features) {
  const std::int64_t mine[2] = {rows, features};
  const std::vector<std::int64_t> shapes = comm.allgatherv(std::span<const std::int64_t>(mine, 2));
  RowBlock block;
  block.features = -1;
  std::optional<std::string> problem;
  for (int r = 0; r < comm.size(); ++r) {
    const std::int64_t r_rows = shapes[2 * static_cast<std::size_t>(r)];
    const std::int64_t r_features = shapes[2 * static_cast<std::size_t>(r) + 1];
    if (r < comm.rank()) block.first_row += static_cast<std::uint64_t>(r_rows);
    block.global_rows += static_cast<std::uint64_t>(r_rows);
    if (r_rows == 0 && r_features == 0) continue;  // an empty rank may not know d
    if (block.features < 0) block.features = r_features;
    else if (r_features != block.features && !problem)
      problem = "X has " + std::to_string(r_features) + " features on rank " + std::to_string(r) + " but " +
                std::to_string(block.features) + " on a lower rank: every rank must hold rows of the same width";
  }
  if (problem) throw AgreedError(*problem);
  if (block.features < 0) block.features = features;
  return block;
}

namespace {

template <class Shard>
void attach_weights(const Comm& comm, const std::optional<py::array_t<double>>& weights, Shard& shard) {
  if (!weights) return;
  const auto rows = static_cast<std::size_t>(shard.local_rows());
  std::vector<double> local(weights->data(), weights->data() + std::min<std::size_t>(rows, weights->size()));
  std::optional<std::string> problem;
  if (static_cast<std::size_t>(weights->size()) != rows)
    problem = "sample_weight has " + std::to_string(weights->size()) + " values for " + std::to_string(rows) +
              " rows of X";
  comm.agree(problem);
  check_sample_weights(comm, local, shard.first_row, "sample_weight");
  if (every_weight_is_one(comm, local)) return;  // the unweighted fit, bit for bit, on its faster path
  shard.weights = std::move(local);
  shard.has_weights = true;
}

}  // namespace

template <class T>
DenseShard<T> dense_shard(const Comm& comm, const Rows<T>& X, const std::optional<py::array_t<double>>& weights) {
  if (X.ndim() != 2) throw AgreedError("X must be two-dimensional (rows x features)");
  const RowBlock block = distribute_rows(comm, X.shape(0), X.shape(1));
  // The array's own memory (C order, the engine's dtype: the Python layer made it so): no copy.
  // The caller's array outlives the call; nothing writes into it (a view's rows are const).
  DenseShard<T> shard = DenseShard<T>::view_of(X.data(), X.shape(0), X.shape(1), block.global_rows, block.first_row);
  run_agreed(comm, [&] {
    check_accepted_values(X.data(), static_cast<std::uint64_t>(X.shape(0)), static_cast<std::uint64_t>(X.shape(1)),
                          shard.first_row, "X");
  });
  attach_weights(comm, weights, shard);
  return shard;
}

template <class T>
CsrShard<T> csr_shard(const Comm& comm, const py::array_t<T, py::array::c_style>& data,
                      const py::array_t<std::int32_t, py::array::c_style>& indices,
                      const py::array_t<std::int64_t, py::array::c_style>& indptr, std::int64_t columns,
                      const std::optional<py::array_t<double>>& weights) {
  // indptr must be non-decreasing and within data: scipy does not check what it is handed, and
  // every later pass reads rows by these offsets (a wrong one reads or writes out of bounds).
  std::optional<std::string> malformed;
  const std::int64_t* offsets = indptr.data();
  if (indptr.size() < 1 || indices.size() != data.size()) {
    malformed = "X is not a valid CSR matrix (indptr, indices and data do not fit together)";
  } else {
    for (py::ssize_t i = 0; i + 1 < indptr.size() && !malformed; ++i)
      if (offsets[i] < 0 || offsets[i + 1] < offsets[i] || offsets[i + 1] > data.size())
        malformed = "X is not a valid CSR matrix (row " + std::to_string(i) + ": indptr out of order or beyond the data)";
  }
  comm.agree(malformed);
  const std::int64_t rows = indptr.size() - 1;
  const RowBlock block = distribute_rows(comm, rows, columns);
  CsrShard<T> shard;
  shard.global_rows = block.global_rows;
  shard.first_row = block.first_row;
  shard.columns = static_cast<std::uint64_t>(columns);
  shard.indptr.assign(indptr.data(), indptr.data() + indptr.size());
  shard.indices.assign(indices.data(), indices.data() + indices.size());
  shard.values.assign(data.data(), data.data() + data.size());
  // scipy keeps what it is given: offsets that start anywhere, and columns of any order.
  run_agreed(comm, [&] {
    const std::int64_t offset = shard.indptr.front();
    for (auto& p : shard.indptr) p -= offset;
    const double limit = largest_accepted_magnitude<T>(shard.columns);
    for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
      for (std::int64_t e = shard.row_begin(i); e < shard.row_end(i); ++e) {
        const auto at = static_cast<std::size_t>(e + offset);
        if (at >= shard.values.size() || indices.data()[at] < 0 || indices.data()[at] >= columns)
          throw Error("X is not a valid CSR matrix (row " + std::to_string(shard.global_index(i)) + ")");
        if (!accepted_value(data.data()[at], limit))
          throw Error(refused_value_message("X", shard.global_index(i), static_cast<std::uint64_t>(indices.data()[at]),
                                            data.data()[at], shard.columns));
      }
    if (offset != 0) {
      const auto first = static_cast<std::ptrdiff_t>(offset), last = first + shard.indptr.back();
      shard.values.assign(data.data() + first, data.data() + last);
      shard.indices.assign(indices.data() + first, indices.data() + last);
    } else {
      shard.values.resize(static_cast<std::size_t>(shard.indptr.back()));
      shard.indices.resize(shard.values.size());
    }
  });
  attach_weights(comm, weights, shard);
  return shard;
}

template <class T>
py::array_t<T> to_numpy(const RowMatrix<T>& matrix) {
  py::array_t<T> out({static_cast<py::ssize_t>(matrix.rows()), static_cast<py::ssize_t>(matrix.cols())});
  std::copy_n(matrix.data(), matrix.size(), out.mutable_data());
  return out;
}

template <class T>
RowMatrix<T> matrix_from(const Rows<T>& array, const std::string& name) {
  if (array.ndim() != 2) throw Error(name + " must be two-dimensional");
  RowMatrix<T> matrix = Eigen::Map<const RowMatrix<T>>(array.data(), array.shape(0), array.shape(1));
  check_accepted_values(matrix.data(), static_cast<std::uint64_t>(matrix.rows()),
                        static_cast<std::uint64_t>(matrix.cols()), 0, name);
  return matrix;
}

#define LLOYD_INSTANTIATE(T)                                                                               \
  template DenseShard<T> dense_shard(const Comm&, const Rows<T>&, const std::optional<py::array_t<double>>&); \
  template CsrShard<T> csr_shard(const Comm&, const py::array_t<T, py::array::c_style>&,                    \
                                 const py::array_t<std::int32_t, py::array::c_style>&,                      \
                                 const py::array_t<std::int64_t, py::array::c_style>&, std::int64_t,        \
                                 const std::optional<py::array_t<double>>&);                                \
  template py::array_t<T> to_numpy(const RowMatrix<T>&);                                                   \
  template RowMatrix<T> matrix_from(const Rows<T>&, const std::string&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)
#undef LLOYD_INSTANTIATE

}  // namespace lloyd::python
