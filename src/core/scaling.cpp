#include "lloyd/core/scaling.hpp"

#include <cmath>
#include <limits>

#include "lloyd/core/exact_sum.hpp"

namespace lloyd {

template <class T>
Scaling fit_standard_scaling(const Comm& comm, const BlockVisitor<T>& visit_blocks, std::uint64_t rows,
                             Eigen::Index features) {
  const auto d = static_cast<std::size_t>(features);
  Scaling scaling{std::vector<double>(d, 0.0), std::vector<double>(d, 1.0)};
  if (rows == 0) return scaling;
  // Pass 1: Σx exactly, and each feature's smallest and largest value (a constant feature is
  // recognised exactly, and its mean is that value: it scales to exactly 0).
  std::vector<ExactSum> sums(d);
  std::vector<double> lowest(d, std::numeric_limits<double>::infinity());
  std::vector<double> highest(d, -std::numeric_limits<double>::infinity());
  visit_blocks([&](const DenseShard<T>& block) {
    for (Eigen::Index i = 0; i < block.local_rows(); ++i) {
      const T* row = block.row(i);
      for (std::size_t j = 0; j < d; ++j) {
        const double x = static_cast<double>(row[j]);
        sums[j].add(x);
        lowest[j] = std::min(lowest[j], x);
        highest[j] = std::max(highest[j], x);
      }
    }
  });
  ExactSum::allreduce(std::span<ExactSum>(sums), comm);
  comm.allreduce(std::span<double>(lowest), MPI_MIN);
  comm.allreduce(std::span<double>(highest), MPI_MAX);
  const double n = static_cast<double>(rows);
  for (std::size_t j = 0; j < d; ++j)
    scaling.mean[j] = lowest[j] == highest[j] ? lowest[j] : sums[j].value() / n;

  // Pass 2: Σ(x − mean) and Σ(x − mean)², each term rounded as scikit-learn rounds it, summed
  // exactly.
  std::vector<ExactSum> deviations(2 * d);
  visit_blocks([&](const DenseShard<T>& block) {
    for (Eigen::Index i = 0; i < block.local_rows(); ++i) {
      const T* row = block.row(i);
      for (std::size_t j = 0; j < d; ++j) {
        const double deviation = static_cast<double>(row[j]) - scaling.mean[j];
        deviations[j].add(deviation);
        deviations[d + j].add(deviation * deviation);
      }
    }
  });
  ExactSum::allreduce(std::span<ExactSum>(deviations), comm);
  constexpr double eps = std::numeric_limits<double>::epsilon();
  for (std::size_t j = 0; j < d; ++j) {
    if (lowest[j] == highest[j]) continue;  // constant: scale 1
    const double correction = deviations[j].value();
    const double variance = std::max(0.0, (deviations[d + j].value() - correction * correction / n) / n);
    // scikit-learn's _is_constant_feature: a variance within the rounding error of the mean's
    // computation counts as zero.
    const double bound = n * eps * variance + (n * scaling.mean[j] * eps) * (n * scaling.mean[j] * eps);
    if (variance <= bound) continue;
    scaling.scale[j] = std::sqrt(variance);
  }
  return scaling;
}

template <class T>
Scaling fit_standard_scaling(const Comm& comm, const DenseShard<T>& shard) {
  return fit_standard_scaling<T>(
      comm, [&](const auto& visit) { visit(shard); }, shard.global_rows, shard.features());
}

template <class T>
void standardize_rows(const Scaling& scaling, T* rows, std::size_t count) {
  const std::size_t d = scaling.features();
  for (std::size_t i = 0; i < count; ++i) {
    T* row = rows + i * d;
    for (std::size_t j = 0; j < d; ++j)
      row[j] = static_cast<T>((static_cast<double>(row[j]) - scaling.mean[j]) / scaling.scale[j]);
  }
}

template <class T>
RowMatrix<T> unstandardize(const Scaling& scaling, const RowMatrix<T>& centres) {
  RowMatrix<T> data_units(centres.rows(), centres.cols());
  for (Eigen::Index c = 0; c < centres.rows(); ++c)
    for (Eigen::Index j = 0; j < centres.cols(); ++j) {
      const auto f = static_cast<std::size_t>(j);
      data_units(c, j) = static_cast<T>(static_cast<double>(centres(c, j)) * scaling.scale[f] + scaling.mean[f]);
    }
  return data_units;
}

#define LLOYD_INSTANTIATE(T)                                                                          \
  template Scaling fit_standard_scaling(const Comm&, const BlockVisitor<T>&, std::uint64_t, Eigen::Index); \
  template Scaling fit_standard_scaling(const Comm&, const DenseShard<T>&);                          \
  template void standardize_rows(const Scaling&, T*, std::size_t);                                    \
  template RowMatrix<T> unstandardize(const Scaling&, const RowMatrix<T>&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
