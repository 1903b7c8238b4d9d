#include "lloyd/kmeans/spherical.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "lloyd/core/exact_sum.hpp"
#include "lloyd/kmeans/assign.hpp"
#include "lloyd/core/cluster_sums.hpp"
#include "lloyd/kmeans/empty_clusters.hpp"
#include "lloyd/kmeans/engine.hpp"
#include "lloyd/kmeans/phase_clock.hpp"
#include "lloyd/kmeans/selection.hpp"
#include "lloyd/core/summary.hpp"
#include "lloyd/rng.hpp"
#include "lloyd/simd/kernels.hpp"


namespace lloyd {

namespace {

using Clock = std::chrono::steady_clock;

// x·c as the assignment scores it: one fma per stored value, in T, in the row's column order
// (each of SphericalAssigner's scores is such a chain: the same bits).
template <class T>
T assignment_score(const CsrShard<T>& shard, Eigen::Index i, const T* centre) {
  const auto begin = static_cast<std::size_t>(shard.row_begin(i));
  return simd::kernels<T>().sparse_dot(shard.values.data() + begin, shard.indices.data() + begin,
                                       shard.row_end(i) - shard.row_begin(i), centre);
}

// x·c for a sparse row and a dense vector, in T, in the row's column order.
template <class T>
T sparse_dot(const CsrShard<T>& shard, Eigen::Index i, const T* dense) {
  // As the -march=native build computed it (GCC fused the unrolled float chain, not the
  // double one): the same bits as before.
  if constexpr (std::is_same_v<T, float>) return assignment_score(shard, i, dense);
  T dot = 0;
  for (std::int64_t e = shard.row_begin(i); e < shard.row_end(i); ++e)
    dot += shard.values[static_cast<std::size_t>(e)] * dense[shard.indices[static_cast<std::size_t>(e)]];
  return dot;
}

// Collective over comm: the rows with the given global indices, dense, in request order, on
// every rank. Owners contribute their rows in ascending index order to one allgatherv (rank
// order is index order), so the result does not depend on the layout.
template <class T>
RowMatrix<T> gather_rows(const Comm& comm, const CsrShard<T>& shard, const std::vector<std::uint64_t>& indices) {
  std::vector<std::uint64_t> sorted = indices;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  const auto d = static_cast<std::size_t>(shard.columns);
  std::vector<T> mine;
  for (const std::uint64_t g : sorted) {
    if (g < shard.first_row || g >= shard.first_row + static_cast<std::uint64_t>(shard.local_rows())) continue;
    const auto i = static_cast<Eigen::Index>(g - shard.first_row);
    const std::size_t at = mine.size();
    mine.resize(at + d, T{0});
    for (std::int64_t e = shard.row_begin(i); e < shard.row_end(i); ++e)
      mine[at + static_cast<std::size_t>(shard.indices[static_cast<std::size_t>(e)])] =
          shard.values[static_cast<std::size_t>(e)];
  }
  const std::vector<T> all = comm.allgatherv(std::span<const T>(mine));
  RowMatrix<T> rows(static_cast<Eigen::Index>(indices.size()), shard.features());
  for (std::size_t q = 0; q < indices.size(); ++q) {
    const auto position = static_cast<std::size_t>(std::lower_bound(sorted.begin(), sorted.end(), indices[q]) - sorted.begin());
    std::copy_n(all.begin() + static_cast<std::ptrdiff_t>(position * d), d, rows.row(static_cast<Eigen::Index>(q)).data());
  }
  return rows;
}

// Collective over comm: k starting centres (rows of the data).
template <class T>
RowMatrix<T> seed_centres(const Comm& comm, const CsrShard<T>& shard, const KMeansOptions& options, int restart) {
  const CounterRng rng(options.seed);
  const auto k = static_cast<std::size_t>(options.k);
  // With sample weights, draws in proportion to them (as weighted_random_rows): keys
  // −log(1 − u)/w, rows of weight 0 never.
  constexpr double kNever = std::numeric_limits<double>::infinity();
  auto weighted_key = [&](double u, Eigen::Index i) {
    return shard.weight(i) > 0 ? -std::log1p(-u) / shard.weight(i) : kNever;
  };
  if (options.init == InitMethod::Forgy) {
    const std::uint64_t stream = stream_id(Stream::Forgy, static_cast<std::uint64_t>(restart));
    const auto keys = local_smallest(shard, k, [&](Eigen::Index i) {
      const double u = rng.uniform(stream, shard.global_index(i));
      return shard.weighted() ? weighted_key(u, i) : u;
    });
    std::vector<std::uint64_t> chosen;
    for (const KeyIndex& winner : comm.smallest(keys, k))
      if (winner.key != kNever) chosen.push_back(winner.index);
    return gather_rows(comm, shard, chosen);
  }
  // k-means++ on the sphere: weight 1 − cos to the nearest chosen centre (‖x − c‖²/2), 1
  // before the first. Each row keeps its largest similarity so far, in T as it is computed
  // (clamped below at 0): the weight max(0, 1 − s) is monotone in s, so it is the smallest
  // of the rows' weights to the chosen centres (a NaN similarity, which weighed 0 for good,
  // is kept as 1, which weighs 0).
  const auto n_local = static_cast<std::size_t>(shard.local_rows());
  std::vector<T> nearest(n_local, T{0});
  RowMatrix<T> centres(options.k, shard.features());
  for (int c = 0; c < options.k; ++c) {
    const std::uint64_t stream = stream_id(c == 0 ? Stream::FirstCentre : Stream::SquaredDistance,
                                           static_cast<std::uint64_t>(restart), static_cast<std::uint64_t>(c));
    KeyIndex best = KeyIndex::none();
    for (std::size_t i = 0; i < n_local; ++i) {
      const std::uint64_t g = shard.global_index(static_cast<Eigen::Index>(i));
      const double u = rng.uniform(stream, g);
      const double weight = std::max(0.0, 1.0 - static_cast<double>(nearest[i]));
      const double mass = weight * shard.weight(static_cast<Eigen::Index>(i));  // sample weight: w·(1 − cos)
      const KeyIndex candidate{c == 0 ? (shard.weighted() ? weighted_key(u, static_cast<Eigen::Index>(i)) : u)
                                      : (mass > 0 ? -std::log(u) / mass : std::numeric_limits<double>::infinity()),
                               g};
      best = std::min(best, candidate);
    }
    comm.allreduce_min(std::span<KeyIndex>(&best, 1));
    if (best == KeyIndex::none()) best.index = 0;  // no row left with weight: take row 0
    centres.row(c) = gather_rows(comm, shard, {best.index}).row(0);
    if (c + 1 == options.k) break;  // the last centre's similarities weigh no draw
    for (std::size_t i = 0; i < n_local; ++i) {
      const T similarity = sparse_dot(shard, static_cast<Eigen::Index>(i), centres.row(c).data());
      nearest[i] = std::isnan(similarity) ? T{1} : std::max(nearest[i], similarity);
    }
  }
  return centres;
}

// What an assignment pass leaves besides the labels: how many of them changed, and the
// exact sum of the rows' 1 − similarity (with sample weights, Σ w·(1 − similarity)).
struct SphericalPass {
  std::int64_t changed = 0;
  ExactSum distances;
};

// The assignment step: each row's best centre, written over its label; the distances
// 1 − similarity are summed exactly as the pass goes, a piece of each thread's rows at a time
// (no per-row array: the exact sum is the same whatever the pieces); optionally the members'
// sums.
template <class T>
class SphericalAssigner {
 public:
  SphericalAssigner(Eigen::Index features, Eigen::Index clusters) : features_(features), clusters_(clusters) {}

  SphericalPass assign(const CsrShard<T>& shard, const RowMatrix<T>& centroids, std::span<std::int32_t> labels,
                       ClusterSums* sums = nullptr, const FixedPoint* fixed = nullptr) {
    transposed_ = centroids.transpose();  // d × k: a row's nonzero j touches one row of it
    const int thread_count = threads();
    while (static_cast<int>(spaces_.size()) < thread_count)
      spaces_.push_back({std::vector<T>(static_cast<std::size_t>(clusters_)), ClusterSums(0, 0), {}});
    if (sums)  // the threads' partial sums exist only where sums are asked for
      for (Space& space : spaces_)
        if (space.sums.clusters() != clusters_) space.sums = ClusterSums(clusters_, *fixed);
    const Eigen::Index k = clusters_;
    const std::span<const double> weights(shard.weights);
    SphericalPass pass;
    std::int64_t changed = 0;
    const auto sparse_scores = simd::kernels<T>().sparse_scores;
#ifdef _OPENMP
#pragma omp parallel num_threads(thread_count) reduction(+ : changed)
#endif
    {
      Space& space = spaces_[static_cast<std::size_t>(thread_index())];
      if (sums) space.sums.reset(*fixed);
      T* scores = space.scores.data();
      // The distances of the rows first .. first + pending − 1, not yet summed.
      Eigen::Index first = 0;
      std::size_t pending = 0;
      auto flush = [&] {  // into the one exact sum: the same whatever the order
        if (pending == 0) return;
#ifdef _OPENMP
#pragma omp critical(lloyd_spherical_distances)
#endif
        pass.distances.add(std::span<const double>(space.distances.data(), pending),
                           weights.empty() ? weights : weights.subspan(static_cast<std::size_t>(first), pending));
        pending = 0;
      };
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
      for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
        const auto begin = static_cast<std::size_t>(shard.row_begin(i));
        sparse_scores(shard.values.data() + begin, shard.indices.data() + begin, shard.row_end(i) - shard.row_begin(i),
                      transposed_.data(), k, k, scores);
        Eigen::Index best = 0;
        for (Eigen::Index c = 1; c < k; ++c)
          if (scores[c] > scores[best]) best = c;
        std::int32_t& label = labels[static_cast<std::size_t>(i)];
        changed += label != static_cast<std::int32_t>(best);
        label = static_cast<std::int32_t>(best);
        if (pending == kPiece || (pending > 0 && i != first + static_cast<Eigen::Index>(pending))) flush();
        if (pending == 0) first = i;
        space.distances[pending++] = 1.0 - static_cast<double>(scores[best]);
        if (sums)
          space.sums.add_sparse(static_cast<std::int32_t>(best), shard.indices.data() + shard.row_begin(i),
                                shard.values.data() + shard.row_begin(i), shard.row_end(i) - shard.row_begin(i),
                                *fixed);
      }
      flush();
    }
    pass.changed = changed;
    if (sums)
      for (int t = 0; t < thread_count; ++t) sums->merge(spaces_[static_cast<std::size_t>(t)].sums);
    return pass;
  }

 private:
  static constexpr std::size_t kPiece = 4096;
  struct Space {
    std::vector<T> scores;
    ClusterSums sums;
    std::array<double, kPiece> distances{};
  };
  Eigen::Index features_, clusters_;
  RowMatrix<T> transposed_;
  std::vector<Space> spaces_;
};

// Collective over comm: the exact sum of every rank's distances, rounded once.
double total(const Comm& comm, const SphericalPass& pass) {
  ExactSum sum = pass.distances;
  sum.allreduce(comm);
  return sum.value();
}

// Collective over comm: refills empty clusters with the rows least similar to their centres,
// by the Euclidean fit's rule (find_empty_clusters, refill_empty_clusters). `labels` are the
// assignment to `centres`; the rows' similarities are computed again (only when a cluster is
// empty), the same bits as the assignment's scores.
template <class T>
void relocate_empty(const Comm& comm, const CsrShard<T>& shard, std::span<const std::int32_t> labels,
                    const RowMatrix<T>& centres, const FixedPoint& fixed, ClusterSums& sums) {
  const EmptyClusters empty = find_empty_clusters(sums, shard.global_rows);
  if (empty.clusters.empty()) return;
  // (Rows of weight 0 are no candidates, as in relocate_empty_clusters.)
  constexpr double kNoCandidate = std::numeric_limits<double>::infinity();
  const auto local = local_smallest(shard, empty.candidates, [&](Eigen::Index i) {
    return shard.weight(i) > 0
               ? static_cast<double>(assignment_score(shard, i, centres.row(labels[static_cast<std::size_t>(i)]).data()))
               : kNoCandidate;
  });
  std::vector<std::uint64_t> farthest;
  for (const KeyIndex& candidate : comm.smallest(local, empty.candidates))
    if (candidate.index != KeyIndex::none().index && candidate.key != kNoCandidate) farthest.push_back(candidate.index);
  const RowMatrix<T> rows = gather_rows(comm, shard, farthest);
  const std::vector<std::int32_t> old_labels = fetch_rows(comm, shard.first_row, labels.data(), 1, farthest);
  std::vector<double> weights;
  if (sums.weighted()) weights = fetch_rows(comm, shard.first_row, shard.weights.data(), 1, farthest);
  refill_empty_clusters(empty, farthest, rows, std::span<const std::int32_t>(old_labels), fixed, sums, weights);
}

// Spherical K-Means' step: the largest dot product, the members' exact sums reduced over
// the ranks, the Euclidean fit's empty-cluster policy on similarities, and the normalised
// means as the new centres. Per row it keeps only the label (each assignment writes over
// them, counting those that change).
template <class T>
class SphericalStep {
 public:
  SphericalStep(const Comm& comm, const CsrShard<T>& shard, const KMeansOptions& options,
                const FixedPoint& fixed, const RowMatrix<T>* initial)
      : comm_(comm), shard_(shard), options_(options), fixed_(fixed), initial_(initial),
        assigner_(shard.features(), options.k), sums_(options.k, fixed) {}

  // The labels exist from begin() on: none are held while the seeding keeps its own (a
  // restart's are released before the next seeding).
  RowMatrix<T> seed(int restart) {
    std::vector<std::int32_t>().swap(labels_);
    if (!initial_) return seed_centres(comm_, shard_, options_, restart);
    RowMatrix<T> centres = *initial_;
    normalize_rows(centres);
    return centres;
  }
  // The first iteration compares with the labels of the previous centres (every row counts
  // as changed without them).
  void begin(const RowMatrix<T>* previous_centroids) {
    labels_.assign(static_cast<std::size_t>(shard_.local_rows()), -1);
    if (previous_centroids) assigner_.assign(shard_, *previous_centroids, labels_);
  }
  std::int64_t assign(const RowMatrix<T>& centres) {
    sums_.reset();
    if (shard_.weighted()) {  // the weighted sums from the labels
      pass_ = assigner_.assign(shard_, centres, labels_);
      for (Eigen::Index i = 0; i < shard_.local_rows(); ++i)
        sums_.add_sparse_weighted(labels_[static_cast<std::size_t>(i)], shard_.indices.data() + shard_.row_begin(i),
                                  shard_.values.data() + shard_.row_begin(i), shard_.row_end(i) - shard_.row_begin(i),
                                  shard_.weight(i), fixed_);
    } else {
      pass_ = assigner_.assign(shard_, centres, labels_, &sums_, &fixed_);
    }
    return pass_.changed;
  }
  double reduce(const Comm& comm, const RowMatrix<T>&, std::span<std::int64_t> counters) {
    sums_.allreduce(comm, counters);
    return total(comm, pass_);
  }
  void fill_empty_clusters(const Comm& comm, const RowMatrix<T>& centres) {
    relocate_empty(comm, shard_, labels_, centres, fixed_, sums_);
  }
  double update(const RowMatrix<T>& centres, RowMatrix<T>& updated) {
    RowMatrix<double> means = centres.template cast<double>();
    sums_.means(fixed_, means);
    normalize_rows(means);
    updated = means.template cast<T>();
    double shift = 0;
    for (Eigen::Index c = 0; c < centres.rows(); ++c)
      shift += squared_distance(centres.row(c).data(), updated.row(c).data(), centres.cols());
    return shift;
  }
  double finish(const Comm& comm, const RowMatrix<T>& centres, bool current) {
    if (!current) pass_ = assigner_.assign(shard_, centres, labels_);
    return total(comm, pass_);
  }
  std::vector<std::int32_t>& labels() { return labels_; }

 private:
  const Comm& comm_;
  const CsrShard<T>& shard_;
  const KMeansOptions& options_;
  const FixedPoint& fixed_;
  const RowMatrix<T>* initial_;
  SphericalAssigner<T> assigner_;
  ClusterSums sums_;
  std::vector<std::int32_t> labels_;
  SphericalPass pass_;  ///< of the last assignment
};

}  // namespace

// A row scaled to unit norm, the norm summed in double in the row's order (products and sums
// rounded separately: the same bits for every build and CPU).
template <class T>
void normalize(T* values, std::size_t count) {
  double squares = 0;
  for (std::size_t e = 0; e < count; ++e) {
    const double v = values[e];
    squares += v * v;
  }
  if (squares == 0) return;
  const double norm = std::sqrt(squares);
  for (std::size_t e = 0; e < count; ++e) values[e] = static_cast<T>(values[e] / norm);
}

template <class T>
void normalize_rows(CsrShard<T>& shard) {
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
    normalize(shard.values.data() + shard.row_begin(i), static_cast<std::size_t>(shard.row_end(i) - shard.row_begin(i)));
}

template <class T>
void normalize_rows(RowMatrix<T>& matrix) {
  for (Eigen::Index c = 0; c < matrix.rows(); ++c)
    normalize(matrix.row(c).data(), static_cast<std::size_t>(matrix.cols()));
}

template <class T>
KMeansResult<T> fit_spherical(const Comm& comm, const CsrShard<T>& shard, const KMeansOptions& options,
                              const RowMatrix<T>* initial, const IterationObserver& observer,
                              const FitControl<T>& control) {
  const auto start = Clock::now();
  check_cluster_count(options.k, shard.global_rows);
  check_weighted_rows(comm, shard, options.k);
  if (initial) check_initial_centres(initial->rows(), initial->cols(), options.k, shard.features());
  if (!initial && options.init != InitMethod::KMeansPlusPlus && options.init != InitMethod::Forgy)
    throw AgreedError(std::string("--metric cosine seeds with k-means++, forgy or a file of centres, not ") +
                      to_string(options.init));

  KMeansResult<T> result;
  const Eigen::Index d = shard.features();
  FixedPoint fixed;
  {
    PhaseClock clock(result.phases.init);
    FeatureRange range(static_cast<std::size_t>(d));
    for (std::size_t e = 0; e < shard.values.size(); ++e)
      range.add(static_cast<std::size_t>(shard.indices[e]), shard.values[e]);
    range.allreduce(comm);
    fixed = FixedPoint(range);
    if (shard.weighted())  // the grid of the weighted sums (summary.hpp)
      fixed = weighted_grid(comm, d, [&](const auto& row_weight, const auto& value) {
        for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
          const double w = shard.weight(i);
          if (w == 0) continue;
          row_weight(w);
          for (std::int64_t e = shard.row_begin(i); e < shard.row_end(i); ++e)
            value(w, static_cast<std::size_t>(shard.indices[static_cast<std::size_t>(e)]),
                  static_cast<double>(shard.values[static_cast<std::size_t>(e)]));
        }
      });
  }
  // Unit centres: the shift needs no data scale.
  result.tol_absolute = options.tol_absolute >= 0 ? options.tol_absolute : options.tol;
  const LoopSettings settings{initial ? 1 : std::max(options.n_init, 1), options.max_iter,
                              result.tol_absolute, options.k, d, 0};
  SphericalStep<T> step(comm, shard, options, fixed, initial);
  run_loop<T>(comm, step, settings, observer, control, start, result);
  return result;
}

template <class T>
double predict_spherical(const Comm& comm, const CsrShard<T>& shard, const RowMatrix<T>& centroids,
                         std::vector<std::int32_t>& labels) {
  labels.assign(static_cast<std::size_t>(shard.local_rows()), 0);
  SphericalAssigner<T> assigner(shard.features(), centroids.rows());
  return total(comm, assigner.assign(shard, centroids, labels));
}

#define LLOYD_INSTANTIATE(T)                                                                               \
  template void normalize_rows(CsrShard<T>&);                                                              \
  template void normalize_rows(RowMatrix<T>&);                                                             \
  template KMeansResult<T> fit_spherical(const Comm&, const CsrShard<T>&, const KMeansOptions&,           \
                                         const RowMatrix<T>*, const IterationObserver&,                    \
                                         const FitControl<T>&);                                            \
  template double predict_spherical(const Comm&, const CsrShard<T>&, const RowMatrix<T>&,                 \
                                    std::vector<std::int32_t>&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
