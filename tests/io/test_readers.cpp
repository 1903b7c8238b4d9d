// The readers of small untrusted files (io/small_file, io/model) and of CSR groups against
// files that claim more than they hold: datasets created with a huge extent and never
// written. Found by the fuzz targets (tests/fuzz); each must be one clear error on every rank,
// never an allocation of the claimed size.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>

#include "../test_support.hpp"
#include "lloyd/io/csr.hpp"
#include "lloyd/io/model.hpp"

namespace lloyd {
namespace {

// A file written by rank 0 with `make`, removed at the end of the test.
class ScratchFile : public test::ScratchPath {
 public:
  ScratchFile(const Comm& comm, const std::function<void(hid_t)>& make)
      : ScratchPath(comm, test::scratch_path(comm, "reader"), [&](const std::string& path) {
          Hid file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
          make(file.get());
        }) {}
};

// A chunked dataset of `dims` that is never written: it claims its extent, stores nothing.
void unwritten(hid_t file, const char* name, std::vector<hsize_t> dims, hid_t type = H5T_NATIVE_DOUBLE) {
  const std::vector<hsize_t> unlimited(dims.size(), H5S_UNLIMITED), chunk(dims.size(), 4);
  Hid space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), unlimited.data()), H5Sclose);
  Hid dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
  Hid lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  Hid dataset(H5Dcreate2(file, name, type, space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT), H5Dclose);
}

TEST(UntrustedReaders, CentroidsLargerThanAnyFile) {
  Comm comm(MPI_COMM_WORLD);
  // 2^33 x 2^33 elements: HDF5's own element count wraps around to 0 (the fuzz finding
  // tests/fuzz/regressions/model/centroids_2p33_squared_unwritten.bin: std::bad_alloc).
  const ScratchFile file(comm, [](hid_t f) { unwritten(f, "/centroids", {hsize_t{1} << 33, hsize_t{1} << 33}); });
  test::expect_agreed_error([&] { read_model<double>(comm, {file.path(), "/centroids"}); },
                      "/centroids (8589934592 x 8589934592) is larger than any file");
}

TEST(UntrustedReaders, CentroidsNeverWritten) {
  Comm comm(MPI_COMM_WORLD);
  const ScratchFile file(comm, [](hid_t f) { unwritten(f, "/centroids", {hsize_t{1} << 30, 3}); });
  test::expect_agreed_error([&] { read_model<float>(comm, {file.path(), "/centroids"}, 3); },
                      "/centroids (1073741824 x 3) has no stored values");
}

TEST(UntrustedReaders, CsrIndptrNeverWritten) {
  Comm comm(MPI_COMM_WORLD);
  constexpr std::int64_t rows = std::int64_t{1} << 33;
  const ScratchFile file(comm, [](hid_t f) {
    unwritten(f, "/X/data", {8});
    unwritten(f, "/X/indices", {8}, H5T_NATIVE_INT64);
    unwritten(f, "/X/indptr", {rows + 1}, H5T_NATIVE_INT64);
    Hid group(H5Gopen2(f, "/X", H5P_DEFAULT), H5Gclose);
    const hsize_t two = 2;
    const std::int64_t shape[2] = {rows, 4};
    Hid space(H5Screate_simple(1, &two, nullptr), H5Sclose);
    Hid attribute(H5Acreate2(group.get(), "shape", H5T_NATIVE_INT64, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    H5Awrite(attribute.get(), H5T_NATIVE_INT64, shape);
  });
  test::expect_agreed_error([&] { inspect_matrix(comm, {file.path(), "/X"}); }, "'data' (8 entries) has no stored values");
}

}  // namespace
}  // namespace lloyd
