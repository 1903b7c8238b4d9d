// libFuzzer target (issue 21): raw values — NaN, ±Inf, ±DBL_MAX, denormals, anything the bytes
// spell — straight into the assignment kernels (direct d <= 16, tiles for
// larger d; Lloyd, Hamerly, Yinyang) and the fixed-point sums, bypassing the readers' checks.
// Whatever the values, every label must be in [0, k) and no kernel may touch memory outside
// its buffers (ASan) or overflow a conversion (UBSan).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "lloyd/core/exact_sum.hpp"
#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/bounded.hpp"
#include "lloyd/core/cluster_sums.hpp"

namespace {

template <class T>
void run_kernels(const std::uint8_t* data, std::size_t size, Eigen::Index d, Eigen::Index k) {
  using namespace lloyd;
  const Eigen::Index values = static_cast<Eigen::Index>(size / sizeof(T));
  const Eigen::Index n = values / d;
  if (n < k || n == 0) return;
  DenseShard<T> shard;
  shard.global_rows = static_cast<std::uint64_t>(n);
  shard.rows.resize(n, d);
  std::memcpy(shard.rows.mutable_data(), data, static_cast<std::size_t>(n * d) * sizeof(T));
  const RowMatrix<T> centres = shard.rows.matrix().topRows(k);
  // The widest scale: every finite value converts without overflow.
  const std::vector<double> max_abs(static_cast<std::size_t>(d), static_cast<double>(std::numeric_limits<T>::max()));
  const FixedPoint fixed(max_abs);
  std::vector<std::int32_t> labels(static_cast<std::size_t>(n), -1);
  std::vector<double> distances(static_cast<std::size_t>(n));
  auto check_labels = [&] {
    for (const std::int32_t label : labels)
      if (label < 0 || label >= k) std::abort();
  };
  Assigner<T> assigner(d, k);
  assigner.assign(shard, centres, labels, distances);
  check_labels();
  for (const int groups : {1, 3}) {
    std::fill(labels.begin(), labels.end(), -1);
    BoundedAssigner<T> bounded(n, d, k, groups);
    bounded.assign(shard, centres, labels, distances, {.exact_distances = true});
    check_labels();
    bounded.assign(shard, centres, labels, distances, {.exact_distances = true});
    check_labels();
  }
  // The fixed-point sums of the rows lloyd would accept (finite): exact integers, no overflow.
  ClusterSums sums(k, d);
  for (Eigen::Index i = 0; i < n; ++i) {
    bool finite = true;
    for (Eigen::Index j = 0; j < d; ++j) finite = finite && std::isfinite(shard.rows(i, j));
    if (finite) sums.add(labels[static_cast<std::size_t>(i)], shard.rows.row(i).data(), fixed);
  }
  RowMatrix<T> means = centres;
  sums.means(fixed, means);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  // The first bytes choose the shape and the type; the rest are the values, bit for bit.
  const Eigen::Index d = 1 + data[0] % 24;  // both sides of the direct kernel's limit (16)
  const Eigen::Index k = 1 + data[1] % 40;
  const bool single = data[2] & 1;
  data += 3;
  size -= 3;
  if (single) run_kernels<float>(data, size, d, k);
  else run_kernels<double>(data, size, d, k);
  return 0;
}
