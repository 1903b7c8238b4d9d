#include "fuzz_support.hpp"

#include <cstdlib>

// Runs once before the first input: MPI as a singleton, HDF5's own error printing off.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  MPI_Init(argc, argv);
  // libFuzzer ends with exit(): MPI must be finalised then, or mpirun reports an abnormal end.
  std::atexit([] { lloyd::finalize_mpi(); });
  lloyd::silence_hdf5_errors();
  (void)lloyd::fuzz::world();
  return 0;
}
