#pragma once
// Nearest centres under any distance of core/distance.hpp (K-medians, K-medoids, predict).
#include <cstdint>
#include <span>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/core/distance.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// The rows a pass over the shard takes at once where it keeps labels and distances (12 bytes
/// a row) only for a piece, not for the shard: predict_nearest (K-medoids, predict), K-medians'
/// assignment, mini-batch's passes. A row's label and distance, and the exact sums, do not
/// depend on the pieces. The memory model counts one piece (memory_model.cpp).
inline constexpr std::int64_t kPassPieceRows = std::int64_t{1} << 16;

/// The nearest of `centres` to every local row under `distance` (row_distance; ties: the
/// lower centre) and that distance. Threads: set_threads.
template <class T>
void assign_nearest(const DenseShard<T>& shard, const RowMatrix<T>& centres, Distance distance,
                    std::span<std::int32_t> labels, std::span<double> distances);

/// Collective over comm: assign_nearest over the whole shard; returns Σ distances (exact).
template <class T>
double predict_nearest(const Comm& comm, const DenseShard<T>& shard, const RowMatrix<T>& centres,
                       Distance distance, std::vector<std::int32_t>& labels);

}  // namespace lloyd
