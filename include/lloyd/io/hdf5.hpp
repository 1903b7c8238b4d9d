#pragma once
#include <hdf5.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/io/output_path.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

class NpyFile;  // io/npy.hpp

/// How a data matrix is stored: an HDF5 dataset (or CSR group), a NumPy .npy file (io/npy.hpp)
/// or CSV/TSV text (io/csv.hpp). Detect: not known yet (resolve_input finds it).
enum class InputFormat { Hdf5, Npy, Csv, Detect };
const char* to_string(InputFormat format);

/// How CSV/TSV text is read (--csv-header, --columns).
struct CsvOptions {
  enum class Header { Detect, Yes, No };
  Header header = Header::Detect;  ///< Detect: a header when the first line has a non-numeric field
  std::string columns;             ///< names or 0-based indices, comma separated; "" = every column
  bool given() const { return header != Header::Detect || !columns.empty(); }
};

/// "FILE.h5:/path/to/dataset" split into its two parts; for .npy and CSV input, the file alone
/// (path empty) and how to read it.
struct DatasetRef {
  DatasetRef() = default;
  DatasetRef(std::string file_name, std::string dataset_path, InputFormat input_format = InputFormat::Hdf5,
             CsvOptions csv_options = {})
      : file(std::move(file_name)), path(std::move(dataset_path)), format(input_format), csv(std::move(csv_options)) {}
  std::string file;
  std::string path;
  InputFormat format = InputFormat::Hdf5;
  CsvOptions csv;
  std::string text() const { return path.empty() ? file : file + ":" + path; }
};

/// Parses FILE.h5:/dataset. When the spec has no ":/" part, `default_path` is used if it is
/// given; otherwise the spec is an Error.
DatasetRef parse_dataset_ref(const std::string& spec, const std::string& default_path = "");

/// A data matrix given to --input: FILE.h5:/dataset (HDF5), or a file alone whose format
/// resolve_input finds (format Detect). Not collective; never fails.
DatasetRef parse_input_ref(const std::string& spec, const CsvOptions& csv = {});
/// Collective over comm: `ref` with its format found and, for an HDF5 file named alone, its
/// dataset: /X when the file has one (else an AgreedError listing the 2-D datasets it holds).
/// The format comes from the file's content (HDF5's signature, NumPy's magic "\x93NUMPY"), else
/// from its name (.csv, .tsv, .txt: CSV text); a file whose content does not match its name,
/// CSV options given for a binary input, or a file lloyd cannot read are an AgreedError with
/// one line. A resolved ref is returned unchanged (rank 0 reads the file's first bytes).
DatasetRef resolve_input(const Comm& comm, const DatasetRef& ref);

enum class ElementType { Float32, Float64 };
const char* to_string(ElementType type);

struct MatrixShape {
  std::uint64_t rows = 0, cols = 0;
  ElementType type = ElementType::Float64;
  bool sparse = false;  ///< a CSR group (io/csr.hpp), not a dense dataset
  std::uint64_t nonzeros = 0;  ///< sparse: the values stored (length of data); dense: 0
};

/// RAII owner of an HDF5 identifier; the destructor closes it and never throws.
class Hid {
 public:
  using Closer = herr_t (*)(hid_t);
  Hid() = default;
  Hid(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Hid() { reset(); }
  Hid(Hid&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = -1; }
  Hid& operator=(Hid&& other) noexcept;
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  hid_t get() const { return id_; }
  void reset();
  /// Gives up ownership without closing; returns the identifier.
  hid_t release() { return std::exchange(id_, -1); }

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

/// The checked-call layer shared by lloyd's HDF5 code: a failed call becomes an Error.
namespace h5 {
hid_t checked(hid_t id, const std::string& what);
void checked_status(herr_t status, const std::string& what);
/// ": " and the innermost message of HDF5's error stack (the cause of the last failure), or "".
std::string error_stack_detail();
/// Whether the absolute `path` ("/a/b") names an object of the open file (every link on the
/// way exists).
bool path_exists(hid_t file, const std::string& path);
/// Whether every element of the dataset is stored in the file (or it has none): a dataset
/// that was created but never (fully) written holds fill values, whatever extent it claims.
bool storage_allocated(hid_t dataset);
/// A dataset-transfer property list that asks for collective MPI-IO.
Hid collective_transfer();
template <class T>
hid_t native_type() {
  if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  else if constexpr (std::is_same_v<T, std::int32_t>) return H5T_NATIVE_INT32;
  else return H5T_NATIVE_INT64;
}
}  // namespace h5

/// Why `file` cannot be read as an HDF5 file: it is missing, a directory, not a regular file,
/// unreadable ("cannot read WHAT 'F': permission denied") or not HDF5; std::nullopt when it
/// can. `what` names the file's role in the message ("input file", "model"). Not collective.
std::optional<std::string> why_not_readable_hdf5(const std::string& file, const std::string& what);

/// Collective over comm: opens an existing file read-only with the MPI-IO driver; a file
/// that why_not_readable_hdf5 refuses is an AgreedError.
Hid open_file_parallel(const Comm& comm, const std::string& file);
/// Opens an existing file read-only in this process alone (small files: models, vocabularies,
/// checkpoints), with the same one-line Errors as open_file_parallel (`what` names the file's
/// role). Not collective.
Hid open_file(const std::string& file, const std::string& what = "input file");

/// Collective over comm: checks that `ref` names a non-empty 2-D float32/float64 or integer
/// dataset (integers are read as float64, as scikit-learn converts them), or a CSR group
/// (io/csr.hpp; then `sparse` is set), or a .npy file (io/npy.hpp) or CSV text (io/csv.hpp),
/// and returns its shape; otherwise every rank throws AgreedError with one clear line. A ref
/// that is not resolved yet (resolve_input) is resolved first.
MatrixShape inspect_matrix(const Comm& comm, const DatasetRef& ref);

/// Collective over comm: reads this rank's block of rows (block_rows) with one collective
/// MPI-IO hyperslab read; chunked and compressed datasets read the same way. A value lloyd
/// refuses (NaN, Inf, or beyond largest_accepted_magnitude, value_range.hpp) is an
/// AgreedError naming the first such row and column. A CSR input (shape.sparse) is read
/// with read_csr_shard and its rows filled in with zeros; refused (AgreedError) when that
/// dense copy of the rank's rows would exceed kMaxDensifiedBytes. A .npy file is read by byte
/// offset (read_npy_rows), CSV text by byte ranges at line starts (read_csv_shard).
constexpr std::uint64_t kMaxDensifiedBytes = std::uint64_t{4} << 30;
template <class T>
DenseShard<T> read_shard(const Comm& comm, const DatasetRef& ref, const MatrixShape& shape);

/// Collective over comm: reads a whole (small) 2-D float dataset on every rank, e.g.
/// initial centres or a model's centroids, converting to T; refused values as read_shard.
template <class T>
RowMatrix<T> read_matrix(const Comm& comm, const DatasetRef& ref);

/// Rows of a 2-D float dataset read on demand by one rank, for out-of-core fits: each rank
/// opens the file on its own (independent reads). A contiguous, uncompressed dataset of
/// native T is read with pread at the rows' byte offsets; any other layout through HDF5. Refused values (as
/// read_shard) are an Error naming the row and column in read_block (read_rows does not check: an out-of-core fit reads
/// every row by blocks first). A .npy file is read by byte offset, whatever its order and
/// dtype; CSV text is refused (its rows have no offsets: convert it first). Not collective.
template <class T>
class RowReader {
 public:
  RowReader(const DatasetRef& ref, const MatrixShape& shape);
  ~RowReader();
  RowReader(const RowReader&) = delete;
  RowReader& operator=(const RowReader&) = delete;
  /// Rows [first, first + count) into `out` (count × d, row-major).
  void read_block(std::uint64_t first, std::uint64_t count, T* out);
  /// The rows with the given ascending global indices (repeats allowed), in that order, into
  /// `out`: one read of a selection of the runs of consecutive rows.
  void read_rows(std::span<const std::uint64_t> sorted, T* out);

 private:
  void read(hsize_t rows, T* out);
  void pread_rows(std::uint64_t first, std::uint64_t count, T* out);
  DatasetRef ref_;
  MatrixShape shape_;
  Hid file_, dataset_, file_space_;
  std::vector<T> buffer_;
  int descriptor_ = -1;    ///< the file opened for pread, when the layout allows it
  std::uint64_t offset_ = 0;  ///< byte offset of the dataset's first element
  std::shared_ptr<const NpyFile> npy_;  ///< the .npy file, for .npy input
};

/// Which attribute types the model file uses.
void write_attribute(hid_t object, const std::string& name, double value);
void write_attribute(hid_t object, const std::string& name, std::int64_t value);
void write_attribute(hid_t object, const std::string& name, const std::string& value);
/// A single (scalar or one-element) attribute; a missing one, one of another class (a
/// string where a number is expected, a float where an integer is) or of several elements
/// is an Error naming it. Not collective.
double read_attribute_double(hid_t object, const std::string& name);
std::int64_t read_attribute_int(hid_t object, const std::string& name);
/// A single string attribute, fixed-length (as lloyd writes) or variable-length (as h5py
/// writes by default), or `fallback` when the object has no attribute of that name.
std::string read_attribute_string(hid_t object, const std::string& name, const std::string& fallback);

/// An output file that appears only when complete: it is written under a temporary name in
/// the same directory (created exclusively: never an existing file) and moved to its final
/// name by commit(). If the run fails before commit(), the temporary file is removed (also when
/// the process aborts, see remove_partial_outputs). Every write is agreed over the ranks: a
/// failure on any rank (a full disk, a quota) makes every rank throw AgreedError naming the
/// file and the cause, so no rank is left waiting in a collective.
class OutputFile {
 public:
  /// Collective over comm. `replace_existing` (--force): commit() may replace a regular file at
  /// `final_path`; otherwise it never replaces anything (check_output_path runs first).
  OutputFile(const Comm& comm, std::filesystem::path final_path, bool replace_existing);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  hid_t root() const { return file_.get(); }
  /// Collective over comm; the group stays open while the handle lives (attributes).
  Hid create_group(const std::string& name);
  /// Collective over comm: a dataset whose values every rank holds identically (centroids,
  /// history); rank 0 writes them, the other ranks take part with an empty selection.
  template <class T>
  void write_replicated(const std::string& name, const T* data, std::uint64_t rows,
                        std::uint64_t cols);
  /// Collective over comm: each rank writes its own contiguous rows [first_row, first_row +
  /// local_rows) of a global_rows × cols dataset (cols == 0: a 1-D dataset) in one
  /// collective transfer; nothing is gathered.
  template <class T>
  void write_distributed(const std::string& name, const T* local, std::uint64_t local_rows,
                         std::uint64_t first_row, std::uint64_t global_rows, std::uint64_t cols);
  /// Collective over comm: write_distributed in parts, for data produced block by block:
  /// create the global_rows × cols dataset once, then every rank calls write_part equally
  /// often (with local_rows = 0 when it has nothing left), each call one collective transfer.
  template <class T>
  void create_distributed(const std::string& name, std::uint64_t global_rows, std::uint64_t cols);
  /// Collective over comm.
  template <class T>
  void write_part(const std::string& name, const T* local, std::uint64_t local_rows,
                  std::uint64_t first_row, std::uint64_t cols);
  /// How HDF5 really performed the last transfer of write_distributed (tests use it to
  /// prove that the write was collective).
  H5D_mpio_actual_io_mode_t last_io_mode() const { return last_io_mode_; }
  /// Collective over comm: closes the file (every rank's data and HDF5's metadata on disk,
  /// checked) and moves it to its final name.
  void commit();
  /// The final path, for messages.
  const std::filesystem::path& path() const { return final_path_; }

  /// Runs one step of writing (HDF5 calls, collective ones included, but no MPI collective
  /// of its own); a failure on any rank becomes an AgreedError on every rank that names the
  /// file and the cause. For writers of their own layouts (e.g. io/csr's strings). Collective
  /// over comm.
  template <class Step>
  void collective_step(Step&& step);
  /// Allocates on disk the place of a dataset just created (rank 0), so that a disk that
  /// cannot hold it fails now, with its name: Open MPI's collective writes were seen to lose
  /// a failed write (ENOSPC) on one rank and report success, leaving holes in the file. Call it
  /// inside collective_step.
  void reserve_storage(hid_t dataset, const std::string& name);

 private:

  /// Frees the space reserved next to the output (rank 0), so that HDF5's closing write of its
  /// metadata finds room even on a disk that filled up during the run.
  void release_reserve() noexcept;
  static constexpr std::uint64_t kCloseReserveBytes = std::uint64_t{1} << 20;
  std::filesystem::path reserve_path_;  ///< the reserved space (created by rank 0), until released
  const Comm& comm_;
  std::filesystem::path final_path_, partial_path_;
  bool replace_existing_ = false;
  Hid file_;
  H5D_mpio_actual_io_mode_t last_io_mode_ = H5D_MPIO_NO_COLLECTIVE;
  bool committed_ = false;
  bool created_ = false;         ///< the partial file exists and is ours to remove
  bool kept_ = false;            ///< complete but not moved into place: left for the user
  int exceptions_at_start_ = 0;  ///< std::uncaught_exceptions() when constructed
  std::uint64_t agreed_failures_seen_ = 0;  ///< agreed_failures() after the last agreed step
};

template <class Step>
void OutputFile::collective_step(Step&& step) {
  std::optional<std::string> problem;
  errno = 0;
  try {
    step();
  } catch (const Error& e) {
    problem = "cannot write '" + final_path_.string() + "': " + e.what();
    // The system's reason, where HDF5's stack does not carry it (e.g. ENOSPC in MPI-IO).
    const int cause = errno;
    if ((cause == ENOSPC || cause == EDQUOT || cause == EIO || cause == EFBIG || cause == EROFS) &&
        problem->find(std::strerror(cause)) == std::string::npos)
      *problem += " (" + std::string(std::strerror(cause)) + ")";
  }
  comm_.agree(problem);  // throws AgreedError on every rank if any failed
  agreed_failures_seen_ = agreed_failures();
}

/// Removes the partial outputs of this process; for the abort path, where destructors do
/// not run.
void remove_partial_outputs() noexcept;
/// Installs handlers for SIGTERM, SIGINT and SIGHUP (mpirun forwards them; SLURM sends
/// SIGTERM at the time limit or on scancel) that remove the partial output, then die of the
/// same signal.
void remove_partial_outputs_on_signals();

/// Turns off HDF5's own error-stack printing: lloyd reports one line per problem itself.
void silence_hdf5_errors();

}  // namespace lloyd
