#pragma once
#include <Eigen/Core>
#include <cstdint>

namespace lloyd {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

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

  Eigen::Index local_rows() const { return rows.rows(); }
  Eigen::Index features() const { return rows.cols(); }
  std::uint64_t global_index(Eigen::Index local) const {
    return first_row + static_cast<std::uint64_t>(local);
  }
  const T* row(Eigen::Index local) const { return rows.data() + local * rows.cols(); }
};

}  // namespace lloyd
