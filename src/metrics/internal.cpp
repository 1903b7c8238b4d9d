#include "lloyd/metrics/internal.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "lloyd/error.hpp"
#include "lloyd/core/exact_sum.hpp"
#include "lloyd/core/distance.hpp"
#include "lloyd/core/cluster_sums.hpp"
#include "lloyd/core/summary.hpp"
#include "lloyd/metrics/labels.hpp"

namespace lloyd {

std::int64_t ClusterMeans::used() const {
  return std::count_if(sizes.begin(), sizes.end(), [](std::int64_t s) { return s > 0; });
}

template <class T>
ClusterMeans cluster_means(const Comm& comm, const DenseShard<T>& shard,
                           std::span<const std::int32_t> labels) {
  const std::int32_t k = check_cluster_labels(comm, labels, "labels");
  const Eigen::Index d = shard.features();
  const FixedPoint fixed = summarize(comm, shard).fixed;  // the scales K-Means uses
  // Cluster k (one past the last) collects every row: the overall mean rides along.
  ClusterSums sums(k + 1, fixed);
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
    sums.add(labels[static_cast<std::size_t>(i)], shard.row(i), fixed);
    sums.add(k, shard.row(i), fixed);
  }
  sums.allreduce(comm);
  RowMatrix<double> all = RowMatrix<double>::Zero(k + 1, d);
  sums.means(fixed, all);
  ClusterMeans result;
  result.sizes.resize(static_cast<std::size_t>(k));
  for (std::int32_t c = 0; c < k; ++c) result.sizes[c] = sums.count(c);
  result.means = all.topRows(k);
  result.overall = all.bottomRows(1);
  return result;
}

namespace {
void check_cluster_count(std::int64_t used, std::uint64_t n, const char* metric) {
  if (used < 2 || static_cast<std::uint64_t>(used) > n - 1)
    throw AgreedError(std::string(metric) + " needs 2 to n-1 clusters (got " +
                      std::to_string(used) + " clusters for " + std::to_string(n) + " rows)");
}
}  // namespace

template <class T>
double calinski_harabasz(const Comm& comm, const DenseShard<T>& shard,
                         std::span<const std::int32_t> labels) {
  const ClusterMeans clusters = cluster_means(comm, shard, labels);
  const std::int64_t k = clusters.used();
  check_cluster_count(k, shard.global_rows, "Calinski-Harabasz");
  const Eigen::Index d = shard.features();
  ExactSum within;
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
    within.add(squared_distance(shard.row(i), clusters.means.row(labels[i]).data(), d));
  within.allreduce(comm);
  ExactSum between;
  for (Eigen::Index c = 0; c < clusters.means.rows(); ++c)
    if (clusters.sizes[c] > 0)
      between.add(static_cast<double>(clusters.sizes[c]) *
                  squared_distance(clusters.means.row(c).data(), clusters.overall.data(), d));
  const double n = static_cast<double>(shard.global_rows);
  if (within.value() == 0) return 1.0;
  return between.value() * (n - static_cast<double>(k)) /
         (within.value() * (static_cast<double>(k) - 1.0));
}

template <class T>
double davies_bouldin(const Comm& comm, const DenseShard<T>& shard,
                      std::span<const std::int32_t> labels) {
  const ClusterMeans clusters = cluster_means(comm, shard, labels);
  check_cluster_count(clusters.used(), shard.global_rows, "Davies-Bouldin");
  const Eigen::Index d = shard.features(), k = clusters.means.rows();
  std::vector<ExactSum> spread(static_cast<std::size_t>(k));
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
    const std::int32_t c = labels[static_cast<std::size_t>(i)];
    spread[c].add(std::sqrt(squared_distance(shard.row(i), clusters.means.row(c).data(), d)));
  }
  ExactSum::allreduce(std::span<ExactSum>(spread), comm);
  std::vector<Eigen::Index> used;
  std::vector<double> intra;
  for (Eigen::Index c = 0; c < k; ++c)
    if (clusters.sizes[c] > 0) {
      used.push_back(c);
      intra.push_back(spread[c].value() / static_cast<double>(clusters.sizes[c]));
    }
  const std::size_t m = used.size();
  bool all_intra_zero = true, all_centres_equal = true;
  for (const double s : intra) all_intra_zero = all_intra_zero && std::abs(s) <= 1e-8;
  RowMatrix<double> centre_distance(m, m);
  for (std::size_t a = 0; a < m; ++a)
    for (std::size_t b = 0; b < m; ++b) {
      centre_distance(a, b) = std::sqrt(squared_distance(clusters.means.row(used[a]).data(),
                                                         clusters.means.row(used[b]).data(), d));
      all_centres_equal = all_centres_equal && std::abs(centre_distance(a, b)) <= 1e-8;
    }
  if (all_intra_zero || all_centres_equal) return 0.0;  // scikit-learn's np.allclose(·, 0)
  double total = 0;
  for (std::size_t a = 0; a < m; ++a) {
    double worst = 0;
    for (std::size_t b = 0; b < m; ++b) {
      const double separation = centre_distance(a, b) == 0 ? std::numeric_limits<double>::infinity()
                                                           : centre_distance(a, b);
      worst = std::max(worst, (intra[a] + intra[b]) / separation);
    }
    total += worst;
  }
  return total / static_cast<double>(m);
}

template ClusterMeans cluster_means(const Comm&, const DenseShard<float>&,
                                    std::span<const std::int32_t>);
template ClusterMeans cluster_means(const Comm&, const DenseShard<double>&,
                                    std::span<const std::int32_t>);
template double calinski_harabasz(const Comm&, const DenseShard<float>&,
                                  std::span<const std::int32_t>);
template double calinski_harabasz(const Comm&, const DenseShard<double>&,
                                  std::span<const std::int32_t>);
template double davies_bouldin(const Comm&, const DenseShard<float>&,
                               std::span<const std::int32_t>);
template double davies_bouldin(const Comm&, const DenseShard<double>&,
                               std::span<const std::int32_t>);

}  // namespace lloyd
