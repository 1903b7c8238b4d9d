#pragma once
// Shared set-up of the libFuzzer targets: MPI as a singleton (one rank; the readers' collective
// calls then involve this process alone), HDF5's own error printing off, and each input written
// to a scratch file of its own that the readers open by name, exactly as lloyd does.
#include <hdf5.h>
#include <mpi.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "h5_description.hpp"
#include "lloyd/comm.hpp"
#include "lloyd/io/hdf5.hpp"

namespace lloyd::fuzz {

/// MPI_COMM_WORLD of the singleton (MPI is initialised by fuzz_support.cpp's
/// LLVMFuzzerInitialize, linked into every target that reads files).
inline const Comm& world() {
  static const Comm comm(MPI_COMM_WORLD);
  return comm;
}

/// Whether inputs are the raw bytes of HDF5 files (LLOYD_FUZZ_RAW=1: fuzzes HDF5's own parser
/// too) rather than descriptions of files (h5_description.hpp, the default).
inline bool raw_inputs() {
  static const bool raw = std::getenv("LLOYD_FUZZ_RAW") && std::string(std::getenv("LLOYD_FUZZ_RAW")) == "1";
  return raw;
}

/// The input as a file that exists while the object lives: built from its description with
/// the names of `vocabulary`, or its bytes as they are (raw_inputs()). A new name for every
/// input: HDF5 recognises a file it still holds open by its name and inode, and must never
/// be handed an earlier input's state.
class InputFile {
 public:
  InputFile(const std::uint8_t* data, std::size_t size, const Vocabulary& vocabulary) {
    static std::uint64_t count = 0;
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir ? dir : "/tmp") + "/lloyd-fuzz-" + std::to_string(getpid()) + "-" +
            std::to_string(count++) + ".h5";
    if (!raw_inputs()) {
      build_file(data, size, vocabulary, path_);
      return;
    }
    std::FILE* file = std::fopen(path_.c_str(), "wb");
    if (!file || std::fwrite(data, 1, size, file) != size || std::fclose(file) != 0) std::abort();
  }
  ~InputFile() {
    std::remove(path_.c_str());
    // Every reader must close what it opened, on every path (a leaked handle would also
    // keep the file open inside HDF5).
    if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != 0) {
      std::fprintf(stderr, "lloyd fuzz: %lld HDF5 objects left open\n",
                   static_cast<long long>(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL)));
      std::abort();
    }
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace lloyd::fuzz
