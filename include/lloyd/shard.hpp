#pragma once
#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "lloyd/error.hpp"

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

/// The rows of a dense shard (local_rows × d, row-major): either a RowMatrix it owns, or a
/// view of row-major memory it neither owns nor ever writes (DenseShard::view_of — e.g. a
/// caller's C-contiguous NumPy array, fitted without a copy). Reads are the same on both:
/// data() and the row pointers are one pointer plus a stride kept current by every change,
/// so hot loops cost what they cost on a plain RowMatrix.
///
/// Reading (data(), operator()(i, j), row(i), matrix()) is const and works on both. Writing
/// in place goes through mutable_data() / mutable_matrix(), which throw std::logic_error on
/// a view (make_owned() first), so no path can write into the caller's memory — and since
/// the readers are never the writers, reading a view through a non-const reference cannot
/// throw. resize() and assignment of values (a RowMatrix or any Eigen expression) replace
/// the contents and so make the block owned, copying nothing of a view. Copying a view
/// gives a view of the same memory (nothing is copied); copying an owned block copies it.
template <class T>
class RowBlock {
 public:
  using Scalar = T;
  using Matrix = RowMatrix<T>;
  using ConstMap = Eigen::Map<const Matrix>;
  using MutableMap = Eigen::Map<Matrix>;

  RowBlock() = default;
  RowBlock(Matrix values) : owned_(std::move(values)) { refresh(); }  // NOLINT: as a RowMatrix
  template <class Derived>
  RowBlock(const Eigen::DenseBase<Derived>& values) : owned_(values) { refresh(); }  // NOLINT
  RowBlock(const RowBlock& other) : owned_(other.view_ ? Matrix() : other.owned_), view_(other.view_) {
    take_view_of(other);
  }
  RowBlock(RowBlock&& other) noexcept : owned_(std::move(other.owned_)), view_(other.view_) {
    take_view_of(other);
    other.refresh();
  }
  RowBlock& operator=(const RowBlock& other) {
    if (this == &other) return *this;
    if (other.view_) owned_.resize(0, 0);
    else owned_ = other.owned_;
    view_ = other.view_;
    take_view_of(other);
    return *this;
  }
  RowBlock& operator=(RowBlock&& other) noexcept {
    if (this == &other) return *this;
    owned_ = std::move(other.owned_);
    view_ = other.view_;
    take_view_of(other);
    other.refresh();
    return *this;
  }
  /// The values of a RowMatrix or an Eigen expression, owned (a view stops being one; the
  /// values may be read from the memory it viewed). Eigen's aliasing rules apply.
  template <class Derived>
  RowBlock& operator=(const Eigen::DenseBase<Derived>& values) {
    view_ = false;
    owned_ = values;
    refresh();
    return *this;
  }
  RowBlock& operator=(Matrix&& values) noexcept {
    view_ = false;
    owned_ = std::move(values);
    refresh();
    return *this;
  }

  /// A view of rows × cols values at `data` (row-major, contiguous), not copied: the memory
  /// must outlive every use of the block and of its copies, and is never written.
  static RowBlock view(const T* data, Eigen::Index rows, Eigen::Index cols) {
    RowBlock block;
    block.view_ = true;
    block.data_ = data;
    block.rows_ = rows;
    block.cols_ = cols;
    return block;
  }
  bool is_view() const { return view_; }
  /// Copies a view's values into a block it owns (nothing to do when owned already).
  void make_owned() {
    if (!view_) return;
    owned_ = ConstMap(data_, rows_, cols_);
    view_ = false;
    refresh();
  }

  Eigen::Index rows() const { return rows_; }
  Eigen::Index cols() const { return cols_; }
  Eigen::Index size() const { return rows_ * cols_; }
  const T* data() const { return data_; }
  T operator()(Eigen::Index i, Eigen::Index j) const { return data_[i * cols_ + j]; }
  ConstMap matrix() const { return ConstMap(data_, rows_, cols_); }
  auto row(Eigen::Index i) const { return matrix().row(i); }

  /// The owned values, to change in place; std::logic_error on a view.
  T* mutable_data() { return writable().data(); }
  MutableMap mutable_matrix() { return MutableMap(writable().data(), rows_, cols_); }

  /// rows × cols owned values (those of an owned block of that shape kept, otherwise
  /// uninitialised, as RowMatrix::resize).
  void resize(Eigen::Index rows, Eigen::Index cols) {
    view_ = false;
    owned_.resize(rows, cols);
    refresh();
  }

 private:
  Matrix& writable() {
    if (view_)
      throw std::logic_error("lloyd: rows viewed in memory lloyd does not own are read-only; "
                             "make_owned() before changing them");
    return owned_;
  }
  // The cached pointer and shape: those of the owned matrix, or of `other`'s view.
  void take_view_of(const RowBlock& other) {
    if (!view_) return refresh();
    data_ = other.data_;
    rows_ = other.rows_;
    cols_ = other.cols_;
  }
  void refresh() {
    if (view_) return;
    data_ = owned_.data();
    rows_ = owned_.rows();
    cols_ = owned_.cols();
  }

  Matrix owned_;
  bool view_ = false;
  const T* data_ = nullptr;
  Eigen::Index rows_ = 0, cols_ = 0;
};

/// This rank's rows of a dense n × d data set. Kernels see rows through `row(i)` and global
/// indices through `global_index(i)`, so a CSR shard can later offer the same interface.
/// The rows are owned or a view of the caller's memory (view_of); every reader takes the
/// shard by const reference and sees no difference, bit for bit. A copy of a view is a view
/// of the same memory.
template <class T>
struct DenseShard {
  using Scalar = T;
  std::uint64_t global_rows = 0;  ///< n over all ranks
  std::uint64_t first_row = 0;    ///< global index of local row 0
  RowBlock<T> rows;               ///< local_rows × d
  /// Sample weights of the local rows (scikit-learn's sample_weight: finite, ≥ 0, not all 0
  /// over all ranks) when `has_weights` (set on every rank alike, also on a rank without
  /// rows); otherwise every row weighs 1 and the fit takes the unweighted path, which never
  /// multiplies by a weight (the same bits and speed as before weights existed).
  std::vector<double> weights{};
  bool has_weights = false;

  /// Rows [first_row, first_row + local_rows) of a global_rows × features data set held by
  /// the caller at `data` (row-major, C-contiguous; a NumPy array's buffer): not copied, not
  /// freed, never written. The memory must stay valid and unchanged while the shard (or a
  /// copy of it) is used. Throws lloyd::Error on a shape that cannot be.
  static DenseShard view_of(const T* data, Eigen::Index local_rows, Eigen::Index features,
                            std::uint64_t global_rows, std::uint64_t first_row) {
    if (local_rows < 0 || features < 0 || (data == nullptr && local_rows > 0 && features > 0) ||
        first_row > global_rows || static_cast<std::uint64_t>(local_rows) > global_rows - first_row)
      throw Error("a view of " + std::to_string(local_rows) + " x " + std::to_string(features) +
                  " values at global row " + std::to_string(first_row) + " of " + std::to_string(global_rows) +
                  " rows does not fit (null data or rows past the end)");
    DenseShard shard;
    shard.global_rows = global_rows;
    shard.first_row = first_row;
    shard.rows = RowBlock<T>::view(data, local_rows, features);
    return shard;
  }
  /// Whether the rows are a view of memory the shard does not own (view_of).
  bool is_view() const { return rows.is_view(); }
  /// Copies the rows of a view into memory the shard owns, before changing them in place
  /// (standardize); an owning shard is left as it is.
  void make_owned() { rows.make_owned(); }

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
  csr.weights = dense.weights;  // the same rows: the same sample weights
  csr.has_weights = dense.has_weights;
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
  dense.weights = csr.weights;
  dense.has_weights = csr.has_weights;
  dense.rows = RowMatrix<T>::Zero(csr.local_rows(), csr.features());
  auto rows = dense.rows.mutable_matrix();
  for (Eigen::Index i = 0; i < csr.local_rows(); ++i)
    for (std::int64_t e = csr.row_begin(i); e < csr.row_end(i); ++e)
      rows(i, csr.indices[static_cast<std::size_t>(e)]) = csr.values[static_cast<std::size_t>(e)];
  return dense;
}

}  // namespace lloyd
