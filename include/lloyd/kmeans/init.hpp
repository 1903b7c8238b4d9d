#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/exact_sum.hpp"
#include "lloyd/kmeans/options.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// Collective over comm: k starting centres for restart `restart`, drawn with the
/// counter-based generator so that they are identical for every number of ranks.
/// - k-means++: D² sampling as a race (row i's key is −log(u_i)/D²(x_i); the global
///   minimum wins), with scikit-learn's greedy local trials (2 + ⌊ln k⌋ candidates per
///   centre, the one that lowers the potential most is kept; potentials are exact sums).
/// - forgy: the k rows with the smallest uniform keys (k distinct rows).
/// - random-partition: every row joins a uniformly drawn cluster; centres are the means.
template <class T>
RowMatrix<T> initial_centres(const Comm& comm, const DenseShard<T>& shard, InitMethod method,
                             int k, std::uint64_t seed, int restart, const FixedPoint& fixed);

}  // namespace lloyd
