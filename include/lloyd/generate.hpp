#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// Gaussian blobs like scikit-learn's make_blobs: centres uniform in [box_low, box_high]^d,
/// the first n % C clusters one row larger than the others, rows shuffled.
struct BlobOptions {
  std::uint64_t samples = 1000;
  int features = 2;
  int centers = 3;
  double cluster_std = 1.0;
  double box_low = -10.0, box_high = 10.0;
  std::uint64_t seed = 0;
};

/// The largest cluster_std whose values all stay finite in T: a value is a centre (at most
/// max(|box_low|, |box_high|) in magnitude) plus cluster_std times a Box–Muller normal of
/// CounterRng::normal_pair, whose magnitude is at most √(−2 ln 2⁻⁵⁴) < 8.66 (its uniform
/// draws are at least 2⁻⁵⁴).
template <class T>
double max_cluster_std(const BlobOptions& options) {
  const double box = std::max(std::abs(options.box_low), std::abs(options.box_high));
  return (static_cast<double>(std::numeric_limits<T>::max()) - box) / 8.66;
}

template <class T>
struct Blobs {
  DenseShard<T> data;              ///< this rank's rows of X
  std::vector<std::int32_t> truth; ///< this rank's rows of y
  RowMatrix<double> centers;       ///< C × d, identical on every rank
};

/// Collective over comm (only to agree that every rank could allocate its block: each rank
/// generates its own block of rows from counter-based draws keyed by the global row index, so
/// the data are identical for any number of ranks, and no rank ever holds more than its
/// block). Out of memory is an AgreedError naming what could not be allocated.
template <class T>
Blobs<T> make_blobs(const Comm& comm, const BlobOptions& options);

}  // namespace lloyd
