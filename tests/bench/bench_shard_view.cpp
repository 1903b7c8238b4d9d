// The same fit through a shard owning its rows and through a view of that memory
// (DenseShard::view_of, the zero-copy path of a NumPy array): per-iteration and seeding
// times, alternating owned and view, and a check that the results are the same bits.
//   cmake --build build --target bench_shard_view
//   build/lloyd generate --output /tmp/blobs.h5 --samples 400000 --features 16 --centers 64 --dtype float32
//   OMP_NUM_THREADS=2 mpirun -n 1 build/tests/bench_shard_view /tmp/blobs.h5 64 [algorithm] [rounds]
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "lloyd/io/hdf5.hpp"
#include "lloyd/kmeans/driver.hpp"

using namespace lloyd;

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  {
    Comm comm(MPI_COMM_WORLD);
    if (argc < 3) {
      std::fprintf(stderr, "usage: bench_shard_view FILE.h5 K [lloyd|hamerly|yinyang|auto] [rounds]\n");
      return 2;
    }
    const DatasetRef ref{argv[1], "/X"};
    const DenseShard<float> owned = read_shard<float>(comm, ref, inspect_matrix(comm, ref));
    const DenseShard<float> view = DenseShard<float>::view_of(owned.row(0), owned.local_rows(), owned.features(),
                                                              owned.global_rows, owned.first_row);
    KMeansOptions options;
    options.k = std::stoi(argv[2]);
    options.algorithm = parse_algorithm(argc > 3 ? argv[3] : "lloyd");
    options.max_iter = 40;
    options.tol = 0;  // a fixed number of iterations
    const int rounds = argc > 4 ? std::stoi(argv[4]) : 3;
    KMeansResult<float> first;
    std::vector<double> per_iteration[2], seeding[2];  // [owned, view]
    for (int round = 0; round < 2 * rounds; ++round) {
      const bool on_view = round % 2 == 1;
      const double start = MPI_Wtime();
      const KMeansResult<float> result = fit_kmeans(comm, on_view ? view : owned, options);
      const double seconds = MPI_Wtime() - start;
      const double loop = result.phases.assign + result.phases.reduce + result.phases.update;
      if (round == 0) first = result;
      per_iteration[on_view].push_back(1e3 * loop / result.n_iter);
      seeding[on_view].push_back(result.phases.init);
      const bool same = result.centroids.size() == first.centroids.size() &&
                        std::memcmp(result.centroids.data(), first.centroids.data(),
                                    static_cast<std::size_t>(first.centroids.size()) * sizeof(float)) == 0 &&
                        result.labels == first.labels && result.inertia == first.inertia;
      if (comm.rank() == 0)
        std::printf("%-5s %-8s n_iter %d  per-iteration %.2f ms  init (summary+seeding) %.3f s  total %.3f s  %s\n",
                    on_view ? "view" : "owned", to_string(result.algorithm), result.n_iter,
                    1e3 * loop / result.n_iter, result.phases.init, seconds, same ? "same bits" : "DIFFERENT");
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    };
    for (int on_view = 0; on_view < 2; ++on_view)
      if (comm.rank() == 0)
        std::printf("%-5s per-iteration ms: min %.2f median %.2f   init s: min %.3f median %.3f  (%d fits)\n",
                    on_view ? "view" : "owned", *std::min_element(per_iteration[on_view].begin(), per_iteration[on_view].end()),
                    median(per_iteration[on_view]), *std::min_element(seeding[on_view].begin(), seeding[on_view].end()),
                    median(seeding[on_view]), rounds);
  }
  MPI_Finalize();
  return 0;
}
