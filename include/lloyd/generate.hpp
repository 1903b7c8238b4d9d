#pragma once
#include <cstdint>
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
