#pragma once
// NumPy .npy files (format versions 1.0, 2.0, 3.0) as a data matrix: each rank reads its own
// rows by byte offset (pread), never the whole file.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lloyd/io/hdf5.hpp"

namespace lloyd {

/// What the header of a .npy file says about its array.
struct NpyLayout {
  std::uint64_t rows = 0, cols = 0;
  char kind = 'f';               ///< NumPy's kind: 'f' float, 'i' signed, 'u' unsigned integer
  unsigned item_bytes = 8;       ///< bytes per element
  bool swap_bytes = false;       ///< stored in the other byte order than this machine's
  bool fortran_order = false;    ///< column after column (np.asfortranarray)
  std::uint64_t data_offset = 0; ///< where the elements start
  std::string descr;             ///< NumPy's dtype string, e.g. "<f8", for messages
};

/// Parses the header of the .npy file `file` and checks that lloyd can read it: a 2-D array of
/// float32/float64 or of 1- to 8-byte integers, either byte order, C or Fortran order, with
/// every element present. Anything else (bool, object, complex, strings, structured dtypes,
/// 1-D or >2-D arrays, no rows or columns, a truncated file) is an Error with one line naming
/// the file (and the dtype). Not collective.
NpyLayout read_npy_layout(const std::string& file);

/// The element type a fit of this array uses: float32 for float32 data, float64 for every
/// other dtype (as scikit-learn converts integers).
ElementType npy_element_type(const NpyLayout& layout);

/// A .npy file open for reading rows by offset. Not collective.
class NpyFile {
 public:
  explicit NpyFile(const std::string& file);
  ~NpyFile();
  NpyFile(const NpyFile&) = delete;
  NpyFile& operator=(const NpyFile&) = delete;
  const NpyLayout& layout() const { return layout_; }
  /// Rows [first, first + count) into `out` (count × cols, row-major), converted to T. A
  /// Fortran-order file is read column by column (one contiguous read per column and block
  /// of rows). Memory beyond `out`: a bounded scratch buffer.
  template <class T>
  void read_rows(std::uint64_t first, std::uint64_t count, T* out) const;
  /// The rows with the given ascending indices (repeats allowed), in order: one read per run
  /// of consecutive rows.
  template <class T>
  void read_selected(std::span<const std::uint64_t> sorted, T* out) const;

 private:
  void read_bytes(std::uint64_t offset, std::uint64_t bytes, unsigned char* out) const;
  std::string file_;
  NpyLayout layout_;
  int descriptor_ = -1;
};

}  // namespace lloyd
