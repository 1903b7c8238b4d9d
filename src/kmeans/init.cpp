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

// GEMM-form distances can come out slightly negative through cancellation.
template <class T>
double clamped(T distance) {
  return std::max(0.0, static_cast<double>(distance));
}

// One D² sampling race per trial: with E_i ~ Exp(1), argmin_i E_i / D²(x_i) is row i with
// probability D²(x_i) / Σ D², and the global minimum is one MINLOC. Rows whose key provably
// exceeds the local best so far are skipped without computing the logarithm (−log u ≥ 1 − u),
// which changes nothing in the result and avoids almost all logarithms (and divisions).
template <class T>
std::vector<KeyIndex> squared_distance_race(const Comm& comm, const DenseShard<T>& shard,
                                            const std::vector<double>& closest,
                                            const CounterRng& rng, int restart, int centre,
                                            int trials) {
  std::vector<KeyIndex> winners(static_cast<std::size_t>(trials), KeyIndex::none());
  constexpr double kSafety = 1.0 + 1e-12;  // covers the rounding of both key formulas
  // One Philox block gives two uniforms: trials 2p and 2p + 1 share the draw of stream p.
  const int pairs = (trials + 1) / 2;
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
    const double weight = closest[static_cast<std::size_t>(i)];
    if (weight <= 0) continue;
    const std::uint64_t row = shard.global_index(i);
    for (int pair = 0; pair < pairs; ++pair) {
      const auto bits = rng.bits(stream_id(Stream::SquaredDistance, restart,
                                           static_cast<std::uint64_t>(centre) * 64 + pair),
                                 row);
      for (int half = 0; half < 2 && 2 * pair + half < trials; ++half) {
        KeyIndex& best = winners[static_cast<std::size_t>(2 * pair + half)];
        const double u = CounterRng::to_unit(bits[static_cast<std::size_t>(half)]);
        if (1.0 - u > best.key * kSafety * weight) continue;
        const KeyIndex key{-std::log(u) / weight, row};
        if (key < best) best = key;
      }
    }
  }
  comm.allreduce_min(winners);
  return winners;
}

template <class T>
RowMatrix<T> kmeans_plus_plus(const Comm& comm, const DenseShard<T>& shard, int k,
                              const CounterRng& rng, int restart) {
  const Eigen::Index d = shard.features();
  const auto n_local = static_cast<std::size_t>(shard.local_rows());
  const int trials = 2 + static_cast<int>(std::log(k));
  RowMatrix<T> centres(k, d);
  BlockDistances<T> kernel(d, trials);

  const std::vector<std::uint64_t> first =
      distinct_random_rows(comm, shard, 1, rng, stream_id(Stream::FirstCentre, restart));
  centres.row(0) = rows_as_matrix(comm, shard, first).row(0);

  // closest[i]: D²(x_i) to the nearest chosen centre; only ever decreases, so its global
  // maximum bounds every later potential term (the fixed-point scale below).
  std::vector<double> closest(n_local);
  double local_max = 0;
  kernel.for_each_row(shard, RowMatrix<T>(centres.topRows(1)), [&](Eigen::Index i, T, const T* dist) {
    closest[static_cast<std::size_t>(i)] = clamped(dist[0]);
    local_max = std::max(local_max, closest[static_cast<std::size_t>(i)]);
  });
  double max_closest = comm.allreduce(local_max, MPI_MAX);

  std::vector<std::uint64_t> candidates(static_cast<std::size_t>(trials));
  for (int c = 1; c < k; ++c) {
    const auto winners = squared_distance_race(comm, shard, closest, rng, restart, c, trials);
    for (int t = 0; t < trials; ++t) {
      candidates[t] = winners[t].index;
      if (winners[t].index == KeyIndex::none().index) {
        // Every row coincides with a chosen centre (fewer distinct rows than k): any row
        // will do, so draw one uniformly.
        candidates[t] = distinct_random_rows(
            comm, shard, 1, rng,
            stream_id(Stream::SquaredDistance, restart, static_cast<std::uint64_t>(c) * 64 + t))[0];
      }
    }
    const RowMatrix<T> candidate_rows = rows_as_matrix(comm, shard, candidates);

    // Greedy choice: keep the candidate that lowers the potential Σ min(D², d²) most. The
    // potentials are fixed-point integer sums, so every rank count picks the same one.
    const double bound[1] = {max_closest};
    const FixedPoint scale(bound);
    std::vector<Int128> potential(static_cast<std::size_t>(trials), 0);
    kernel.for_each_row(shard, candidate_rows, [&](Eigen::Index i, T, const T* dist) {
      const double current = closest[static_cast<std::size_t>(i)];
      for (int t = 0; t < trials; ++t)
        potential[t] += scale.to_fixed(std::min(current, clamped(dist[t])), 0);
    });
    comm.allreduce_sum(potential);
    const auto best = static_cast<int>(std::min_element(potential.begin(), potential.end()) -
                                       potential.begin());
    centres.row(c) = candidate_rows.row(best);

    local_max = 0;
    kernel.for_each_row(shard, candidate_rows, [&](Eigen::Index i, T, const T* dist) {
      double& current = closest[static_cast<std::size_t>(i)];
      current = std::min(current, clamped(dist[best]));
      local_max = std::max(local_max, current);
    });
    max_closest = comm.allreduce(local_max, MPI_MAX);
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
