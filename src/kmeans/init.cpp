#include "lloyd/kmeans/init.hpp"

#include <algorithm>
#include <cmath>

#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/cluster_sums.hpp"
#include "lloyd/kmeans/selection.hpp"
#include "lloyd/rng.hpp"

namespace lloyd {

InitMethod parse_init_method(const std::string& name) {
  if (name == "k-means++") return InitMethod::KMeansPlusPlus;
  if (name == "forgy" || name == "random") return InitMethod::Forgy;
  if (name == "random-partition") return InitMethod::RandomPartition;
  return InitMethod::Explicit;
}

const char* to_string(InitMethod method) {
  switch (method) {
    case InitMethod::KMeansPlusPlus: return "k-means++";
    case InitMethod::Forgy: return "forgy";
    case InitMethod::RandomPartition: return "random-partition";
    case InitMethod::Explicit: return "explicit";
  }
  return "?";
}

namespace {

template <class T>
RowMatrix<T> kmeans_plus_plus(const Comm& comm, const DenseShard<T>& shard, int k,
                              const CounterRng& rng, int restart) {
  const Eigen::Index d = shard.features(), n_local = shard.local_rows();
  const int trials = 2 + static_cast<int>(std::log(k));
  RowMatrix<T> centres(k, d);

  std::vector<std::uint64_t> first =
      distinct_random_rows(comm, shard, 1, rng, stream_id(Stream::FirstCentre, restart));
  centres.row(0) = rows_as_matrix(comm, shard, first).row(0);

  std::vector<double> closest(static_cast<std::size_t>(n_local));
  for (Eigen::Index i = 0; i < n_local; ++i)
    closest[i] = squared_distance(shard.row(i), centres.row(0).data(), d);

  std::vector<KeyIndex> winners(static_cast<std::size_t>(trials));
  std::vector<std::uint64_t> candidates(static_cast<std::size_t>(trials));
  for (int c = 1; c < k; ++c) {
    // D² sampling as a race: with E_i ~ Exp(1), argmin E_i / D²(x_i) is row i with
    // probability D²(x_i) / Σ D², and the minimum is found with one MINLOC.
    std::fill(winners.begin(), winners.end(), KeyIndex::none());
    for (int t = 0; t < trials; ++t) {
      const std::uint64_t stream =
          stream_id(Stream::SquaredDistance, restart, static_cast<std::uint64_t>(c) * 64 + t);
      for (Eigen::Index i = 0; i < n_local; ++i) {
        if (closest[i] <= 0) continue;
        const KeyIndex key{-std::log(rng.uniform(stream, shard.global_index(i))) / closest[i],
                           shard.global_index(i)};
        if (key < winners[t]) winners[t] = key;
      }
    }
    comm.allreduce_min(winners);
    for (int t = 0; t < trials; ++t) {
      if (winners[t].index == KeyIndex::none().index) {
        // Every row coincides with a chosen centre (fewer distinct rows than k): any row will
        // do, so draw one uniformly.
        winners[t].index = distinct_random_rows(
            comm, shard, 1, rng,
            stream_id(Stream::SquaredDistance, restart, static_cast<std::uint64_t>(c) * 64 + t))[0];
      }
      candidates[t] = winners[t].index;
    }
    const RowMatrix<T> candidate_rows = rows_as_matrix(comm, shard, candidates);

    // Greedy choice: keep the candidate that lowers the potential Σ min(D², d²) most. The
    // potentials are exact sums, so every rank count picks the same candidate.
    std::vector<ExactSum> potential(static_cast<std::size_t>(trials));
    for (Eigen::Index i = 0; i < n_local; ++i)
      for (int t = 0; t < trials; ++t)
        potential[t].add(
            std::min(closest[i], squared_distance(shard.row(i), candidate_rows.row(t).data(), d)));
    ExactSum::allreduce(potential, comm);
    int best = 0;
    for (int t = 1; t < trials; ++t)
      if (potential[t].value() < potential[best].value()) best = t;
    centres.row(c) = candidate_rows.row(best);
    for (Eigen::Index i = 0; i < n_local; ++i)
      closest[i] = std::min(closest[i], squared_distance(shard.row(i), centres.row(c).data(), d));
  }
  return centres;
}

template <class T>
RowMatrix<T> random_partition(const Comm& comm, const DenseShard<T>& shard, int k,
                              const CounterRng& rng, int restart, const FixedPoint& fixed) {
  ClusterSums sums(k, shard.features());
  const std::uint64_t stream = stream_id(Stream::RandomPartition, restart);
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
    const double u = rng.uniform(stream, shard.global_index(i));
    sums.add(std::min(static_cast<std::int32_t>(u * k), k - 1), shard.row(i), fixed);
  }
  sums.allreduce(comm);
  RowMatrix<T> centres = RowMatrix<T>::Zero(k, shard.features());
  sums.means(fixed, centres);
  // A partition can be empty when k is close to n: give it a random row instead.
  std::vector<Eigen::Index> empty;
  for (Eigen::Index c = 0; c < k; ++c)
    if (sums.count(c) == 0) empty.push_back(c);
  if (!empty.empty()) {
    const auto rows = rows_as_matrix(
        comm, shard,
        distinct_random_rows(comm, shard, empty.size(), rng, stream_id(Stream::FillEmpty, restart)));
    for (std::size_t e = 0; e < empty.size(); ++e)
      centres.row(empty[e]) = rows.row(static_cast<Eigen::Index>(e));
  }
  return centres;
}

}  // namespace

template <class T>
RowMatrix<T> initial_centres(const Comm& comm, const DenseShard<T>& shard, InitMethod method,
                             int k, std::uint64_t seed, int restart, const FixedPoint& fixed) {
  const CounterRng rng(seed);
  switch (method) {
    case InitMethod::KMeansPlusPlus: return kmeans_plus_plus(comm, shard, k, rng, restart);
    case InitMethod::Forgy: {
      const auto rows = distinct_random_rows(comm, shard, static_cast<std::size_t>(k), rng,
                                             stream_id(Stream::Forgy, restart));
      return rows_as_matrix(comm, shard, rows);
    }
    case InitMethod::RandomPartition:
      return random_partition(comm, shard, k, rng, restart, fixed);
    case InitMethod::Explicit: break;
  }
  throw Error("explicit initial centres must be passed to the driver");
}

#define LLOYD_INSTANTIATE(T)                                                                  \
  template RowMatrix<T> initial_centres(const Comm&, const DenseShard<T>&, InitMethod, int,   \
                                        std::uint64_t, int, const FixedPoint&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
