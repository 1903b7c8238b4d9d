#!/usr/bin/env bash
# Two facts of this machine that bound a whole default fit (P4 of bench_lloyd.py; see
# docs/performance.md, "Where P4's time goes"):
#
#   1. the read bandwidth with every core streaming (k-means++ reads the shard once per pick,
#      so 64 picks over P1's 128 MB cannot take less than 64 × 128 MB at this rate);
#   2. how long MPI_Init and MPI_Finalize take in a program that does nothing else, at 2 ranks,
#      as it is and with TCP_NODELAY set on every TCP socket it connects (an LD_PRELOAD shim).
#      With Debian's Open MPI 4.1 and PMIx 4.2 under mpirun, MPI_Finalize waits ~40 ms: the
#      rank's PMIx client sends two small messages on a loopback TCP socket without
#      TCP_NODELAY, and Nagle's algorithm holds the second until the server's delayed ACK.
#
#     scripts/bench/machine_floors.sh [MEGABYTES=256]
#
# Builds its three small programs (gcc, mpicc) in a temporary directory; changes nothing else.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
megabytes=${1:-256}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/read.c" <<'EOF'
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char** argv) {
  const size_t n = (size_t)atol(argv[1]) * 1024 * 1024 / sizeof(float);
  float* values = aligned_alloc(64, n * sizeof(float));
  memset(values, 0, n * sizeof(float));
  double best = 1e30;
  for (int repeat = 0; repeat < 10; ++repeat) {
    const double start = omp_get_wtime();
    float sum = 0;
#pragma omp parallel for simd reduction(+ : sum) schedule(static)
    for (size_t i = 0; i < n; ++i) sum += values[i];
    const double seconds = omp_get_wtime() - start;
    if (seconds < best) best = seconds;
    if (sum != 0) puts("");
  }
  printf("read bandwidth, %d threads, %zu MB: %.1f GB/s (best of 10)\n", omp_get_max_threads(),
         n * sizeof(float) >> 20, n * sizeof(float) / best / 1e9);
  free(values);
  return 0;
}
EOF
gcc -O3 -march=native -fopenmp "$work/read.c" -o "$work/read"
"$work/read" "$megabytes"

cat > "$work/init_finalize.c" <<'EOF'
#include <mpi.h>
#include <stdio.h>
int main(int argc, char** argv) {
  const double start = MPI_Wtime();  /* MPI_Wtime may be called before MPI_Init */
  MPI_Init(&argc, &argv);
  const double initialized = MPI_Wtime();
  MPI_Barrier(MPI_COMM_WORLD);
  const double before = MPI_Wtime();
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Finalize();
  const double after = MPI_Wtime();
  printf("  rank %d: MPI_Init %.1f ms, MPI_Finalize %.1f ms\n", rank, (initialized - start) * 1e3,
         (after - before) * 1e3);
  return 0;
}
EOF
mpicc -O2 "$work/init_finalize.c" -o "$work/init_finalize"

cat > "$work/nodelay.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
/* connect() as usual, then TCP_NODELAY on IPv4/IPv6 stream sockets (an error is ignored). */
int connect(int fd, const struct sockaddr* address, socklen_t length) {
  static int (*real_connect)(int, const struct sockaddr*, socklen_t);
  if (!real_connect) real_connect = (int (*)(int, const struct sockaddr*, socklen_t))dlsym(RTLD_NEXT, "connect");
  const int result = real_connect(fd, address, length);
  if (address && (address->sa_family == AF_INET || address->sa_family == AF_INET6)) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return result;
}
EOF
gcc -O2 -shared -fPIC "$work/nodelay.c" -o "$work/nodelay.so" -ldl

echo "an MPI program that only starts and stops, 2 ranks, as it is:"
mpirun --oversubscribe --bind-to none -n 2 "$work/init_finalize" | sort
echo "the same with TCP_NODELAY on the sockets it connects (LD_PRELOAD shim):"
mpirun --oversubscribe --bind-to none -n 2 -x LD_PRELOAD="$work/nodelay.so" "$work/init_finalize" | sort
