// Shared main of every test binary: MPI is initialised once, only rank 0 prints, and a test
// that fails on any rank is reported as failed (with the failing ranks) and fails the run on
// every rank, so CTest sees the same verdict whichever rank went wrong.
#include <gtest/gtest.h>
#include <mpi.h>

#include <iostream>

#include "lloyd/comm.hpp"
#include "lloyd/io/hdf5.hpp"

namespace {

class RankFailureListener : public testing::EmptyTestEventListener {
 public:
  void OnTestEnd(const testing::TestInfo& info) override {
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int failed = info.result()->Failed() ? 1 : 0;
    std::vector<int> all(static_cast<std::size_t>(size));
    MPI_Gather(&failed, 1, MPI_INT, all.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rank == 0) {
      for (int r = 1; r < size; ++r)
        if (all[static_cast<std::size_t>(r)])
          std::cout << "[  RANK " << r << " ] " << info.test_suite_name() << "." << info.name()
                    << " failed on rank " << r << std::endl;
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  lloyd::silence_hdf5_errors();
  testing::InitGoogleTest(&argc, argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  auto& listeners = testing::UnitTest::GetInstance()->listeners();
  if (rank != 0) {
    // Other ranks still report their own failures in detail, but not the progress lines.
    delete listeners.Release(listeners.default_result_printer());
  }
  listeners.Append(new RankFailureListener);
  int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  int any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  lloyd::finalize_mpi();
  return any_failed;
}
