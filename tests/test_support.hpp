#pragma once
// Helpers shared by the tests: fixture paths and a gathered view of distributed results
// (gathering is fine in tests; the library itself never gathers the data).
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lloyd/comm.hpp"
#include "lloyd/core/options.hpp"
#include "lloyd/error.hpp"

namespace lloyd::test {

inline std::string data_path(const std::string& name) {
  const char* dir = std::getenv("LLOYD_TEST_DATA");
  return std::string(dir ? dir : "tests/data") + "/" + name;
}

/// All ranks' local vectors, concatenated in rank order, on every rank.
template <class T>
std::vector<T> gather_all(const Comm& comm, const std::vector<T>& local) {
  return comm.allgatherv(std::span<const T>(local));
}

/// A scratch file name that is the same on every rank and unique per test binary run.
inline std::string scratch_path(const Comm& comm, const std::string& stem) {
  std::int64_t stamp = comm.rank() == 0 ? static_cast<std::int64_t>(std::rand()) ^
                                              static_cast<std::int64_t>(MPI_Wtime() * 1e6)
                                        : 0;
  comm.bcast(std::span<std::int64_t>(&stamp, 1), 0);
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp ? tmp : "/tmp") + "/lloyd-test-" + stem + "-" + std::to_string(stamp) +
         ".h5";
}

/// Whether two values are the same bits (-0 differs from 0; a NaN equals the same NaN).
template <class V>
bool same_bits(const V& a, const V& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

/// Expects two fits to have ended bit-identical: centres (bit for bit), labels, inertias,
/// iterations, restarts and histories.
template <class T>
void expect_same_fit(const KMeansResult<T>& a, const KMeansResult<T>& b, const std::string& what) {
  EXPECT_TRUE(a.centroids.rows() == b.centroids.rows() && a.centroids.cols() == b.centroids.cols() &&
              std::memcmp(a.centroids.data(), b.centroids.data(),
                          static_cast<std::size_t>(a.centroids.size()) * sizeof(T)) == 0)
      << what;
  EXPECT_EQ(a.labels, b.labels) << what;
  EXPECT_TRUE(same_bits(a.inertia, b.inertia)) << what;
  EXPECT_TRUE(same_bits(a.init_inertia, b.init_inertia)) << what;
  EXPECT_EQ(a.n_iter, b.n_iter) << what;
  EXPECT_EQ(a.converged, b.converged) << what;
  EXPECT_EQ(a.best_restart, b.best_restart) << what;
  EXPECT_EQ(a.restart_inertia, b.restart_inertia) << what;
  EXPECT_EQ(a.inertia_history, b.inertia_history) << what;
  EXPECT_EQ(a.center_shift_history, b.center_shift_history) << what;
}

/// Expects `read` to throw an AgreedError whose message contains `expected`.
inline void expect_agreed_error(const std::function<void()>& read, const std::string& expected) {
  try {
    read();
    ADD_FAILURE() << "accepted; expected an error with: " << expected;
  } catch (const AgreedError& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
}

/// A scratch file written by rank 0 (`make(path)`), seen by every rank, removed at the end.
class ScratchPath {
 public:
  ScratchPath(const Comm& comm, std::string path, const std::function<void(const std::string&)>& make)
      : comm_(comm), path_(std::move(path)) {
    if (comm.rank() == 0) make(path_);
    comm.barrier();
  }
  ~ScratchPath() {
    comm_.barrier();
    if (comm_.rank() == 0) std::filesystem::remove(path_);
  }
  ScratchPath(const ScratchPath&) = delete;
  ScratchPath& operator=(const ScratchPath&) = delete;
  const std::string& path() const { return path_; }

 private:
  const Comm& comm_;
  std::string path_;
};

}  // namespace lloyd::test

#include "lloyd/io/hdf5.hpp"

namespace lloyd::test {

/// The reference values a fixture file stores under /expected (see scripts/fixtures).
struct Expected {
  RowMatrix<double> centroids;
  std::vector<std::int32_t> labels;
  double inertia = 0;
  std::int64_t n_iter = 0, max_iter = 0, k = 0;
  double tol = 0;
};

/// Every rank reads the small fixture on its own (serial HDF5 access of a parallel build).
inline Expected read_expected(const Comm& comm, const std::string& file) {
  Expected expected;
  expected.centroids = read_matrix<double>(comm, {file, "/expected/centroids"});
  Hid handle(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  Hid group(H5Gopen2(handle.get(), "/expected", H5P_DEFAULT), H5Gclose);
  Hid labels(H5Dopen2(group.get(), "labels", H5P_DEFAULT), H5Dclose);
  Hid space(H5Dget_space(labels.get()), H5Sclose);
  expected.labels.resize(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get())));
  H5Dread(labels.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, expected.labels.data());
  expected.inertia = read_attribute_double(group.get(), "inertia");
  expected.tol = read_attribute_double(group.get(), "tol");
  expected.n_iter = read_attribute_int(group.get(), "n_iter");
  expected.max_iter = read_attribute_int(group.get(), "max_iter");
  expected.k = read_attribute_int(group.get(), "k");
  return expected;
}

}  // namespace lloyd::test
