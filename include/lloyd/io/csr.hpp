#pragma once
// Sparse matrices in HDF5: the common CSR layout (scipy.sparse / anndata / h5sparse) — a group
// holding three 1-D datasets `data` (float32/float64), `indices` (integer column of each
// value) and `indptr` (n + 1 integer offsets), and an attribute `shape` = [n, d].
#include <cstdint>
#include <string>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// Whether `ref` names a group (a CSR matrix) rather than a dataset. Not collective; the
/// file must be open.
bool is_csr_group(hid_t file, const DatasetRef& ref);

/// Checks the CSR group's structure (the three datasets, their types and lengths, `shape`)
/// and returns its shape with `sparse` set. Not collective; throws Error with one clear line.
MatrixShape inspect_csr(hid_t file, const DatasetRef& ref);

/// Collective over comm: this rank's block of rows (block_rows) of a CSR group: its slice of
/// `indptr` (one collective read), then its values and indices (one collective read each).
/// Validated on the way, each problem an AgreedError naming the row: indptr not starting at 0,
/// decreasing, or not ending at the number of values; a column index outside [0, d); a column
/// repeated within a row; NaN, Inf or a value beyond largest_accepted_magnitude. Columns are
/// sorted within each row.
template <class T>
CsrShard<T> read_csr_shard(const Comm& comm, const DatasetRef& ref, const MatrixShape& shape);

/// Collective over comm: this rank's block of rows of any matrix input as CSR: a CSR group
/// as read_csr_shard reads it, a dense dataset read by read_shard and its nonzeros kept
/// (to_csr), so the cosine paths read both alike.
template <class T>
CsrShard<T> read_rows_as_csr(const Comm& comm, const DatasetRef& ref, const MatrixShape& shape);

/// Collective over comm: writes `shard` (rows in global order, each rank its own contiguous
/// rows) as the CSR group `group` of `file`, every array in one collective transfer per rank.
template <class T>
void write_csr(const Comm& comm, OutputFile& file, const std::string& group, const CsrShard<T>& shard);

/// Collective over comm: a 1-D dataset of fixed-length strings (as wide as the longest one,
/// NUL-padded, UTF-8) of which this rank writes entries [first, first + local.size()).
void write_strings(const Comm& comm, OutputFile& file, const std::string& name,
                   const std::vector<std::string>& local, std::uint64_t first, std::uint64_t total);

/// A 1-D string dataset (fixed-length or variable-length) read in slices by this rank alone,
/// e.g. the slice of a vocabulary a rank owns. Throws Error when it is missing or not a 1-D
/// string dataset.
class StringDataset {
 public:
  StringDataset(const std::string& file, const std::string& name);
  std::uint64_t size() const { return size_; }
  /// Entries [first, first + count) (within size()).
  std::vector<std::string> read(std::uint64_t first, std::uint64_t count) const;

 private:
  std::string file_name_, name_;
  Hid file_, dataset_, type_;
  std::uint64_t size_ = 0;
};

/// Reads a whole 1-D string dataset (fixed-length or variable-length) on this rank alone.
/// Throws Error when it is missing or not a string dataset.
std::vector<std::string> read_strings(const std::string& file, const std::string& name);

}  // namespace lloyd
