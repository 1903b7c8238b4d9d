#pragma once
#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lloyd {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Asks the processor to start loading [p, p + bytes) into cache: a hint for memory read
/// soon after long work (no effect on results).
inline void prefetch(const void* p, std::size_t bytes) {
  const char* first = static_cast<const char*>(p);
  for (std::size_t byte = 0; byte < bytes; byte += 64) __builtin_prefetch(first + byte);
}

/// A half-open range of global row indices.
struct RowRange {
  std::uint64_t begin = 0, end = 0;
  std::uint64_t size() const { return end - begin; }
};

/// Rows [begin, end) of `rank` in a contiguous block distribution of n rows over `ranks`:
/// block sizes differ by at most one, the first n % ranks ranks get the larger ones, and a
/// rank gets an empty range when there are more ranks than rows.
RowRange block_rows(std::uint64_t n, int ranks, int rank);
/// The rank whose block holds global row `row`.
int owner_of_row(std::uint64_t n, int ranks, std::uint64_t row);

/// This rank's rows of a dense n × d data set. Kernels see rows through `row(i)` and global
/// indices through `global_index(i)`, so a CSR shard can later offer the same interface.
template <class T>
struct DenseShard {
  using Scalar = T;
  std::uint64_t global_rows = 0;  ///< n over all ranks
  std::uint64_t first_row = 0;    ///< global index of local row 0
  RowMatrix<T> rows;              ///< local_rows × d
  /// Sample weights of the local rows (scikit-learn's sample_weight: finite, ≥ 0, not all 0
  /// over all ranks) when `has_weights` (set on every rank alike, also on a rank without
  /// rows); otherwise every row weighs 1 and the fit takes the unweighted path, which never
  /// multiplies by a weight (the same bits and speed as before weights existed).
  std::vector<double> weights{};
  bool has_weights = false;

  Eigen::Index local_rows() const { return rows.rows(); }
  Eigen::Index features() const { return rows.cols(); }
  std::uint64_t global_index(Eigen::Index local) const {
    return first_row + static_cast<std::uint64_t>(local);
  }
  const T* row(Eigen::Index local) const { return rows.data() + local * rows.cols(); }
  bool weighted() const { return has_weights; }
  /// Local row i's weight (1 without weights).
  double weight(Eigen::Index local) const {
    return has_weights ? weights[static_cast<std::size_t>(local)] : 1.0;
  }
};

/// This rank's rows of a sparse n × d matrix in CSR form (compressed sparse rows): row i
/// holds values[indptr[i] .. indptr[i+1]) at columns indices[...], sorted by column with no
/// repeats. The same row interface as DenseShard (global_index, local_rows, features).
template <class T>
struct CsrShard {
  using Scalar = T;
  std::uint64_t global_rows = 0;  ///< n over all ranks
  std::uint64_t first_row = 0;    ///< global index of local row 0
  std::uint64_t columns = 0;      ///< d
  std::vector<std::int64_t> indptr{0};  ///< local_rows + 1 offsets, from 0
  std::vector<std::int32_t> indices;    ///< column of each stored value
  std::vector<T> values;
  /// Sample weights of the local rows, as DenseShard's (when has_weights).
  std::vector<double> weights{};
  bool has_weights = false;

  Eigen::Index local_rows() const { return static_cast<Eigen::Index>(indptr.size()) - 1; }
  bool weighted() const { return has_weights; }
  double weight(Eigen::Index local) const {
    return has_weights ? weights[static_cast<std::size_t>(local)] : 1.0;
  }
  Eigen::Index features() const { return static_cast<Eigen::Index>(columns); }
  std::uint64_t global_index(Eigen::Index local) const {
    return first_row + static_cast<std::uint64_t>(local);
  }
  std::int64_t row_begin(Eigen::Index local) const { return indptr[static_cast<std::size_t>(local)]; }
  std::int64_t row_end(Eigen::Index local) const { return indptr[static_cast<std::size_t>(local) + 1]; }
  std::uint64_t nonzeros() const { return values.size(); }
};

/// The nonzero entries of a dense shard as a CSR shard (same rows, same layout).
template <class T>
CsrShard<T> to_csr(const DenseShard<T>& dense) {
  CsrShard<T> csr;
  csr.global_rows = dense.global_rows;
  csr.first_row = dense.first_row;
  csr.columns = static_cast<std::uint64_t>(dense.features());
  for (Eigen::Index i = 0; i < dense.local_rows(); ++i) {
    for (Eigen::Index j = 0; j < dense.features(); ++j)
      if (dense.rows(i, j) != T{0}) {
        csr.indices.push_back(static_cast<std::int32_t>(j));
        csr.values.push_back(dense.rows(i, j));
      }
    csr.indptr.push_back(static_cast<std::int64_t>(csr.values.size()));
  }
  return csr;
}

/// The rows of a CSR shard as a dense shard (zeros filled in).
template <class T>
DenseShard<T> to_dense(const CsrShard<T>& csr) {
  DenseShard<T> dense;
  dense.global_rows = csr.global_rows;
  dense.first_row = csr.first_row;
  dense.rows = RowMatrix<T>::Zero(csr.local_rows(), csr.features());
  for (Eigen::Index i = 0; i < csr.local_rows(); ++i)
    for (std::int64_t e = csr.row_begin(i); e < csr.row_end(i); ++e)
      dense.rows(i, csr.indices[static_cast<std::size_t>(e)]) = csr.values[static_cast<std::size_t>(e)];
  return dense;
}

}  // namespace lloyd
