#pragma once
#include <mpi.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "lloyd/error.hpp"
#include "lloyd/int128.hpp"

namespace lloyd {

/// Turns an MPI return code into an exception (communicators use MPI_ERRORS_RETURN).
void check_mpi(int code, const char* what);

template <class T>
MPI_Datatype mpi_type();
template <> inline MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }
template <> inline MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <> inline MPI_Datatype mpi_type<std::int32_t>() { return MPI_INT32_T; }
template <> inline MPI_Datatype mpi_type<std::int64_t>() { return MPI_INT64_T; }
template <> inline MPI_Datatype mpi_type<std::uint64_t>() { return MPI_UINT64_T; }
template <> inline MPI_Datatype mpi_type<char>() { return MPI_CHAR; }
template <> inline MPI_Datatype mpi_type<unsigned char>() { return MPI_UNSIGNED_CHAR; }

/// A candidate in an order-free global selection: smaller key wins, ties go to the lower
/// global row index, so the winner does not depend on which rank holds which row.
struct KeyIndex {
  double key;
  std::uint64_t index;
  friend bool operator<(const KeyIndex& a, const KeyIndex& b) {
    return a.key < b.key || (a.key == b.key && a.index < b.index);
  }
  friend bool operator==(const KeyIndex&, const KeyIndex&) = default;
  static KeyIndex none();  ///< loses against every real candidate
};

/// RAII communicator: duplicates the communicator it is given (so library traffic never
/// mixes with the caller's), sets MPI_ERRORS_RETURN and frees the duplicate on destruction.
class Comm {
 public:
  explicit Comm(MPI_Comm comm);
  ~Comm();
  Comm(Comm&& other) noexcept;
  Comm& operator=(Comm&& other) noexcept;
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  /// Collective: how many ranks of this communicator share this rank's node (shared memory).
  int ranks_on_node() const;
  MPI_Comm get() const { return comm_; }

  /// Collective over comm: element-wise reduction in place.
  template <class T>
  void allreduce(std::span<T> values, MPI_Op op) const {
    if (values.empty()) return;
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()),
                            mpi_type<std::remove_const_t<T>>(), op, comm_),
              "MPI_Allreduce");
  }
  /// Collective over comm.
  template <class T>
  T allreduce(T value, MPI_Op op) const {
    allreduce(std::span<T>(&value, 1), op);
    return value;
  }

  /// Collective over comm: exact, order-independent sum of 128-bit integers.
  void allreduce_sum(std::span<Int128> values) const;

  /// Collective over comm: element-wise minimum of (key, index) pairs.
  void allreduce_min(std::span<KeyIndex> values) const;

  /// Collective over comm: the `count` smallest (key, index) pairs over all ranks, sorted.
  /// `local` may hold any number of candidates; the result is padded with KeyIndex::none()
  /// when fewer than `count` exist globally. Work is O(count log p) per rank.
  std::vector<KeyIndex> smallest(std::vector<KeyIndex> local, std::size_t count) const;

  /// Collective over comm.
  template <class T>
  void bcast(std::span<T> values, int root) const {
    if (values.empty()) return;
    check_mpi(MPI_Bcast(values.data(), static_cast<int>(values.size()), mpi_type<T>(), root,
                        comm_),
              "MPI_Bcast");
  }
  /// Collective over comm.
  void bcast(std::string& text, int root) const;

  /// Collective over comm: gathers variable-length contributions from every rank, in rank
  /// order, onto every rank.
  template <class T>
  std::vector<T> allgatherv(std::span<const T> mine) const {
    std::vector<int> counts(size_), offsets(size_);
    int my_count = static_cast<int>(mine.size());
    check_mpi(MPI_Allgather(&my_count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm_),
              "MPI_Allgather");
    int total = 0;
    for (int r = 0; r < size_; ++r) {
      offsets[r] = total;
      total += counts[r];
    }
    std::vector<T> all(static_cast<std::size_t>(total));
    check_mpi(MPI_Allgatherv(mine.data(), my_count, mpi_type<T>(), all.data(), counts.data(),
                             offsets.data(), mpi_type<T>(), comm_),
              "MPI_Allgatherv");
    return all;
  }

  /// Collective over comm.
  void barrier() const;

  /// Collective over comm: every rank reports whether it failed; if any did, every rank
  /// throws AgreedError with the message of the lowest failing rank. Call it after a
  /// phase that may fail on some ranks only, before the next collective.
  void agree(const std::optional<std::string>& local_error) const;

  /// Collective over comm: a communicator of the ranks that pass `member` (ranks keep their
  /// order), std::nullopt on the others.
  std::optional<Comm> subset(bool member) const;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

/// How many times Comm::agree has thrown in this process. An agreed failure is thrown by every
/// rank together, so code that unwinds can tell it from a failure of this rank alone (after
/// which a collective call would wait forever).
std::uint64_t agreed_failures();

/// Runs `phase` (which must not call collectives), catching lloyd::Error, then agrees over
/// comm so that every rank throws if any rank failed. Collective over comm.
template <class Phase>
void run_agreed(const Comm& comm, Phase&& phase) {
  std::optional<std::string> error;
  try {
    phase();
  } catch (const AgreedError&) {
    throw;
  } catch (const Error& e) {
    error = e.what();
  }
  comm.agree(error);
}

/// MPI_Finalize, unless MPI is finalised already; in a sanitizer build (LLOYD_SANITIZE) the
/// leak check runs first.
void finalize_mpi();

/// RAII MPI_Init/finalize_mpi for programs and test mains.
class MpiEnvironment {
 public:
  MpiEnvironment(int& argc, char**& argv);
  ~MpiEnvironment();
  MpiEnvironment(const MpiEnvironment&) = delete;
  MpiEnvironment& operator=(const MpiEnvironment&) = delete;
};

}  // namespace lloyd
