#include "lloyd/kmeans/init.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/cluster_sums.hpp"
#include "lloyd/kmeans/selection.hpp"
#include "lloyd/rng.hpp"

namespace lloyd {

InitMethod parse_init_method(const std::string& name) {
  if (name == "k-means++") return InitMethod::KMeansPlusPlus;
  if (name == "k-means||") return InitMethod::KMeansParallel;
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
    case InitMethod::KMeansParallel: return "k-means||";
  }
  return "?";
}

namespace {

// GEMM-form distances can come out slightly negative through cancellation.
template <class T>
double clamped(T distance) {
  return std::max(0.0, static_cast<double>(distance));
}

// D² sampling by inverse transform, as scikit-learn does (searchsorted on the cumulative
// potential), made exact and rank-invariant: each row's weight is its D² in fixed point
// (FixedPoint of the global largest D², so every weight is an integer below 2^52), the
// ranks' integer totals give each rank its offset in the global order of rows, and `count`
// uniform integers in [0, total) — drawn from the counter RNG, the same on every rank —
// pick the rows whose cumulative weight first exceeds them. Only the owner of a draw scans
// its rows (one pass over the weights, no random numbers per row). Returns global row
// indices; KeyIndex::none().index where every weight is 0 (every row sits on a centre).
// Collective over comm.
std::vector<std::uint64_t> sample_by_weight(const Comm& comm, std::uint64_t first_row,
                                            std::span<const double> weights, double largest,
                                            int count, const CounterRng& rng,
                                            std::uint64_t stream) {
  const double bound[1] = {largest};
  const FixedPoint scale(bound);
  auto fixed = [&](double weight) { return scale.to_fixed(weight, 0); };
  Int128 local = 0;
  for (double weight : weights) local += fixed(weight);
  // The ranks' totals, as two 64-bit halves each (an Int128 has no MPI type of its own).
  const std::uint64_t halves[2] = {static_cast<std::uint64_t>(local),
                                   static_cast<std::uint64_t>(local >> 64)};
  const std::vector<std::uint64_t> all = comm.allgatherv(std::span<const std::uint64_t>(halves));
  Int128 offset = 0, total = 0;
  for (int r = 0; r < comm.size(); ++r) {
    const Int128 part = static_cast<Int128>((static_cast<UInt128>(all[2 * r + 1]) << 64) | all[2 * r]);
    if (r < comm.rank()) offset += part;
    total += part;
  }
  std::vector<std::uint64_t> chosen(static_cast<std::size_t>(count), KeyIndex::none().index);
  if (total == 0) return chosen;
  // The draws this rank owns, in increasing order, for one scan of its rows.
  std::vector<std::pair<Int128, int>> owned;
  for (int t = 0; t < count; ++t) {
    const auto bits = rng.bits(stream, static_cast<std::uint64_t>(t));
    const UInt128 wide = (static_cast<UInt128>(bits[1]) << 64) | bits[0];
    const auto draw = static_cast<Int128>(wide % static_cast<UInt128>(total));
    if (draw >= offset && draw < offset + local) owned.emplace_back(draw - offset, t);
  }
  std::sort(owned.begin(), owned.end());
  Int128 cumulative = 0;
  std::size_t next = 0;
  for (std::size_t i = 0; i < weights.size() && next < owned.size(); ++i) {
    cumulative += fixed(weights[i]);
    while (next < owned.size() && owned[next].first < cumulative)
      chosen[static_cast<std::size_t>(owned[next++].second)] = first_row + i;
  }
  comm.allreduce(std::span<std::uint64_t>(chosen), MPI_MIN);
  return chosen;
}

// k-means++ with greedy trials, as scikit-learn: 2 + ⌊ln k⌋ candidates drawn by D² sampling
// (sample_by_weight), the one lowering the potential most is kept. Distances are the
// GEMM form over blocks aligned to global rows (BlockDistances), so they are the same bits
// for any rank layout.
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

  // Scratch of the seeding: each row's ‖x‖² and its distances to the current candidates.
  std::vector<T> row_norms(n_local);
  for (std::size_t i = 0; i < n_local; ++i)
    row_norms[i] = squared_norm(shard.row(static_cast<Eigen::Index>(i)), d);
  std::vector<T> candidate_distance(n_local * static_cast<std::size_t>(trials));
  auto space = kernel.workspace(trials);

  for (int c = 1; c < k; ++c) {
    const std::uint64_t stream =
        stream_id(Stream::SquaredDistance, restart, static_cast<std::uint64_t>(c) * 64);
    std::vector<std::uint64_t> candidates =
        sample_by_weight(comm, shard.first_row, closest, max_closest, trials, rng, stream);
    for (int t = 0; t < trials; ++t)
      if (candidates[t] == KeyIndex::none().index)  // fewer distinct rows than k: any row
        candidates[t] = distinct_random_rows(comm, shard, 1, rng, stream + 1 + static_cast<std::uint64_t>(t))[0];
    const RowMatrix<T> candidate_rows = rows_as_matrix(comm, shard, candidates);

    // Greedy choice: keep the candidate that lowers the potential Σ min(D², d²) most. The
    // potentials are fixed-point integer sums (int64 words, carried into 128 bits after each
    // block: a block's 256 terms below 2^52 each cannot overflow), so every rank count picks
    // the same one. The rows' distances to the candidates are kept (trials values per row),
    // so one pass over the data serves both the potentials and the update of D².
    const double bound[1] = {max_closest};
    const FixedPoint scale(bound);
    std::vector<Int128> potential(static_cast<std::size_t>(trials), 0);
    std::vector<std::int64_t> block_potential(static_cast<std::size_t>(trials));
    kernel.set_centres(candidate_rows);
    const auto& candidate_norms = kernel.centre_norms();
    for (Eigen::Index b = 0; b < BlockDistances<T>::block_count(shard); ++b) {
      const auto rows = kernel.compute(shard, candidate_rows, b, space);
      std::fill(block_potential.begin(), block_potential.end(), 0);
      for (Eigen::Index q = 0; q < rows.count; ++q) {
        const auto i = static_cast<std::size_t>(rows.first + q);
        const double current = closest[i];
        T* kept = &candidate_distance[i * static_cast<std::size_t>(trials)];
        for (int t = 0; t < trials; ++t) {
          kept[t] = std::max(T(0), row_norms[i] - 2 * space.products(space.offset + q, t) +
                                       candidate_norms(t));
          block_potential[t] += scale.to_fixed(std::min(current, static_cast<double>(kept[t])), 0);
        }
      }
      for (int t = 0; t < trials; ++t) potential[t] += block_potential[t];
    }
    comm.allreduce_sum(potential);
    const auto best = static_cast<int>(std::min_element(potential.begin(), potential.end()) -
                                       potential.begin());
    centres.row(c) = candidate_rows.row(best);

    local_max = 0;
    for (std::size_t i = 0; i < n_local; ++i) {
      closest[i] = std::min(closest[i],
                            static_cast<double>(candidate_distance[i * static_cast<std::size_t>(trials) +
                                                                   static_cast<std::size_t>(best)]));
      local_max = std::max(local_max, closest[i]);
    }
    max_closest = comm.allreduce(local_max, MPI_MAX);
  }
  return centres;
}

// ---------------------------------------------------------------- k-means||

// The weighted reduction of the candidates to k centres. Every rank runs it on the same
// candidates (in global row order) and weights with the same code, so every rank computes
// the same bits; no sum here needs to be exact.
class WeightedReduction {
 public:
  WeightedReduction(RowMatrix<double> points, std::vector<double> weights, const CounterRng& rng,
                    int restart)
      : points_(std::move(points)), weights_(std::move(weights)), rng_(rng), restart_(restart) {}

  // Weighted k-means++ with greedy trials: candidate j is drawn with probability
  // ∝ w_j·D²_j (as a race of keys −log(u)/(w·D²), ties to the lower index), and of
  // 2 + ⌊ln k⌋ trials the one lowering Σ w·min(D², d²) most is kept.
  RowMatrix<double> seed(int k) const {
    const Eigen::Index m = points_.rows(), d = points_.cols();
    const int trials = 2 + static_cast<int>(std::log(k));
    RowMatrix<double> centres(k, d);
    std::vector<double> closest(static_cast<std::size_t>(m), 1.0);
    centres.row(0) = points_.row(race(closest, 0));
    std::fill(closest.begin(), closest.end(), std::numeric_limits<double>::infinity());
    update_closest(centres.row(0).data(), closest, closest);
    std::vector<double> trial_closest(closest.size()), best_closest(closest.size());
    for (int c = 1; c < k; ++c) {
      double best_potential = 0;
      Eigen::Index best = -1;
      for (int t = 0; t < trials; ++t) {
        const Eigen::Index candidate = race(closest, static_cast<std::uint64_t>(c) * 64 + t + 1);
        const double potential = update_closest(points_.row(candidate).data(), closest, trial_closest);
        if (best < 0 || potential < best_potential) {
          best_potential = potential;
          best = candidate;
          std::swap(best_closest, trial_closest);
        }
      }
      centres.row(c) = points_.row(best);
      std::swap(closest, best_closest);
    }
    return centres;
  }

  // Weighted Lloyd iterations (nearest centre, ties to the lower index; a centre without
  // weight stays where it is) until the labels stop changing or `iterations` are done.
  void refine(RowMatrix<double>& centres, int iterations) const {
    const Eigen::Index m = points_.rows(), d = points_.cols(), k = centres.rows();
    std::vector<Eigen::Index> labels(static_cast<std::size_t>(m), -1);
    for (int iteration = 0; iteration < iterations; ++iteration) {
      bool changed = false;
      for (Eigen::Index j = 0; j < m; ++j) {
        Eigen::Index best = 0;
        double best_distance = squared_distance(points_.row(j).data(), centres.row(0).data(), d);
        for (Eigen::Index c = 1; c < k; ++c) {
          const double distance = squared_distance(points_.row(j).data(), centres.row(c).data(), d);
          if (distance < best_distance) {
            best_distance = distance;
            best = c;
          }
        }
        changed = changed || labels[static_cast<std::size_t>(j)] != best;
        labels[static_cast<std::size_t>(j)] = best;
      }
      if (!changed) return;
      RowMatrix<double> sums = RowMatrix<double>::Zero(k, d);
      std::vector<double> mass(static_cast<std::size_t>(k), 0.0);
      for (Eigen::Index j = 0; j < m; ++j) {
        const Eigen::Index c = labels[static_cast<std::size_t>(j)];
        sums.row(c) += weights_[static_cast<std::size_t>(j)] * points_.row(j);
        mass[static_cast<std::size_t>(c)] += weights_[static_cast<std::size_t>(j)];
      }
      for (Eigen::Index c = 0; c < k; ++c)
        if (mass[static_cast<std::size_t>(c)] > 0) centres.row(c) = sums.row(c) / mass[static_cast<std::size_t>(c)];
    }
  }

 private:
  // The candidate winning the race of sub-stream `sub` with weights w_j·closest_j; when all
  // of those are zero (every weighted point is a centre already), with weights w_j.
  Eigen::Index race(const std::vector<double>& closest, std::uint64_t sub) const {
    const std::uint64_t stream = stream_id(Stream::ParallelReduce, static_cast<std::uint64_t>(restart_), sub);
    for (const bool use_distance : {true, false}) {
      KeyIndex best = KeyIndex::none();
      for (std::size_t j = 0; j < weights_.size(); ++j) {
        const double weight = weights_[j] * (use_distance ? closest[j] : 1.0);
        if (weight <= 0) continue;
        const KeyIndex key{-std::log(rng_.uniform(stream, j)) / weight, j};
        if (key < best) best = key;
      }
      if (best.index != KeyIndex::none().index) return static_cast<Eigen::Index>(best.index);
    }
    return 0;  // no weight at all (cannot happen: the weights count n ≥ 1 rows)
  }

  // out_j = min(closest_j, ‖p_j − centre‖²); returns Σ w_j·out_j.
  double update_closest(const double* centre, const std::vector<double>& closest,
                        std::vector<double>& out) const {
    double potential = 0;
    for (Eigen::Index j = 0; j < points_.rows(); ++j) {
      const auto jj = static_cast<std::size_t>(j);
      out[jj] = std::min(closest[jj], squared_distance(points_.row(j).data(), centre, points_.cols()));
      potential += weights_[jj] * out[jj];
    }
    return potential;
  }

  RowMatrix<double> points_;
  std::vector<double> weights_;
  const CounterRng& rng_;
  int restart_;
};

// Weighted Lloyd iterations on the candidates after the weighted k-means++ (the paper's
// "recluster" step); the candidate set is small, so this costs little.
constexpr int kReductionIterations = 10;

template <class T>
RowMatrix<T> kmeans_parallel(const Comm& comm, const DenseShard<T>& shard, int k,
                             const CounterRng& rng, int restart, const ParallelSeeding& parallel) {
  const Eigen::Index d = shard.features();
  const auto n_local = static_cast<std::size_t>(shard.local_rows());
  const double oversampling = parallel.oversampling > 0 ? parallel.oversampling : 2.0 * k;

  // closest[i]: D²(x_i) to the nearest candidate so far, nearest[i]: that candidate.
  std::vector<double> closest(n_local, std::numeric_limits<double>::infinity());
  std::vector<std::int32_t> nearest(n_local, 0);
  // Adds `fresh` (candidates numbered from `offset`) and returns the new ψ = Σ D², an exact
  // sum. A candidate replaces the nearest one only when strictly closer: ties stay with the
  // lower candidate number.
  auto absorb = [&](const RowMatrix<T>& fresh, Eigen::Index offset) {
    BlockDistances<T> kernel(d, fresh.rows());
    kernel.for_each_row(shard, fresh, [&](Eigen::Index i, T, const T* dist) {
      const auto ii = static_cast<std::size_t>(i);
      for (Eigen::Index c = 0; c < fresh.rows(); ++c) {
        const double distance = clamped(dist[c]);
        if (distance < closest[ii]) {
          closest[ii] = distance;
          nearest[ii] = static_cast<std::int32_t>(offset + c);
        }
      }
    });
    ExactSum psi;
    for (const double distance : closest) psi.add(distance);
    psi.allreduce(comm);
    return psi.value();
  };

  RowMatrix<T> candidates = rows_as_matrix(
      comm, shard, distinct_random_rows(comm, shard, 1, rng, stream_id(Stream::FirstCentre, restart)));
  double psi = absorb(candidates, 0);
  for (int round = 0; round < parallel.rounds && psi > 0; ++round) {
    // Each row independently, with probability min(1, ℓ·D²/ψ): the same decision for a row
    // whichever rank holds it. Gathered in rank order = global row order.
    const std::uint64_t stream = stream_id(Stream::ParallelSample, restart, round);
    std::vector<T> picked;
    for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
      const double p = oversampling * closest[static_cast<std::size_t>(i)] / psi;
      if (p <= 0) continue;
      if (p >= 1 || rng.uniform(stream, shard.global_index(i)) < p)
        picked.insert(picked.end(), shard.row(i), shard.row(i) + d);
    }
    const std::vector<T> gathered = comm.allgatherv(std::span<const T>(picked));
    const auto count = static_cast<Eigen::Index>(gathered.size()) / std::max<Eigen::Index>(d, 1);
    if (count == 0) continue;
    const RowMatrix<T> fresh = Eigen::Map<const RowMatrix<T>>(gathered.data(), count, d);
    const Eigen::Index offset = candidates.rows();
    candidates.conservativeResize(offset + count, d);
    candidates.bottomRows(count) = fresh;
    psi = absorb(fresh, offset);
  }

  const Eigen::Index m = candidates.rows();
  if (m < k) return {};  // the caller falls back to k-means++
  if (m == k) return candidates;
  // Weights: how many rows each candidate is nearest to (exact integer counts).
  std::vector<std::int64_t> counts(static_cast<std::size_t>(m), 0);
  for (const std::int32_t c : nearest) ++counts[static_cast<std::size_t>(c)];
  comm.allreduce(std::span<std::int64_t>(counts), MPI_SUM);
  const WeightedReduction reduction(candidates.template cast<double>(),
                                    std::vector<double>(counts.begin(), counts.end()), rng, restart);
  RowMatrix<double> centres = reduction.seed(k);
  reduction.refine(centres, kReductionIterations);
  return centres.cast<T>();
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
                             int k, std::uint64_t seed, int restart, const FixedPoint& fixed,
                             const ParallelSeeding& parallel) {
  if (method == InitMethod::KMeansParallel && !(parallel.oversampling >= 0 && parallel.rounds >= 0))
    throw AgreedError("k-means||: oversampling and rounds must be >= 0");
  const CounterRng rng(seed);
  switch (method) {
    case InitMethod::KMeansPlusPlus: return kmeans_plus_plus(comm, shard, k, rng, restart);
    case InitMethod::KMeansParallel: {
      RowMatrix<T> centres = kmeans_parallel(comm, shard, k, rng, restart, parallel);
      return centres.rows() == k ? centres : kmeans_plus_plus(comm, shard, k, rng, restart);
    }
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
                                        std::uint64_t, int, const FixedPoint&,                \
                                        const ParallelSeeding&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
