#pragma once
// Internal cluster-validity indices that need reductions only: Calinski–Harabasz and
// Davies–Bouldin, as scikit-learn defines them (Euclidean distances).
#include <cstdint>
#include <span>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// Per-cluster sizes and means (in double) from exact fixed-point sums: identical on every
/// rank and for any number of ranks.
struct ClusterMeans {
  std::vector<std::int64_t> sizes;  ///< indexed by label; 0 for unused labels
  RowMatrix<double> means;          ///< k × d (rows of unused labels are 0)
  RowMatrix<double> overall;        ///< 1 × d, the mean of all rows
  std::int64_t used() const;        ///< clusters with at least one row
};

/// Collective over comm.
template <class T>
ClusterMeans cluster_means(const Comm& comm, const DenseShard<T>& shard,
                           std::span<const std::int32_t> labels);

/// Collective over comm: scikit-learn's calinski_harabasz_score: between-cluster dispersion
/// × (n − k) / (within-cluster dispersion × (k − 1)); 1 when the within dispersion is 0.
template <class T>
double calinski_harabasz(const Comm& comm, const DenseShard<T>& shard,
                         std::span<const std::int32_t> labels);

/// Collective over comm: scikit-learn's davies_bouldin_score: the mean over clusters of the
/// largest (s_i + s_j) / ‖c_i − c_j‖, s_i the mean distance of cluster i's rows to its mean.
template <class T>
double davies_bouldin(const Comm& comm, const DenseShard<T>& shard,
                      std::span<const std::int32_t> labels);

}  // namespace lloyd
