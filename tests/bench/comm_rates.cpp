// The machine rates of the cost model (docs/performance.md "A cost model"), measured with the
// calls a fit makes: ping-pong between ranks 0 and 1, MPI_Allreduce of doubles and of lloyd's
// exact 128-bit cluster sums (Comm::allreduce_sum, a user-defined operation) over a sweep of
// sizes, and the memory bandwidth of every rank streaming at once (a STREAM triad). Prints
// one JSON object per measurement on rank 0; scripts/bench/cost_model.py reads them.
//   cmake --build build --target comm_rates
//   mpirun -n 2 build/tests/comm_rates [--max-bytes 16777216] [--startup-only]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "lloyd/comm.hpp"

using namespace lloyd;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Repeats `operation` until about `budget` seconds have passed (at least `min_repeats`
// times, every rank the same count: rank 0 decides) and returns the median of 5 such
// averages, timed on rank 0 between barriers.
template <class Operation>
double timed(const Comm& comm, Operation operation, double budget = 0.05, int min_repeats = 3) {
  operation();  // warm up: buffers, connections
  std::vector<double> averages;
  int repeats = min_repeats;
  for (int round = 0; round < 5; ++round) {
    comm.barrier();
    const auto start = Clock::now();
    for (int r = 0; r < repeats; ++r) operation();
    comm.barrier();
    double elapsed = seconds_since(start);
    MPI_Bcast(&elapsed, 1, MPI_DOUBLE, 0, comm.get());
    averages.push_back(elapsed / repeats);
    if (round == 0 && elapsed < budget)
      repeats = std::max(repeats, static_cast<int>(repeats * budget / std::max(elapsed, 1e-9)));
  }
  std::sort(averages.begin(), averages.end());
  return averages[2];
}

std::vector<std::size_t> sizes_up_to(std::size_t largest) {
  std::vector<std::size_t> sizes;
  for (std::size_t bytes = 16; bytes <= largest; bytes *= 4) sizes.push_back(bytes);
  return sizes;
}

void ping_pong(const Comm& comm, std::size_t largest) {
  if (comm.size() < 2) return;
  for (const std::size_t bytes : sizes_up_to(largest)) {
    std::vector<char> buffer(bytes);
    const auto round_trip = [&] {
      if (comm.rank() == 0) {
        MPI_Send(buffer.data(), static_cast<int>(bytes), MPI_CHAR, 1, 0, comm.get());
        MPI_Recv(buffer.data(), static_cast<int>(bytes), MPI_CHAR, 1, 0, comm.get(), MPI_STATUS_IGNORE);
      } else if (comm.rank() == 1) {
        MPI_Recv(buffer.data(), static_cast<int>(bytes), MPI_CHAR, 0, 0, comm.get(), MPI_STATUS_IGNORE);
        MPI_Send(buffer.data(), static_cast<int>(bytes), MPI_CHAR, 0, 0, comm.get());
      }
    };
    const double seconds = timed(comm, round_trip) / 2;
    if (comm.rank() == 0)
      std::printf("{\"kind\":\"pingpong\",\"ranks\":%d,\"bytes\":%zu,\"seconds\":%.9g}\n", comm.size(), bytes,
                  seconds);
  }
}

void allreduce_sweep(const Comm& comm, std::size_t largest) {
  for (const std::size_t bytes : sizes_up_to(largest)) {
    std::vector<double> doubles(bytes / sizeof(double), 1.0);
    const double plain = timed(comm, [&] { comm.allreduce(std::span<double>(doubles), MPI_SUM); });
    std::vector<Int128> sums(bytes / sizeof(Int128), Int128{1});
    const double exact = timed(comm, [&] { comm.allreduce_sum(std::span<Int128>(sums)); });
    if (comm.rank() == 0) {
      std::printf("{\"kind\":\"allreduce_double\",\"ranks\":%d,\"bytes\":%zu,\"seconds\":%.9g}\n", comm.size(),
                  bytes, plain);
      std::printf("{\"kind\":\"allreduce_int128\",\"ranks\":%d,\"bytes\":%zu,\"seconds\":%.9g}\n", comm.size(),
                  bytes, exact);
    }
  }
}

// STREAM's triad a = b + s·c on 3 arrays of 32 MiB per rank, every rank at once: the rate a
// rank streams its shard at while the others do the same (bytes moved: 3 arrays).
void memory_bandwidth(const Comm& comm) {
  const std::size_t count = (32u << 20) / sizeof(double);
  std::vector<double> a(count, 0.0), b(count, 1.0), c(count, 2.0);
  const double scale = 3.0;
  const double seconds = timed(
      comm,
      [&] {
        double* __restrict out = a.data();
        const double* __restrict x = b.data();
        const double* __restrict y = c.data();
        for (std::size_t i = 0; i < count; ++i) out[i] = x[i] + scale * y[i];
      },
      0.3);
  volatile double sink = a[count / 2];
  (void)sink;
  if (comm.rank() == 0)
    std::printf("{\"kind\":\"memory_triad\",\"ranks\":%d,\"bytes\":%zu,\"seconds\":%.9g}\n", comm.size(),
                3 * count * sizeof(double), seconds);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int status = 0;
  try {
    Comm comm(MPI_COMM_WORLD);
    std::size_t largest = 16u << 20;
    bool startup_only = false;  // MPI_Init to MPI_Finalize only: the launcher's cost
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], "--startup-only") == 0) startup_only = true;
      if (std::strcmp(argv[i], "--max-bytes") == 0 && i + 1 < argc) largest = std::strtoull(argv[i + 1], nullptr, 10);
    }
    comm.barrier();
    if (!startup_only) {
      memory_bandwidth(comm);
      ping_pong(comm, largest);
      allreduce_sweep(comm, largest);
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "comm_rates: %s\n", error.what());
    status = 1;
  }
  MPI_Finalize();
  return status;
}
