#include "lloyd/io/hdf5.hpp"
#include "lloyd/io/csr.hpp"
#include "lloyd/io/csv.hpp"
#include "lloyd/io/npy.hpp"
#include "lloyd/out_of_memory.hpp"
#include "lloyd/value_range.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <exception>

#include <unistd.h>

#include <pthread.h>

#include <csignal>
#include <cstring>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <set>
#include <system_error>
#include <utility>

namespace lloyd {

namespace h5 {

// The innermost entries of HDF5's error stack (where the cause is named, e.g. the MPI-IO
// error of a failed write), for the one line lloyd prints.
std::string error_stack_detail() {
  std::vector<std::string> descriptions;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* entry, void* data) -> herr_t {
        if (entry->desc && *entry->desc)
          static_cast<std::vector<std::string>*>(data)->push_back(entry->desc);
        return 0;
      },
      &descriptions);
  if (descriptions.empty()) return "";
  std::string detail = descriptions.back();
  for (char& c : detail)
    if (c == '\n' || c == '\r') c = ' ';
  return ": " + detail;
}

hid_t checked(hid_t id, const std::string& what) {
  if (id < 0) throw Error("HDF5: " + what + " failed" + error_stack_detail());
  return id;
}

void checked_status(herr_t status, const std::string& what) {
  if (status < 0) throw Error("HDF5: " + what + " failed" + error_stack_detail());
}

bool path_exists(hid_t file, const std::string& path) {
  if (path.empty() || path[0] != '/') return false;
  if (path == "/") return true;
  // H5Lexists fails on a missing intermediate group, so walk the path one link at a time.
  for (std::size_t pos = 1;; ++pos) {
    const std::size_t next = path.find('/', pos);
    const std::string prefix = path.substr(0, next);
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (next == std::string::npos) return true;
    pos = next;
  }
}

bool storage_allocated(hid_t dataset) {
  Hid space(H5Dget_space(dataset), H5Sclose);
  if (space.get() >= 0 && H5Sget_simple_extent_type(space.get()) == H5S_SIMPLE) {
    const int rank = H5Sget_simple_extent_ndims(space.get());
    std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
    if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    if (std::find(dims.begin(), dims.end(), hsize_t{0}) != dims.end()) return true;  // no elements
  }
  H5D_space_status_t status = H5D_SPACE_STATUS_ERROR;
  return H5Dget_space_status(dataset, &status) >= 0 && status == H5D_SPACE_STATUS_ALLOCATED;
}

Hid collective_transfer() {
  Hid dxpl(checked(H5Pcreate(H5P_DATASET_XFER), "H5Pcreate"), H5Pclose);
  checked_status(H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_COLLECTIVE), "H5Pset_dxpl_mpio");
  return dxpl;
}

}  // namespace h5

namespace {

using h5::checked;
using h5::checked_status;
using h5::collective_transfer;
using h5::native_type;

Hid parallel_access(const Comm& comm) {
  Hid fapl(checked(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"), H5Pclose);
  checked_status(H5Pset_fapl_mpio(fapl.get(), comm.get(), MPI_INFO_NULL), "H5Pset_fapl_mpio");
  return fapl;
}

std::string class_name(H5T_class_t type_class) {
  switch (type_class) {
    case H5T_INTEGER: return "integer";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    default: return "non-numeric";
  }
}

// Partial outputs of this process, for removal on the abort path.
std::mutex partial_mutex;
std::set<std::filesystem::path> partial_files;
// The partial outputs (and reserved space) as plain C strings: the only thing a signal
// handler may touch. A few slots: an output and its reserve, a checkpoint and its reserve.
constexpr int kSignalSlots = 8;
char partial_for_signal[kSignalSlots][4096];

// A partial output exists from register_partial until forget_partial (committed or removed).
void register_partial(const std::filesystem::path& path) {
  std::lock_guard lock(partial_mutex);
  partial_files.insert(path);
  const std::string text = path.string();
  if (text.size() >= sizeof partial_for_signal[0]) return;
  for (auto& slot : partial_for_signal) {
    if (slot[0] != '\0') continue;
    std::memcpy(slot, text.c_str(), text.size() + 1);
    return;
  }
}

void forget_partial(const std::filesystem::path& path) {
  std::lock_guard lock(partial_mutex);
  partial_files.erase(path);
  for (auto& slot : partial_for_signal)
    if (path.string() == slot) slot[0] = '\0';
}

// Holds SIGTERM, SIGINT and SIGHUP back (they stay pending) while a file is created and
// registered: delivered in between, the handler would not know the new file and leave it
// behind (seen under load: a SIGTERM a few seconds into a fit left OUTPUT.reserve-PID).
class SignalsHeld {
 public:
  SignalsHeld() {
    sigset_t held;
    sigemptyset(&held);
    for (int signal_number : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&held, signal_number);
    pthread_sigmask(SIG_BLOCK, &held, &previous_);
  }
  ~SignalsHeld() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  SignalsHeld(const SignalsHeld&) = delete;
  SignalsHeld& operator=(const SignalsHeld&) = delete;

 private:
  sigset_t previous_;
};

extern "C" void remove_partial_and_reraise(int signal_number) {
  for (const auto& slot : partial_for_signal)
    if (slot[0] != '\0') unlink(slot);  // async-signal-safe
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

// Creates `path` (never an existing file) holding `bytes` of allocated space; the problem, if any.
std::optional<std::string> reserve_space(const std::filesystem::path& path, std::uint64_t bytes) {
  const int descriptor = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (descriptor < 0) return "cannot create '" + path.string() + "': " + std::strerror(errno);
  int status = ::posix_fallocate(descriptor, 0, static_cast<off_t>(bytes));
  ::close(descriptor);
  if (status != 0) {
    ::unlink(path.c_str());
    return "cannot reserve " + std::to_string(bytes >> 10) + " KiB in '" + path.parent_path().string() +
           "': " + std::strerror(status);
  }
  return std::nullopt;
}

}  // namespace

Hid& Hid::operator=(Hid&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = std::exchange(other.id_, -1);
    closer_ = other.closer_;
  }
  return *this;
}

void Hid::reset() {
  if (id_ >= 0 && closer_) closer_(id_);
  id_ = -1;
}

void silence_hdf5_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

DatasetRef parse_dataset_ref(const std::string& spec, const std::string& default_path) {
  const auto colon = spec.rfind(":/");
  if (colon != std::string::npos && colon > 0) return {spec.substr(0, colon), spec.substr(colon + 1)};
  if (!default_path.empty()) return {spec, default_path};
  throw Error("'" + spec + "' does not name a dataset: expected FILE.h5:/path/to/dataset");
}

DatasetRef parse_input_ref(const std::string& spec, const CsvOptions& csv) {
  const auto colon = spec.rfind(":/");
  if (colon != std::string::npos && colon > 0) return {spec.substr(0, colon), spec.substr(colon + 1), InputFormat::Hdf5, csv};
  return {spec, "", InputFormat::Detect, csv};
}

const char* to_string(InputFormat format) {
  switch (format) {
    case InputFormat::Hdf5: return "HDF5";
    case InputFormat::Npy: return "NumPy .npy";
    case InputFormat::Csv: return "CSV text";
    default: return "unknown";
  }
}

const char* to_string(ElementType type) {
  return type == ElementType::Float32 ? "float32" : "float64";
}

namespace {
// Why `file` cannot be read as a regular file (missing, a directory, a FIFO, no permission);
// std::nullopt when it can. `kind` names what a directory is not ("an HDF5 file").
std::optional<std::string> why_not_readable_file(const std::string& file, const std::string& what,
                                                 const std::string& kind) {
  std::error_code ec;
  const auto status = std::filesystem::status(file, ec);
  if (!std::filesystem::exists(status)) return what + " '" + file + "' does not exist";
  if (std::filesystem::is_directory(status))
    return what + " '" + file + "' is a directory, not " + kind;
  // A FIFO or a device would block or stream forever where HDF5 expects a file.
  if (!std::filesystem::is_regular_file(status))
    return what + " '" + file + "' is not a regular file";
  // Checked before HDF5, which reports any file it cannot open as "not an HDF5 file".
  if (access(file.c_str(), R_OK) != 0) {
    const int error = errno;
    return "cannot read " + what + " '" + file + "': " +
           (error == EACCES ? std::string("permission denied") : std::strerror(error));
  }
  return std::nullopt;
}
}  // namespace

std::optional<std::string> why_not_readable_hdf5(const std::string& file, const std::string& what) {
  if (auto problem = why_not_readable_file(file, what, "an HDF5 file")) return problem;
  std::error_code ec;
  if (std::filesystem::file_size(file, ec) == 0 && !ec) return what + " '" + file + "' is empty, not an HDF5 file";
  if (H5Fis_hdf5(file.c_str()) <= 0) return what + " '" + file + "' is not an HDF5 file";
  return std::nullopt;
}

Hid open_file(const std::string& file, const std::string& what) {
  if (const auto problem = why_not_readable_hdf5(file, what)) throw Error(*problem);
  const hid_t id = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) throw Error("cannot open " + what + " '" + file + "'" + h5::error_stack_detail());
  return Hid(id, H5Fclose);
}

Hid open_file_parallel(const Comm& comm, const std::string& file) {
  comm.agree(why_not_readable_hdf5(file, "input file"));
  Hid fapl = parallel_access(comm);
  const hid_t id = H5Fopen(file.c_str(), H5F_ACC_RDONLY, fapl.get());
  comm.agree(id < 0 ? std::optional<std::string>("cannot open HDF5 file '" + file + "'" + h5::error_stack_detail())
                    : std::nullopt);
  return Hid(id, H5Fclose);
}

namespace {

// The dataset a file named alone stands for (scikit-learn's and lloyd's X).
constexpr const char* kDefaultDataset = "/X";

// The 2-D datasets at the top level of an HDF5 file, as "FILE:/name" (for the message that
// asks to name one).
std::string top_level_matrices(hid_t file, const std::string& name) {
  std::vector<std::string> names;
  H5Literate(
      file, H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t group, const char* link, const H5L_info_t*, void* data) -> herr_t {
        H5O_info_t info;
        if (H5Oget_info_by_name(group, link, &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_DATASET)
          return 0;
        const hid_t dataset = H5Dopen2(group, link, H5P_DEFAULT);
        if (dataset < 0) return 0;
        const hid_t space = H5Dget_space(dataset);
        if (space >= 0 && H5Sget_simple_extent_ndims(space) == 2) static_cast<std::vector<std::string>*>(data)->push_back(link);
        if (space >= 0) H5Sclose(space);
        H5Dclose(dataset);
        return 0;
      },
      &names);
  if (names.empty()) return "it holds no 2-D dataset at its top level";
  std::string list;
  for (const std::string& dataset : names) list += (list.empty() ? "" : ", ") + name + ":/" + dataset;
  return "it holds " + list + "; name one as FILE.h5:/dataset";
}

bool has_extension(const std::string& file, std::initializer_list<const char*> extensions) {
  std::string extension = std::filesystem::path(file).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(), [](unsigned char c) { return std::tolower(c); });
  return std::any_of(extensions.begin(), extensions.end(), [&](const char* e) { return extension == e; });
}

// The format of `ref.file` from its content, then its name; for HDF5, the dataset. Rank 0.
DatasetRef detect_input(const DatasetRef& ref) {
  const std::string& file = ref.file;
  if (auto problem = why_not_readable_file(file, "input file", "a data file")) throw Error(*problem);
  char magic[6] = {};
  {
    const int descriptor = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (descriptor < 0) throw Error("cannot read input file '" + file + "': " + std::strerror(errno));
    const ssize_t got = ::pread(descriptor, magic, sizeof magic, 0);
    ::close(descriptor);
    if (got < 0) throw Error("cannot read input file '" + file + "': " + std::strerror(errno));
  }
  const bool npy_content = std::memcmp(magic, "\x93NUMPY", sizeof magic) == 0;
  const bool hdf5_content = !npy_content && H5Fis_hdf5(file.c_str()) > 0;
  const bool text_name = has_extension(file, {".csv", ".tsv", ".txt"});
  const bool npy_name = has_extension(file, {".npy"});
  const bool hdf5_name = has_extension(file, {".h5", ".hdf5", ".he5", ".hdf"});
  DatasetRef resolved = ref;
  if (hdf5_content) {
    if (text_name || npy_name)
      throw Error("input file '" + file + "' is an HDF5 file, though its name says " + (npy_name ? ".npy" : "text") +
                  ": rename it, or name a dataset as FILE:/dataset");
    resolved.format = InputFormat::Hdf5;
  } else if (npy_content) {
    if (text_name || hdf5_name)
      throw Error("input file '" + file + "' is a NumPy .npy file, though its name says " + (hdf5_name ? "HDF5" : "text") +
                  ": rename it to .npy");
    resolved.format = InputFormat::Npy;
  } else if (npy_name) {
    throw Error("input file '" + file + "' is not a NumPy .npy file (it does not start with \\x93NUMPY)");
  } else if (hdf5_name) {
    throw Error(why_not_readable_hdf5(file, "input file").value_or("input file '" + file + "' is not an HDF5 file"));
  } else if (text_name) {
    resolved.format = InputFormat::Csv;
  } else {
    throw Error("cannot tell the format of input file '" + file +
                "': it is neither HDF5 nor NumPy .npy, and only .csv, .tsv and .txt files are read as text");
  }
  if (resolved.format != InputFormat::Csv && ref.csv.given())
    throw Error("--csv-header and --columns apply to CSV input; '" + file + "' is " + to_string(resolved.format));
  if (resolved.format == InputFormat::Hdf5) {
    Hid handle = open_file(file, "input file");
    if (!h5::path_exists(handle.get(), kDefaultDataset))
      throw Error("input file '" + file + "' has no dataset " + kDefaultDataset + " (what a file named alone means): " +
                  top_level_matrices(handle.get(), file));
    resolved.path = kDefaultDataset;
  }
  return resolved;
}

}  // namespace

DatasetRef resolve_input(const Comm& comm, const DatasetRef& ref) {
  if (ref.format != InputFormat::Detect) {
    // HDF5 named with its dataset: CSV options would be ignored, so they are refused.
    if (ref.format != InputFormat::Csv && ref.csv.given())
      run_agreed(comm, [&] {
        throw Error("--csv-header and --columns apply to CSV input; '" + ref.text() + "' is " + to_string(ref.format));
      });
    return ref;
  }
  DatasetRef resolved = ref;
  std::optional<std::string> problem;
  if (comm.rank() == 0) {
    try {
      resolved = detect_input(ref);
    } catch (const Error& e) {
      problem = e.what();
    }
  }
  comm.agree(problem);
  std::int64_t format = static_cast<std::int64_t>(resolved.format);
  comm.bcast(std::span<std::int64_t>(&format, 1), 0);
  comm.bcast(resolved.path, 0);
  resolved.format = static_cast<InputFormat>(format);
  return resolved;
}

namespace {

// Opens the dataset and checks it is a non-empty 2-D float matrix. Not collective.
MatrixShape open_matrix(hid_t file, const DatasetRef& ref, Hid& dataset) {
  if (ref.path.empty() || ref.path[0] != '/')
    throw Error("dataset path '" + ref.path + "' must start with '/'");
  if (!h5::path_exists(file, ref.path)) throw Error("no dataset '" + ref.path + "' in '" + ref.file + "'");
  H5O_info_t info;
  if (H5Oget_info_by_name(file, ref.path.c_str(), &info, H5P_DEFAULT) < 0 ||
      info.type != H5O_TYPE_DATASET)
    throw Error("'" + ref.text() + "' is not a dataset");
  dataset = Hid(checked(H5Dopen2(file, ref.path.c_str(), H5P_DEFAULT), "open " + ref.text()),
                H5Dclose);
  Hid space(checked(H5Dget_space(dataset.get()), "H5Dget_space"), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank != 2)
    throw Error("dataset " + ref.text() + " has " + std::to_string(rank) +
                " dimension(s); expected 2 (rows x features)");
  hsize_t dims[2] = {0, 0};
  checked_status(H5Sget_simple_extent_dims(space.get(), dims, nullptr), "H5Sget_simple_extent_dims");
  Hid type(checked(H5Dget_type(dataset.get()), "H5Dget_type"), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  if (type_class != H5T_FLOAT && type_class != H5T_INTEGER)
    throw Error("dataset " + ref.text() + " has " + class_name(type_class) +
                " elements; expected float32, float64 or integers");
  const std::size_t bytes = H5Tget_size(type.get());
  // Integers of any width are read as float64, as scikit-learn converts them.
  if (type_class == H5T_FLOAT && bytes != 4 && bytes != 8)
    throw Error("dataset " + ref.text() + " has " + std::to_string(8 * bytes) +
                "-bit floats; expected float32 or float64");
  if (dims[0] == 0) throw Error("dataset " + ref.text() + " has no rows");
  if (dims[1] == 0) throw Error("dataset " + ref.text() + " has no features (0 columns)");
  return {dims[0], dims[1], type_class == H5T_FLOAT && bytes == 4 ? ElementType::Float32 : ElementType::Float64};
}

// The first value lloyd refuses (NaN, Inf, or beyond largest_accepted_magnitude: its
// arithmetic would overflow), as an Error naming its row and column; local rows only.
// Every dense matrix lloyd reads passes here, so no kernel sees such a value.
template <class Matrix>
void check_values(const Matrix& rows, std::uint64_t first_row, const DatasetRef& ref) {
  check_accepted_values(rows.data(), static_cast<std::uint64_t>(rows.rows()), static_cast<std::uint64_t>(rows.cols()),
                        first_row, ref.format == InputFormat::Hdf5 ? "dataset " + ref.text() : "input '" + ref.file + "'");
}

}  // namespace

MatrixShape inspect_matrix(const Comm& comm, const DatasetRef& given) {
  const DatasetRef ref = resolve_input(comm, given);
  if (ref.format == InputFormat::Csv) return inspect_csv(comm, ref);
  if (ref.format == InputFormat::Npy) {
    MatrixShape shape;
    run_agreed(comm, [&] {
      const NpyLayout layout = read_npy_layout(ref.file);
      shape = {layout.rows, layout.cols, npy_element_type(layout)};
    });
    return shape;
  }
  Hid file = open_file_parallel(comm, ref.file);
  MatrixShape shape;
  run_agreed(comm, [&] {
    if (is_csr_group(file.get(), ref)) {
      shape = inspect_csr(file.get(), ref);
      return;
    }
    Hid dataset;
    shape = open_matrix(file.get(), ref, dataset);
  });
  return shape;
}

template <class T>
DenseShard<T> read_shard(const Comm& comm, const DatasetRef& given, const MatrixShape& shape) {
  const DatasetRef ref = resolve_input(comm, given);
  if (ref.format == InputFormat::Csv) return read_csv_shard<T>(comm, ref, shape);
  if (shape.sparse) {
    const RowRange rows = block_rows(shape.rows, comm.size(), comm.rank());
    const double bytes = static_cast<double>(rows.size()) * static_cast<double>(shape.cols) * sizeof(T);
    run_agreed(comm, [&] {
      if (bytes > static_cast<double>(kMaxDensifiedBytes))
        throw Error("sparse input " + ref.text() + " would take " +
                    std::to_string(static_cast<long long>(bytes / (1 << 20))) +
                    " MB per rank as dense rows; use more ranks, or --metric cosine (which keeps it sparse)");
    });
    return to_dense(read_csr_shard<T>(comm, ref, shape));
  }
  Hid file, dataset;
  if (ref.format == InputFormat::Hdf5) {
    file = open_file_parallel(comm, ref.file);
    run_agreed(comm, [&] { open_matrix(file.get(), ref, dataset); });
  }

  const RowRange mine = block_rows(shape.rows, comm.size(), comm.rank());
  DenseShard<T> shard;
  shard.global_rows = shape.rows;
  shard.first_row = mine.begin;
  run_agreed(comm, [&] {
    allocating("the rank's " + std::to_string(mine.size()) + " rows of " + ref.text(),
               static_cast<double>(mine.size()) * static_cast<double>(shape.cols) * sizeof(T), [&] {
                 shard.rows.resize(static_cast<Eigen::Index>(mine.size()), static_cast<Eigen::Index>(shape.cols));
               });
  });

  // A .npy file: each rank reads its own rows by byte offset.
  if (ref.format == InputFormat::Npy)
    run_agreed(comm, [&] { NpyFile(ref.file).read_rows(mine.begin, mine.size(), shard.rows.mutable_data()); });
  else run_agreed(comm, [&] {
    Hid file_space(checked(H5Dget_space(dataset.get()), "H5Dget_space"), H5Sclose);
    const hsize_t start[2] = {mine.begin, 0}, count[2] = {mine.size(), shape.cols};
    const hsize_t memory_dims[2] = {std::max<hsize_t>(mine.size(), 1), shape.cols};
    Hid memory_space(checked(H5Screate_simple(2, memory_dims, nullptr), "H5Screate_simple"),
                     H5Sclose);
    if (mine.size() == 0) {
      checked_status(H5Sselect_none(file_space.get()), "H5Sselect_none");
      checked_status(H5Sselect_none(memory_space.get()), "H5Sselect_none");
    } else {
      checked_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count,
                                         nullptr),
                     "select rows");
    }
    Hid dxpl = collective_transfer();
    T placeholder{};
    checked_status(H5Dread(dataset.get(), native_type<T>(), memory_space.get(), file_space.get(),
                           dxpl.get(), mine.size() ? shard.rows.mutable_data() : &placeholder),
                   "read " + ref.text());
  });
  run_agreed(comm, [&] { check_values(shard.rows, shard.first_row, ref); });
  return shard;
}

template <class T>
RowMatrix<T> read_matrix(const Comm& comm, const DatasetRef& ref) {
  Hid file = open_file_parallel(comm, ref.file);
  RowMatrix<T> matrix;
  run_agreed(comm, [&] {
    Hid dataset;
    const MatrixShape shape = open_matrix(file.get(), ref, dataset);
    matrix.resize(static_cast<Eigen::Index>(shape.rows), static_cast<Eigen::Index>(shape.cols));
    // Every rank reads the same small matrix: an independent read, no coordination needed.
    checked_status(H5Dread(dataset.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT,
                           matrix.data()),
                   "read " + ref.text());
    check_values(matrix, 0, ref);
  });
  return matrix;
}

template DenseShard<float> read_shard(const Comm&, const DatasetRef&, const MatrixShape&);
template DenseShard<double> read_shard(const Comm&, const DatasetRef&, const MatrixShape&);
template RowMatrix<float> read_matrix(const Comm&, const DatasetRef&);
template RowMatrix<double> read_matrix(const Comm&, const DatasetRef&);

namespace {
template <class T>
void write_scalar_attribute(hid_t object, const std::string& name, hid_t type, const T* value) {
  Hid space(checked(H5Screate(H5S_SCALAR), "H5Screate"), H5Sclose);
  if (checked(H5Aexists(object, name.c_str()), "H5Aexists " + name) > 0)
    checked_status(H5Adelete(object, name.c_str()), "delete attribute " + name);
  Hid attribute(checked(H5Acreate2(object, name.c_str(), type, space.get(), H5P_DEFAULT,
                                   H5P_DEFAULT),
                        "create attribute " + name),
                H5Aclose);
  checked_status(H5Awrite(attribute.get(), type, value), "write attribute " + name);
}
}  // namespace

void write_attribute(hid_t object, const std::string& name, double value) {
  write_scalar_attribute(object, name, H5T_NATIVE_DOUBLE, &value);
}

void write_attribute(hid_t object, const std::string& name, std::int64_t value) {
  write_scalar_attribute(object, name, H5T_NATIVE_INT64, &value);
}

namespace {
Hid utf8_string_type() {
  Hid type(checked(H5Tcopy(H5T_C_S1), "H5Tcopy"), H5Tclose);
  checked_status(H5Tset_size(type.get(), H5T_VARIABLE), "H5Tset_size");
  checked_status(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset");
  return type;
}
}  // namespace

void write_attribute(hid_t object, const std::string& name, const std::string& value) {
  // Variable-length UTF-8, as h5py writes a str: h5py reads it back as str, not bytes.
  const Hid type = utf8_string_type();
  const char* text = value.c_str();
  write_scalar_attribute(object, name, type.get(), &text);
}

namespace {
// An attribute that must hold exactly one value of `expected` class (the readers below read
// one element: a longer attribute would overflow their buffer). Not collective.
Hid open_scalar_attribute(hid_t object, const std::string& name, H5T_class_t expected,
                          const char* what) {
  if (H5Aexists(object, name.c_str()) <= 0) throw Error("attribute " + name + " is missing");
  Hid attribute(checked(H5Aopen(object, name.c_str(), H5P_DEFAULT), "open attribute " + name),
                H5Aclose);
  Hid space(checked(H5Aget_space(attribute.get()), "H5Aget_space"), H5Sclose);
  Hid type(checked(H5Aget_type(attribute.get()), "H5Aget_type"), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  // A float attribute is read as a double too; an integer one only as an integer.
  const bool accepted = type_class == expected || (expected == H5T_FLOAT && type_class == H5T_INTEGER);
  if (!accepted || H5Sget_simple_extent_npoints(space.get()) != 1)
    throw Error("attribute " + name + " is not a single " + what);
  return attribute;
}
}  // namespace

double read_attribute_double(hid_t object, const std::string& name) {
  Hid attribute = open_scalar_attribute(object, name, H5T_FLOAT, "number");
  double value = 0;
  checked_status(H5Aread(attribute.get(), H5T_NATIVE_DOUBLE, &value), "read attribute " + name);
  return value;
}

std::int64_t read_attribute_int(hid_t object, const std::string& name) {
  Hid attribute = open_scalar_attribute(object, name, H5T_INTEGER, "integer");
  std::int64_t value = 0;
  checked_status(H5Aread(attribute.get(), H5T_NATIVE_INT64, &value), "read attribute " + name);
  return value;
}

std::string read_attribute_string(hid_t object, const std::string& name, const std::string& fallback) {
  if (H5Aexists(object, name.c_str()) <= 0) return fallback;
  Hid attribute = open_scalar_attribute(object, name, H5T_STRING, "string");
  Hid type(checked(H5Aget_type(attribute.get()), "H5Aget_type"), H5Tclose);
  // h5py writes variable-length strings by default, lloyd fixed-length NUL-padded ones.
  if (H5Tis_variable_str(type.get()) > 0) {
    Hid memory_type(checked(H5Tcopy(H5T_C_S1), "H5Tcopy"), H5Tclose);
    checked_status(H5Tset_size(memory_type.get(), H5T_VARIABLE), "H5Tset_size");
    checked_status(H5Tset_cset(memory_type.get(), H5Tget_cset(type.get())), "H5Tset_cset");
    char* text = nullptr;
    checked_status(H5Aread(attribute.get(), memory_type.get(), &text), "read attribute " + name);
    std::string value = text ? text : "";
    Hid space(checked(H5Aget_space(attribute.get()), "H5Aget_space"), H5Sclose);
    checked_status(H5Dvlen_reclaim(memory_type.get(), space.get(), H5P_DEFAULT, &text), "H5Dvlen_reclaim");
    return value;
  }
  std::string value(H5Tget_size(type.get()), '\0');
  checked_status(H5Aread(attribute.get(), type.get(), value.data()), "read attribute " + name);
  value.resize(strnlen(value.c_str(), value.size()));
  return value;
}

OutputFile::OutputFile(const Comm& comm, std::filesystem::path final_path, bool replace_existing)
    : comm_(comm), final_path_(std::move(final_path)), replace_existing_(replace_existing),
      exceptions_at_start_(std::uncaught_exceptions()) {
  // One temporary name for all ranks, unique per run: rank 0's process id.
  std::int64_t pid = static_cast<std::int64_t>(getpid());
  comm_.bcast(std::span<std::int64_t>(&pid, 1), 0);
  partial_path_ = final_path_;
  partial_path_ += ".partial-" + std::to_string(pid);
  // Room for HDF5's last metadata write, reserved before anything is written (see
  // release_reserve); a disk too full for it fails here, before any work is spent on writing.
  std::optional<std::string> problem;
  std::filesystem::path reserve = final_path_;
  reserve += ".reserve-" + std::to_string(pid);
  if (comm_.rank() == 0) {
    const SignalsHeld held;  // until the reserve is registered
    problem = reserve_space(reserve, kCloseReserveBytes);
    if (!problem) {
      reserve_path_ = reserve;
      register_partial(reserve_path_);
    } else {
      *problem = "cannot write '" + final_path_.string() + "': " + *problem;
    }
  }
  comm_.agree(problem);
  // Every rank removes the reserve on a signal, as it removes the partial file: when mpirun
  // forwards SIGTERM, the first rank to die makes it SIGKILL the others, possibly before
  // rank 0's handler ran (seen under load: OUTPUT.reserve-PID left behind). Registered only
  // now that rank 0 created it, so no rank ever removes a file lloyd did not create.
  if (comm_.rank() != 0) {
    reserve_path_ = reserve;
    register_partial(reserve_path_);
  }
  Hid fapl = parallel_access(comm_);
  // Exclusive: a file that happens to have the temporary name is the user's, never replaced.
  hid_t id = -1;
  {
    const SignalsHeld held;  // until the partial file is registered
    id = H5Fcreate(partial_path_.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.get());
    if (id >= 0) register_partial(partial_path_);
  }
  comm_.agree(id < 0 ? std::optional<std::string>("cannot create output file '" + partial_path_.string() +
                                                  "'" + h5::error_stack_detail())
                     : std::nullopt);
  file_ = Hid(id, H5Fclose);
  created_ = true;
  agreed_failures_seen_ = agreed_failures();
}

OutputFile::~OutputFile() {
  if (committed_ || kept_ || !created_) return;
  const bool unwinding = std::uncaught_exceptions() > exceptions_at_start_;
  if (unwinding && agreed_failures() == agreed_failures_seen_) {
    // This rank is unwinding from a failure the others may not know of: H5Fclose is
    // collective and would wait for them forever. Leave the handle (the process is about to
    // abort) and remove the partial file from here.
    file_.release();
    ::unlink(partial_path_.c_str());
    if (!reserve_path_.empty()) ::unlink(reserve_path_.c_str());
    release_reserve();
  } else {
    // HDF5 cannot abandon a file: H5Fclose writes the metadata it holds, and a close that
    // fails (no space) leaves HDF5 broken (it crashes at MPI_Finalize). The reserve makes
    // room for that last write.
    release_reserve();
    MPI_Barrier(comm_.get());
    file_.reset();
    if (comm_.rank() == 0) ::unlink(partial_path_.c_str());
  }
  forget_partial(partial_path_);
}

void OutputFile::release_reserve() noexcept {
  if (reserve_path_.empty()) return;
  // Rank 0 frees the space when its own close needs it; the other ranks only stop guarding it.
  if (comm_.rank() == 0) ::unlink(reserve_path_.c_str());
  forget_partial(reserve_path_);
  reserve_path_.clear();
}

void OutputFile::reserve_storage(hid_t dataset, const std::string& name) {
  if (comm_.rank() != 0) return;
  // Parallel HDF5 gives a contiguous dataset its place in the file when it is created.
  const haddr_t offset = H5Dget_offset(dataset);
  const hsize_t bytes = H5Dget_storage_size(dataset);
  if (offset == HADDR_UNDEF || bytes == 0) return;
  const int descriptor = ::open(partial_path_.c_str(), O_WRONLY | O_CLOEXEC);
  if (descriptor < 0) return;
  const int status = ::posix_fallocate(descriptor, static_cast<off_t>(offset), static_cast<off_t>(bytes));
  ::close(descriptor);
  // Not every file system can allocate ahead (EOPNOTSUPP, EINVAL): then writes report for themselves.
  if (status == ENOSPC || status == EDQUOT || status == EFBIG)
    throw Error("no room for " + name + " (" + std::to_string(bytes >> 10) + " KiB) in '" +
                partial_path_.parent_path().string() + "': " + std::strerror(status));
}

Hid OutputFile::create_group(const std::string& name) {
  Hid group;
  collective_step([&] {
    group = Hid(checked(H5Gcreate2(file_.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                        "create group " + name),
                H5Gclose);
  });
  return group;
}

template <class T>
void OutputFile::write_replicated(const std::string& name, const T* data, std::uint64_t rows,
                                  std::uint64_t cols) {
  write_distributed(name, data, comm_.rank() == 0 ? rows : 0, 0, rows, cols);
}

template <class T>
void OutputFile::write_distributed(const std::string& name, const T* local,
                                   std::uint64_t local_rows, std::uint64_t first_row,
                                   std::uint64_t global_rows, std::uint64_t cols) {
  create_distributed<T>(name, global_rows, cols);
  write_part(name, local, local_rows, first_row, cols);
}

template <class T>
void OutputFile::create_distributed(const std::string& name, std::uint64_t global_rows,
                                    std::uint64_t cols) {
  collective_step([&] {
    const int rank = cols == 0 ? 1 : 2;
    const hsize_t dims[2] = {global_rows, cols == 0 ? 1 : cols};
    Hid file_space(checked(H5Screate_simple(rank, dims, nullptr), "H5Screate_simple"), H5Sclose);
    Hid dataset(checked(H5Dcreate2(file_.get(), name.c_str(), native_type<T>(), file_space.get(),
                                   H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                        "create dataset " + name),
                H5Dclose);
    reserve_storage(dataset.get(), name);
  });
}

template <class T>
void OutputFile::write_part(const std::string& name, const T* local, std::uint64_t local_rows,
                            std::uint64_t first_row, std::uint64_t cols) {
  collective_step([&] {
    Hid dataset(checked(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT), "open dataset " + name),
                H5Dclose);
    Hid file_space(checked(H5Dget_space(dataset.get()), "H5Dget_space"), H5Sclose);
    if (H5Sget_simple_extent_npoints(file_space.get()) == 0) return;  // nothing to transfer
    const int rank = cols == 0 ? 1 : 2;
    const hsize_t width = cols == 0 ? 1 : cols;
    const hsize_t memory_dims[2] = {std::max<hsize_t>(local_rows, 1), width};
    Hid memory_space(checked(H5Screate_simple(rank, memory_dims, nullptr), "H5Screate_simple"),
                     H5Sclose);
    if (local_rows == 0) {
      checked_status(H5Sselect_none(file_space.get()), "H5Sselect_none");
      checked_status(H5Sselect_none(memory_space.get()), "H5Sselect_none");
    } else {
      const hsize_t start[2] = {first_row, 0}, count[2] = {local_rows, width};
      checked_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count,
                                         nullptr),
                     "select rows of " + name);
    }
    Hid dxpl = collective_transfer();
    const T placeholder{};
    checked_status(H5Dwrite(dataset.get(), native_type<T>(), memory_space.get(), file_space.get(),
                            dxpl.get(), local_rows ? local : &placeholder),
                   "write " + name);
    checked_status(H5Pget_mpio_actual_io_mode(dxpl.get(), &last_io_mode_), "H5Pget_mpio_actual_io_mode");
  });
}

template <class T>
RowReader<T>::RowReader(const DatasetRef& ref, const MatrixShape& shape)
    : ref_(ref), shape_(shape) {
  if (ref.format == InputFormat::Csv)
    throw Error("--stream reads rows by their offset in the file, which CSV text '" + ref.file +
                "' does not have: convert it once (lloyd convert --input " + ref.file + " --output FILE.h5:/X)");
  if (ref.format == InputFormat::Npy) {
    npy_ = std::make_shared<const NpyFile>(ref.file);
    return;
  }
  file_ = Hid(checked(H5Fopen(ref.file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "open " + ref.file),
              H5Fclose);
  dataset_ = Hid(checked(H5Dopen2(file_.get(), ref.path.c_str(), H5P_DEFAULT), "open " + ref.text()),
                 H5Dclose);
  file_space_ = Hid(checked(H5Dget_space(dataset_.get()), "H5Dget_space"), H5Sclose);
  // A contiguous, uncompressed dataset stored as native T: rows are read with pread at their
  // byte offsets, without HDF5's per-selection overhead (random rows of a mini-batch).
  Hid plist(checked(H5Dget_create_plist(dataset_.get()), "H5Dget_create_plist"), H5Pclose);
  Hid type(checked(H5Dget_type(dataset_.get()), "H5Dget_type"), H5Tclose);
  const haddr_t offset = H5Dget_offset(dataset_.get());
  if (H5Pget_layout(plist.get()) == H5D_CONTIGUOUS && offset != HADDR_UNDEF &&
      H5Tequal(type.get(), native_type<T>()) > 0) {
    descriptor_ = ::open(ref.file.c_str(), O_RDONLY);
    offset_ = offset;
  }
}

template <class T>
RowReader<T>::~RowReader() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

template <class T>
void RowReader<T>::pread_rows(std::uint64_t first, std::uint64_t count, T* out) {
  const std::uint64_t row_bytes = shape_.cols * sizeof(T);
  auto* target = reinterpret_cast<char*>(out);
  std::uint64_t done = 0, bytes = count * row_bytes;
  while (done < bytes) {
    const ssize_t got = ::pread(descriptor_, target + done, bytes - done,
                                static_cast<off_t>(offset_ + first * row_bytes + done));
    if (got <= 0) throw Error("read " + ref_.text() + ": " + (got < 0 ? std::strerror(errno) : "unexpected end of file"));
    done += static_cast<std::uint64_t>(got);
  }
}

template <class T>
void RowReader<T>::read(hsize_t rows, T* out) {
  const hsize_t memory_dims[2] = {rows, shape_.cols};
  Hid memory_space(checked(H5Screate_simple(2, memory_dims, nullptr), "H5Screate_simple"), H5Sclose);
  checked_status(H5Dread(dataset_.get(), native_type<T>(), memory_space.get(), file_space_.get(),
                         H5P_DEFAULT, out),
                 "read " + ref_.text());
}

template <class T>
void RowReader<T>::read_block(std::uint64_t first, std::uint64_t count, T* out) {
  if (count == 0) return;
  if (npy_) {
    npy_->read_rows(first, count, out);
  } else if (descriptor_ >= 0) {
    pread_rows(first, count, out);
  } else {
    const hsize_t start[2] = {first, 0}, size[2] = {count, shape_.cols};
    checked_status(H5Sselect_hyperslab(file_space_.get(), H5S_SELECT_SET, start, nullptr, size, nullptr),
                   "select rows");
    read(count, out);
  }
  const Eigen::Map<const RowMatrix<T>> values(out, static_cast<Eigen::Index>(count),
                                              static_cast<Eigen::Index>(shape_.cols));
  check_values(values, first, ref_);
}

template <class T>
void RowReader<T>::read_rows(std::span<const std::uint64_t> sorted, T* out) {
  if (sorted.empty()) return;
  if (npy_) {
    npy_->read_selected(sorted, out);
    return;
  }
  if (descriptor_ >= 0) {
    const std::uint64_t d = shape_.cols;
    for (std::size_t q = 0; q < sorted.size(); ++q) {
      if (q > 0 && sorted[q] == sorted[q - 1]) std::copy_n(out + (q - 1) * d, d, out + q * d);
      else pread_rows(sorted[q], 1, out + q * d);
    }
    return;
  }
  // One selection of the runs of consecutive distinct rows; HDF5 reads them in file order
  // in one call. Repeated rows are read once and copied.
  checked_status(H5Sselect_none(file_space_.get()), "H5Sselect_none");
  std::uint64_t distinct = 0;
  for (std::size_t q = 0; q < sorted.size();) {
    std::size_t end = q + 1;
    std::uint64_t last = sorted[q];
    while (end < sorted.size() && sorted[end] <= last + 1) last = sorted[end++];
    const hsize_t start[2] = {sorted[q], 0}, size[2] = {last - sorted[q] + 1, shape_.cols};
    checked_status(H5Sselect_hyperslab(file_space_.get(), H5S_SELECT_OR, start, nullptr, size, nullptr),
                   "select rows");
    distinct += last - sorted[q] + 1;
    q = end;
  }
  const std::uint64_t d = shape_.cols;
  buffer_.resize(distinct * d);
  read(distinct, buffer_.data());
  std::uint64_t slot = 0;
  for (std::size_t q = 0; q < sorted.size(); ++q) {
    if (q > 0 && sorted[q] != sorted[q - 1]) ++slot;
    std::copy_n(buffer_.data() + slot * d, d, out + q * d);
  }
}

template class RowReader<float>;
template class RowReader<double>;

template void OutputFile::write_replicated(const std::string&, const float*, std::uint64_t, std::uint64_t);
template void OutputFile::write_replicated(const std::string&, const double*, std::uint64_t, std::uint64_t);
template void OutputFile::write_replicated(const std::string&, const std::int32_t*, std::uint64_t, std::uint64_t);
template void OutputFile::write_replicated(const std::string&, const std::int64_t*, std::uint64_t, std::uint64_t);
template void OutputFile::write_distributed(const std::string&, const float*, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t);
template void OutputFile::create_distributed<std::int32_t>(const std::string&, std::uint64_t, std::uint64_t);
template void OutputFile::write_part(const std::string&, const std::int32_t*, std::uint64_t, std::uint64_t, std::uint64_t);
template void OutputFile::create_distributed<double>(const std::string&, std::uint64_t, std::uint64_t);
template void OutputFile::write_part(const std::string&, const double*, std::uint64_t, std::uint64_t, std::uint64_t);
template void OutputFile::write_distributed(const std::string&, const double*, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t);
template void OutputFile::write_distributed(const std::string&, const std::int32_t*, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t);
template void OutputFile::write_distributed(const std::string&, const std::int64_t*, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t);

void OutputFile::commit() {
  release_reserve();
  MPI_Barrier(comm_.get());
  // H5Fclose is collective and writes what HDF5 still holds (metadata): its failure on any
  // rank (a full disk) must stop the move on every rank.
  collective_step([&] { checked_status(H5Fclose(file_.release()), "close"); });
  std::optional<std::string> problem;
  if (comm_.rank() == 0) {
    try {
      move_into_place(partial_path_, final_path_, replace_existing_);
    } catch (const Error& e) {
      problem = e.what();
    }
  }
  // The file is complete: when it cannot take its name (something appeared there during
  // the run), it stays under its temporary name rather than lose hours of work.
  committed_ = !problem.has_value();
  kept_ = !committed_;
  if (kept_) *problem += "; the finished output is kept as '" + partial_path_.string() + "'";
  forget_partial(partial_path_);
  comm_.agree(problem);
}

void remove_partial_outputs_on_signals() {
  for (int signal_number : {SIGTERM, SIGINT, SIGHUP}) std::signal(signal_number, remove_partial_and_reraise);
}

void remove_partial_outputs() noexcept {
  std::lock_guard lock(partial_mutex);
  for (const auto& path : partial_files) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  partial_files.clear();
}

}  // namespace lloyd
