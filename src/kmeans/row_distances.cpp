#include "lloyd/kmeans/row_distances.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "lloyd/kmeans/assign.hpp"

namespace lloyd {

namespace {

// ‖c‖ of every centre in double, term by term in column order.
template <class T>
std::vector<double> centre_norms(const RowMatrix<T>& centres) {
  std::vector<double> norms(static_cast<std::size_t>(centres.rows()));
  for (Eigen::Index c = 0; c < centres.rows(); ++c) {
    double squares = 0;
    for (Eigen::Index j = 0; j < centres.cols(); ++j) {
      const double v = static_cast<double>(centres(c, j));
      squares += v * v;
    }
    norms[static_cast<std::size_t>(c)] = std::sqrt(squares);
  }
  return norms;
}

// 1 − x·c / (‖x‖‖c‖) of sparse row i, 1 when either is zero; clamped to [0, 2] against rounding.
template <class T>
double sparse_cosine(const CsrShard<T>& shard, Eigen::Index i, const T* centre, double centre_norm) {
  double dot = 0, squares = 0;
  for (std::int64_t e = shard.row_begin(i); e < shard.row_end(i); ++e) {
    const double x = static_cast<double>(shard.values[static_cast<std::size_t>(e)]);
    dot += x * static_cast<double>(centre[shard.indices[static_cast<std::size_t>(e)]]);
    squares += x * x;
  }
  const double norms = std::sqrt(squares) * centre_norm;
  return norms > 0 ? std::clamp(1.0 - dot / norms, 0.0, 2.0) : 1.0;
}

template <class T>
void check_sparse_distance(Distance distance) {
  if (distance != Distance::Cosine)
    throw Error(std::string("distances of sparse rows: only the cosine distance, not ") + to_string(distance));
}

}  // namespace

template <class T>
double centre_distance(Distance distance, const T* row, const T* centre, Eigen::Index features) {
  if (distance == Distance::Euclidean) return std::sqrt(squared_distance(row, centre, features));
  return row_distance(distance, row, centre, features);
}

template <class T>
void distances_to_labels(const DenseShard<T>& shard, const RowMatrix<T>& centres, Distance distance,
                         std::span<const std::int32_t> labels, std::span<double> out) {
  const Eigen::Index n = shard.local_rows(), d = shard.features();
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads())
#endif
  for (Eigen::Index i = 0; i < n; ++i) {
    const auto r = static_cast<std::size_t>(i);
    out[r] = centre_distance(distance, shard.row(i), centres.row(labels[r]).data(), d);
  }
}

template <class T>
void distances_to_labels(const CsrShard<T>& shard, const RowMatrix<T>& centres, Distance distance,
                         std::span<const std::int32_t> labels, std::span<double> out) {
  check_sparse_distance<T>(distance);
  const std::vector<double> norms = centre_norms(centres);
  const Eigen::Index n = shard.local_rows();
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads())
#endif
  for (Eigen::Index i = 0; i < n; ++i) {
    const auto r = static_cast<std::size_t>(i);
    const auto c = static_cast<std::size_t>(labels[r]);
    out[r] = sparse_cosine(shard, i, centres.row(labels[r]).data(), norms[c]);
  }
}

template <class T>
RowMatrix<double> distances_to_centres(const DenseShard<T>& shard, const RowMatrix<T>& centres, Distance distance) {
  const Eigen::Index n = shard.local_rows(), k = centres.rows(), d = shard.features();
  RowMatrix<double> out(n, k);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads())
#endif
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index c = 0; c < k; ++c) out(i, c) = centre_distance(distance, shard.row(i), centres.row(c).data(), d);
  return out;
}

template <class T>
RowMatrix<double> distances_to_centres(const CsrShard<T>& shard, const RowMatrix<T>& centres, Distance distance) {
  check_sparse_distance<T>(distance);
  const std::vector<double> norms = centre_norms(centres);
  const Eigen::Index n = shard.local_rows(), k = centres.rows();
  RowMatrix<double> out(n, k);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads())
#endif
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index c = 0; c < k; ++c)
      out(i, c) = sparse_cosine(shard, i, centres.row(c).data(), norms[static_cast<std::size_t>(c)]);
  return out;
}

std::vector<Outlier> top_outliers(const Comm& comm, std::uint64_t first_row, std::span<const std::int32_t> labels,
                                  std::span<const double> distances, std::uint64_t count) {
  const std::uint64_t total = comm.allreduce(static_cast<std::uint64_t>(distances.size()), MPI_SUM);
  count = std::min(count, total);
  if (count == 0) return {};
  // Comm::smallest merges the lists as one MPI datatype of count entries (an int of bytes).
  constexpr std::uint64_t kLargest = static_cast<std::uint64_t>(std::numeric_limits<int>::max()) / sizeof(KeyIndex);
  if (count > kLargest)
    throw AgreedError("top outliers: " + std::to_string(count) + " rows are more than one selection holds (" +
                      std::to_string(kLargest) + ")");
  // The farthest row has the smallest key −distance; equal keys go to the lower global row.
  // Only this rank's `count` best take part (a partial sort), so at most count per rank travel.
  std::vector<KeyIndex> local;
  local.reserve(distances.size());
  for (std::size_t i = 0; i < distances.size(); ++i)
    if (!std::isnan(distances[i])) local.push_back({-distances[i], first_row + i});
  const std::size_t keep = std::min<std::size_t>(local.size(), count);
  std::partial_sort(local.begin(), local.begin() + static_cast<std::ptrdiff_t>(keep), local.end());
  local.resize(keep);
  const std::vector<KeyIndex> chosen = comm.smallest(std::move(local), count);
  // The labels of the chosen rows: the owning rank fills them in, a sum over ranks spreads them.
  std::vector<std::int64_t> chosen_labels(chosen.size(), 0);
  for (std::size_t o = 0; o < chosen.size(); ++o) {
    const std::uint64_t row = chosen[o].index;
    if (row != KeyIndex::none().index && row >= first_row && row - first_row < labels.size())
      chosen_labels[o] = labels[row - first_row];
  }
  comm.allreduce(std::span<std::int64_t>(chosen_labels), MPI_SUM);
  std::vector<Outlier> outliers;
  for (std::size_t o = 0; o < chosen.size(); ++o) {
    if (chosen[o].index == KeyIndex::none().index) break;  // fewer rows with a distance
    outliers.push_back({chosen[o].index, static_cast<std::int32_t>(chosen_labels[o]), -chosen[o].key + 0.0});
  }
  return outliers;
}

template <class T>
void nearest_distances_by_block(RowSource<T>& source, const RowMatrix<T>& centres, const DistanceSink& sink) {
  Assigner<T> assigner(source.features(), centres.rows());
  std::vector<std::int32_t> labels;
  std::vector<double> distances;
  source.for_each_block([&](const DenseShard<T>& block) {
    labels.resize(static_cast<std::size_t>(block.local_rows()));
    distances.resize(labels.size());
    assigner.assign(block, centres, labels, distances);
    for (double& distance : distances) distance = std::sqrt(distance);
    sink(block.first_row, distances);
  });
}

std::vector<std::int64_t> cluster_sizes(const Comm& comm, std::span<const std::int32_t> labels, std::int64_t k) {
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(k), 0);
  for (const std::int32_t label : labels) ++sizes[static_cast<std::size_t>(label)];
  comm.allreduce(std::span<std::int64_t>(sizes), MPI_SUM);
  return sizes;
}

#define LLOYD_INSTANTIATE(T)                                                                                      \
  template double centre_distance(Distance, const T*, const T*, Eigen::Index);                                   \
  template void distances_to_labels(const DenseShard<T>&, const RowMatrix<T>&, Distance,                         \
                                    std::span<const std::int32_t>, std::span<double>);                           \
  template void distances_to_labels(const CsrShard<T>&, const RowMatrix<T>&, Distance,                           \
                                    std::span<const std::int32_t>, std::span<double>);                           \
  template RowMatrix<double> distances_to_centres(const DenseShard<T>&, const RowMatrix<T>&, Distance);         \
  template RowMatrix<double> distances_to_centres(const CsrShard<T>&, const RowMatrix<T>&, Distance);          \
  template void nearest_distances_by_block(RowSource<T>&, const RowMatrix<T>&, const DistanceSink&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
