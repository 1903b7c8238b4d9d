#include "lloyd/comm.hpp"

#ifdef LLOYD_SANITIZE
#include <sanitizer/lsan_interface.h>
#endif

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

namespace lloyd {

void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(std::string(what) + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

KeyIndex KeyIndex::none() {
  return {std::numeric_limits<double>::infinity(), std::numeric_limits<std::uint64_t>::max()};
}

int Comm::ranks_on_node() const {
  MPI_Comm node;
  MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
  int ranks = 1;
  MPI_Comm_size(node, &ranks);
  MPI_Comm_free(&node);
  return ranks;
}

namespace {

// User-defined MPI reductions. They are created once per process and live until
// MPI_Finalize, which frees them.
void sum_int128(void* in, void* inout, int* len, MPI_Datatype*) {
  auto* a = static_cast<const Int128*>(in);
  auto* b = static_cast<Int128*>(inout);
  for (int i = 0; i < *len; ++i) b[i] += a[i];
}

void min_key_index(void* in, void* inout, int* len, MPI_Datatype*) {
  auto* a = static_cast<const KeyIndex*>(in);
  auto* b = static_cast<KeyIndex*>(inout);
  for (int i = 0; i < *len; ++i)
    if (a[i] < b[i]) b[i] = a[i];
}

// One element of the datatype is a whole sorted list of `count` candidates; merging two
// such lists and keeping the `count` smallest is associative and commutative.
void merge_smallest(void* in, void* inout, int* len, MPI_Datatype* type) {
  int bytes = 0;
  MPI_Type_size(*type, &bytes);
  const std::size_t count = static_cast<std::size_t>(bytes) / sizeof(KeyIndex);
  std::vector<KeyIndex> merged(count);
  for (int e = 0; e < *len; ++e) {
    auto* a = static_cast<const KeyIndex*>(in) + e * count;
    auto* b = static_cast<KeyIndex*>(inout) + e * count;
    std::size_t i = 0, j = 0;
    for (std::size_t m = 0; m < count; ++m) merged[m] = (b[j] < a[i]) ? b[j++] : a[i++];
    std::copy(merged.begin(), merged.end(), b);
  }
}

MPI_Datatype bytes_type(int bytes) {
  MPI_Datatype type;
  check_mpi(MPI_Type_contiguous(bytes, MPI_BYTE, &type), "MPI_Type_contiguous");
  check_mpi(MPI_Type_commit(&type), "MPI_Type_commit");
  return type;
}

MPI_Op make_op(MPI_User_function* function) {
  MPI_Op op;
  check_mpi(MPI_Op_create(function, /*commute=*/1, &op), "MPI_Op_create");
  return op;
}

}  // namespace

Comm::Comm(MPI_Comm comm) {
  check_mpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

Comm::~Comm() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm_);
}

Comm::Comm(Comm&& other) noexcept
    : comm_(std::exchange(other.comm_, MPI_COMM_NULL)), rank_(other.rank_), size_(other.size_) {}

Comm& Comm::operator=(Comm&& other) noexcept {
  if (this != &other) {
    if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
    comm_ = std::exchange(other.comm_, MPI_COMM_NULL);
    rank_ = other.rank_;
    size_ = other.size_;
  }
  return *this;
}

void Comm::allreduce_sum(std::span<Int128> values) const {
  static const MPI_Datatype type = bytes_type(sizeof(Int128));
  static const MPI_Op op = make_op(&sum_int128);
  if (values.empty()) return;
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), type, op,
                          comm_),
            "MPI_Allreduce(int128)");
}

void Comm::allreduce_min(std::span<KeyIndex> values) const {
  static const MPI_Datatype type = bytes_type(sizeof(KeyIndex));
  static const MPI_Op op = make_op(&min_key_index);
  if (values.empty()) return;
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), type, op,
                          comm_),
            "MPI_Allreduce(minloc)");
}

std::vector<KeyIndex> Comm::smallest(std::vector<KeyIndex> local, std::size_t count) const {
  static const MPI_Op op = make_op(&merge_smallest);
  if (count == 0) return {};
  std::sort(local.begin(), local.end());
  local.resize(count, KeyIndex::none());
  MPI_Datatype list = bytes_type(static_cast<int>(count * sizeof(KeyIndex)));
  int code = MPI_Allreduce(MPI_IN_PLACE, local.data(), 1, list, op, comm_);
  MPI_Type_free(&list);
  check_mpi(code, "MPI_Allreduce(smallest)");
  return local;
}

void Comm::bcast(std::string& text, int root) const {
  std::uint64_t length = text.size();
  bcast(std::span<std::uint64_t>(&length, 1), root);
  text.resize(length);
  bcast(std::span<char>(text.data(), text.size()), root);
}

void Comm::barrier() const { check_mpi(MPI_Barrier(comm_), "MPI_Barrier"); }

namespace {
std::uint64_t agreed_failure_count = 0;
}  // namespace

std::uint64_t agreed_failures() { return agreed_failure_count; }

void Comm::agree(const std::optional<std::string>& local_error) const {
  const int first_failing = allreduce(local_error ? rank_ : size_, MPI_MIN);
  if (first_failing == size_) return;
  std::string message = local_error.value_or("");
  bcast(message, first_failing);
  ++agreed_failure_count;
  throw AgreedError(message);
}

std::optional<Comm> Comm::subset(bool member) const {
  MPI_Comm part;
  check_mpi(MPI_Comm_split(comm_, member ? 0 : MPI_UNDEFINED, rank_, &part), "MPI_Comm_split");
  if (part == MPI_COMM_NULL) return std::nullopt;
  Comm result(part);
  MPI_Comm_free(&part);
  return result;
}

MpiEnvironment::MpiEnvironment(int& argc, char**& argv) { MPI_Init(&argc, &argv); }

MpiEnvironment::~MpiEnvironment() { finalize_mpi(); }

void finalize_mpi() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
#ifdef LLOYD_SANITIZE
  // The leak check of a sanitizer build runs here, while MPI's state is still reachable and its
  // plug-ins still loaded (MPI_Finalize unloads them, and leaks found at exit could then not be
  // traced to a library): what is unreachable now is a leak, of lloyd's or of a library that
  // tests/sanitizers/lsan.supp names.
  __lsan_do_leak_check();
#endif
  MPI_Finalize();
}

}  // namespace lloyd
