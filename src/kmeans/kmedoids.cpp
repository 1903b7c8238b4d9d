#include "lloyd/kmeans/nearest.hpp"
#include "lloyd/kmeans/kmedoids.hpp"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <limits>
#include <optional>

#include "lloyd/core/exact_sum.hpp"
#include "lloyd/int128.hpp"
#include "lloyd/kmeans/engine.hpp"
#include "lloyd/kmeans/phase_clock.hpp"
#include "lloyd/kmeans/selection.hpp"
#include "lloyd/rng.hpp"

namespace lloyd {

namespace {

using Clock = std::chrono::steady_clock;

/// What a row carries around the ring: its nearest medoid (= its label), the quantised
/// distance to it and to the second nearest.
struct Nearest {
  double first = 0, second = 0;
  std::int32_t medoid = 0, unused = 0;
};

constexpr double kFar = 0x1p60;  // "no second medoid" (k = 1): beyond every quantised distance

/// With sample weights, what a row carries around the ring: its Nearest and its weight in
/// integer units (MedoidSearch::units_).
struct WeightedNearest {
  Nearest nearest;
  std::int64_t units = 0;
};

/// The weight of a row without sample weights: every term is taken once, as before weights
/// existed (no multiplication, the same code and speed).
struct UnitWeight {};

/// A quantised distance (an integer held in a double) times a row's weight, as an exact integer.
inline Int128 weighted(double quantised, UnitWeight) { return static_cast<std::int64_t>(quantised); }
inline Int128 weighted(double quantised, std::int64_t units) {
  return static_cast<Int128>(static_cast<std::int64_t>(quantised)) * units;
}

/// The state of a fit on a shard: medoids and every local row's nearest ones.
template <class T>
class MedoidSearch {
 public:
  MedoidSearch(const Comm& comm, const DenseShard<T>& shard, Distance distance)
      : comm_(comm), shard_(shard), distance_(distance),
        scale_(pairwise::fixed_point_scale(comm, shard, distance)),
        nearest_(static_cast<std::size_t>(shard.local_rows())),
        units_(shard.weighted() ? fixed_point_weights(comm, shard.weights) : std::vector<std::int64_t>{}) {}

  /// Collective: for every local row, `width` exact sums Σ_g term(i, q(i, g), payload_g, w_g)
  /// over all rows g, where term adds into the row's accumulators and w_g is g's weight
  /// (UnitWeight without sample weights, else its integer units): weighted(q, w_g) is then
  /// w_g · q exactly, so the sums stay exact integers, the same for every layout.
  template <class Term>
  std::vector<Int128> ring_sums(std::size_t width, Term&& term) const {
    std::vector<Int128> sums(static_cast<std::size_t>(shard_.local_rows()) * width, Int128{0});
    if (!shard_.weighted()) {
      pairwise::for_each_pair(comm_, shard_, std::span<const Nearest>(nearest_), distance_, scale_,
                              [&](Eigen::Index i, std::uint64_t g, double q, const Nearest& other) {
                                term(&sums[static_cast<std::size_t>(i) * width], i, g, q, other, UnitWeight{});
                              });
      return sums;
    }
    // The weights travel with their rows around the ring.
    std::vector<WeightedNearest> payload(nearest_.size());
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = {nearest_[i], units_[i]};
    pairwise::for_each_pair(comm_, shard_, std::span<const WeightedNearest>(payload), distance_, scale_,
                            [&](Eigen::Index i, std::uint64_t g, double q, const WeightedNearest& other) {
                              term(&sums[static_cast<std::size_t>(i) * width], i, g, q, other.nearest,
                                   other.units);
                            });
    return sums;
  }

  /// Whether local row i may become a medoid: every row without sample weights, else the
  /// rows of positive weight (a row of weight 0 adds nothing to any cost: scikit-learn
  /// would never see it).
  bool eligible(Eigen::Index i) const {
    return !shard_.weighted() || shard_.weights[static_cast<std::size_t>(i)] > 0;
  }

  /// Collective: the winner of minimum (key, global row) over local candidates.
  KeyIndex global_min(KeyIndex local) const {
    comm_.allreduce_min(std::span<KeyIndex>(&local, 1));
    return local;
  }

  /// Collective: takes medoid rows (global indices of the shard) and recomputes every
  /// row's nearest and second nearest medoid. Returns the inertia (exact Σ distances).
  double set_medoids(const std::vector<std::uint64_t>& medoids) {
    medoids_ = medoids;
    rows_ = rows_as_matrix(comm_, shard_, medoids_);
    std::vector<double> distances(nearest_.size());
    const Eigen::Index d = shard_.features();
    for (Eigen::Index i = 0; i < shard_.local_rows(); ++i) {
      Nearest best{kFar, kFar, 0, 0};
      double best_distance = 0;
      for (Eigen::Index c = 0; c < rows_.rows(); ++c) {
        const double exact = row_distance(distance_, shard_.row(i), rows_.row(c).data(), d);
        const double q = quantise(exact);
        if (c == 0 || exact < best_distance) {
          best.second = c == 0 ? kFar : best.first;
          best.first = q;
          best.medoid = static_cast<std::int32_t>(c);
          best_distance = exact;
        } else {
          best.second = std::min(best.second, q);
        }
      }
      nearest_[static_cast<std::size_t>(i)] = best;
      distances[static_cast<std::size_t>(i)] = best_distance;
    }
    inertia_ = exact_total(comm_, distances, shard_.weights);
    return inertia_;
  }
  /// Σ w · distance of the rows to their nearest medoid (exact sum), for the medoids last set.
  double inertia() const { return inertia_; }

  double quantise(double distance) const {
    constexpr double kRound = 0x1.8p52;
    return std::fma(distance, scale_, kRound) - kRound;
  }
  bool is_medoid(std::uint64_t g) const {
    return std::find(medoids_.begin(), medoids_.end(), g) != medoids_.end();
  }
  const std::vector<std::uint64_t>& medoids() const { return medoids_; }
  const RowMatrix<T>& medoid_rows() const { return rows_; }
  const std::vector<Nearest>& nearest() const { return nearest_; }
  const DenseShard<T>& shard() const { return shard_; }

 private:
  const Comm& comm_;
  const DenseShard<T>& shard_;
  Distance distance_;
  double scale_;
  std::vector<Nearest> nearest_;
  std::vector<std::uint64_t> medoids_;
  RowMatrix<T> rows_;
  double inertia_ = 0;
  /// With sample weights, each local row's weight in integer units (fixed_point_weights:
  /// integer weights give sums 2^shift times those of the rows repeated, hence the same
  /// choices). Units times quantised distances (below 2^44) stay below 2^96: Int128 sums
  /// hold 2^31 rows. Empty without weights.
  std::vector<std::int64_t> units_;
};

KeyIndex candidate(double key, std::uint64_t index) { return {key, index}; }

// BUILD: greedy medoids, one ring pass each.
template <class T>
void build(MedoidSearch<T>& search, int k) {
  const DenseShard<T>& shard = search.shard();
  std::vector<std::uint64_t> medoids;
  for (int chosen = 0; chosen < k; ++chosen) {
    // First medoid: the smallest Σ_g w_g q(i, g); later ones: the largest
    // Σ_g w_g max(0, D_g − q(i, g)).
    const bool first = chosen == 0;
    const std::vector<Int128> sums = search.ring_sums(1, [&](Int128* sum, Eigen::Index, std::uint64_t,
                                                            double q, const Nearest& other, auto weight) {
      if (first) *sum += weighted(q, weight);
      else if (other.first > q) *sum += weighted(other.first - q, weight);
    });
    KeyIndex best = KeyIndex::none();
    for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
      const std::uint64_t g = shard.global_index(i);
      if ((!first && search.is_medoid(g)) || !search.eligible(i)) continue;
      const double value = static_cast<double>(sums[static_cast<std::size_t>(i)]);
      best = std::min(best, candidate(first ? value : -value, g));
    }
    medoids.push_back(search.global_min(best).index);
    search.set_medoids(medoids);
  }
}

// One alternate iteration: every cluster's member with the smallest in-cluster sum becomes
// its medoid if strictly better than the current one. Returns whether a medoid changed.
template <class T>
bool alternate_step(MedoidSearch<T>& search) {
  const DenseShard<T>& shard = search.shard();
  const std::vector<Nearest>& nearest = search.nearest();
  const std::vector<Int128> sums = search.ring_sums(1, [&](Int128* sum, Eigen::Index i, std::uint64_t,
                                                          double q, const Nearest& other, auto weight) {
    if (other.medoid == nearest[static_cast<std::size_t>(i)].medoid) *sum += weighted(q, weight);
  });
  const std::size_t k = search.medoids().size();
  // Per cluster: the best member, and the current medoid's own sum (when it is a member).
  std::vector<KeyIndex> best(2 * k, KeyIndex::none());
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
    const auto c = static_cast<std::size_t>(nearest[static_cast<std::size_t>(i)].medoid);
    const KeyIndex mine{static_cast<double>(sums[static_cast<std::size_t>(i)]), shard.global_index(i)};
    if (search.eligible(i)) best[c] = std::min(best[c], mine);
    if (mine.index == search.medoids()[c]) best[k + c] = mine;
  }
  // Keys are the Int128 sums as doubles: exact below 2^53 units, and in any case the same
  // values on every layout, so the choice is rank-invariant.
  for (std::size_t slot = 0; slot < 2 * k; ++slot) best[slot] = search.global_min(best[slot]);
  std::vector<std::uint64_t> medoids = search.medoids();
  bool changed = false;
  for (std::size_t c = 0; c < k; ++c) {
    if (best[c].index == KeyIndex::none().index) continue;  // an empty cluster keeps its medoid
    const bool current_is_member = best[k + c].index != KeyIndex::none().index;
    if (best[c].index != medoids[c] && (!current_is_member || best[c].key < best[k + c].key)) {
      medoids[c] = best[c].index;
      changed = true;
    }
  }
  if (changed) search.set_medoids(medoids);
  return changed;
}

// One PAM swap: the (medoid, row) exchange that lowers the total distance most, if any.
template <class T>
bool pam_step(MedoidSearch<T>& search) {
  const DenseShard<T>& shard = search.shard();
  const std::size_t k = search.medoids().size();
  // Per candidate h: [0] Σ_j min(q, D_j) − D_j (adding h), [1 + m] Σ_{j nearest m}
  // min(q, E_j) − min(q, D_j) (removing m): Δ(m, h) = [0] + [1 + m].
  const std::vector<Int128> sums = search.ring_sums(k + 1, [&](Int128* sum, Eigen::Index, std::uint64_t,
                                                              double q, const Nearest& other, auto weight) {
    const double kept = std::min(q, other.first);
    sum[0] += weighted(kept - other.first, weight);
    sum[1 + static_cast<std::size_t>(other.medoid)] += weighted(std::min(q, other.second) - kept, weight);
  });
  KeyIndex best = KeyIndex::none();
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
    const std::uint64_t h = shard.global_index(i);
    if (search.is_medoid(h) || !search.eligible(i)) continue;
    const Int128* row = &sums[static_cast<std::size_t>(i) * (k + 1)];
    for (std::size_t m = 0; m < k; ++m) {
      const Int128 change = row[0] + row[1 + m];
      if (change < 0) best = std::min(best, candidate(static_cast<double>(change), h * k + m));
    }
  }
  best = search.global_min(best);
  if (best.index == KeyIndex::none().index) return false;
  std::vector<std::uint64_t> medoids = search.medoids();
  medoids[best.index % k] = best.index / k;
  search.set_medoids(medoids);
  return true;
}

// K-medoids' step: one iteration is one alternate pass or one PAM swap over the ring; its
// centres are the medoids' rows. Seeding is BUILD, whose inertia opens the history; an
// iteration that finds no better medoid ends the fit without counting (Stop::Idle). Its
// state beyond the centres: the medoids (global rows of the rows it fits).
template <class T>
class MedoidsStep {
 public:
  MedoidsStep(const Comm& comm, const DenseShard<T>& shard, const DenseShard<T>& rows,
              const KMeansOptions& options, const KMedoidsOptions& medoids)
      : comm_(comm), shard_(shard), rows_(rows), options_(options), medoids_(medoids),
        search_(comm, rows, medoids.distance) {}

  RowMatrix<T> seed(int) {
    build(search_, options_.k);
    return search_.medoid_rows();
  }
  double seed_inertia() const { return search_.inertia(); }
  // On all rows: BUILD's own inertia is that of the sample when the medoids are chosen on one.
  double seeding_cost(const Comm& comm, const RowMatrix<T>& centres) {
    if (rows_.global_rows == shard_.global_rows) return search_.inertia();
    std::vector<std::int32_t> labels;
    return predict_nearest(comm, shard_, centres, medoids_.distance, labels);
  }
  void begin(const RowMatrix<T>*) {}
  // The pass itself; the one change it makes is counted on rank 0 (a rank-invariant total).
  std::int64_t assign(const RowMatrix<T>&) {
    const bool changed = medoids_.method == MedoidMethod::Alternate ? alternate_step(search_) : pam_step(search_);
    return changed && comm_.rank() == 0 ? 1 : 0;
  }
  // The inertia of the new medoids (on the rows fitted).
  double reduce(const Comm& comm, const RowMatrix<T>&, std::span<std::int64_t> counters) {
    comm.allreduce(counters, MPI_SUM);
    return search_.inertia();
  }
  // A cluster without members keeps its medoid.
  void fill_empty_clusters(const Comm&, const RowMatrix<T>&) {}
  // Medoids jump between rows: no centre shift is measured.
  double update(const RowMatrix<T>&, RowMatrix<T>& updated) {
    updated = search_.medoid_rows();
    return 0;
  }
  Stop stop(const IterationReport& report) const { return report.changed == 0 ? Stop::Idle : Stop::Continue; }
  double finish(const Comm& comm, const RowMatrix<T>& centres, bool) {
    return predict_nearest(comm, shard_, centres, medoids_.distance, labels_);
  }
  std::vector<std::int32_t>& labels() { return labels_; }

  void save(FitState<T>& state) const {
    state.step_integers.assign(search_.medoids().begin(), search_.medoids().end());
  }
  void restore(const FitState<T>& state) {
    std::vector<std::uint64_t> medoids;
    for (const std::int64_t g : state.step_integers) {
      if (g < 0 || static_cast<std::uint64_t>(g) >= rows_.global_rows ||
          std::find(medoids.begin(), medoids.end(), static_cast<std::uint64_t>(g)) != medoids.end())
        throw AgreedError("checkpoint: medoid row " + std::to_string(g) + " is out of range or repeated");
      medoids.push_back(static_cast<std::uint64_t>(g));
    }
    search_.set_medoids(medoids);
  }

  const MedoidSearch<T>& search() const { return search_; }

 private:
  const Comm& comm_;
  const DenseShard<T>& shard_;
  const DenseShard<T>& rows_;
  const KMeansOptions& options_;
  const KMedoidsOptions& medoids_;
  MedoidSearch<T> search_;
  std::vector<std::int32_t> labels_;
};

}  // namespace

template <class T>
KMedoidsResult<T> fit_kmedoids(const Comm& comm, const DenseShard<T>& shard,
                               const KMeansOptions& options, const KMedoidsOptions& medoid_options,
                               const IterationObserver& observer, const FitControl<T>& control) {
  const auto start = Clock::now();
  check_cluster_count(options.k, shard.global_rows);
  const bool sampled = medoid_options.sample > 0 && medoid_options.sample < shard.global_rows;
  if (sampled && medoid_options.sample < static_cast<std::uint64_t>(options.k))
    throw AgreedError("the k-medoids sample (" + std::to_string(medoid_options.sample) +
                      " rows) must hold at least k = " + std::to_string(options.k) + " rows");
  std::vector<Eigen::Index> kept;
  DenseShard<T> sample;
  if (sampled)
    sample = subset_shard(comm, shard,
                          distinct_random_rows(comm, shard, medoid_options.sample, CounterRng(options.seed),
                                               stream_id(Stream::MedoidSample)),
                          kept);
  if (sampled && shard.weighted()) {  // the sample's rows carry their weights
    sample.has_weights = true;
    for (const Eigen::Index i : kept) sample.weights.push_back(shard.weight(i));
  }
  const DenseShard<T>& rows = sampled ? sample : shard;
  // Weighted sums of up to 2^96 units a term (MedoidSearch::units_) stay exact in
  // Int128 over fewer than 2^31 rows; an all-rows fit that large could never finish anyway.
  if (rows.weighted() && rows.global_rows >= (std::uint64_t{1} << 31))
    throw AgreedError("k-medoids with sample weights chooses medoids among at most 2^31 rows; take a --sample");
  // Only rows of positive weight may become medoids: k of them, in the data and the sample.
  check_weighted_rows(comm, shard, options.k);
  if (sampled) {
    try {
      check_weighted_rows(comm, sample, options.k);
    } catch (const AgreedError& error) {
      throw AgreedError(std::string("the k-medoids sample (") + std::to_string(medoid_options.sample) +
                        " rows): " + error.what() + "; take a larger --sample");
    }
  }

  KMedoidsResult<T> result;
  result.fitted_rows = rows.global_rows;
  std::optional<MedoidsStep<T>> step;
  {
    PhaseClock clock(result.phases.init);
    step.emplace(comm, shard, rows, options, medoid_options);
  }
  // BUILD is deterministic: one restart.
  const LoopSettings settings{1, options.max_iter, 0.0, options.k, shard.features(),
                              static_cast<std::size_t>(options.k)};
  run_loop<T>(comm, *step, settings, observer, control, start, result);
  if (result.interrupted) return result;

  // Medoids as global rows of the whole data set.
  const MedoidSearch<T>& search = step->search();
  if (sampled) {
    std::vector<std::uint64_t> origin;
    for (const Eigen::Index i : kept) origin.push_back(shard.global_index(i));
    result.medoid_indices = fetch_rows(comm, rows.first_row, origin.data(), 1, search.medoids());
  } else {
    result.medoid_indices = search.medoids();
  }
  return result;
}

template KMedoidsResult<float> fit_kmedoids(const Comm&, const DenseShard<float>&,
                                            const KMeansOptions&, const KMedoidsOptions&,
                                            const IterationObserver&, const FitControl<float>&);
template KMedoidsResult<double> fit_kmedoids(const Comm&, const DenseShard<double>&,
                                             const KMeansOptions&, const KMedoidsOptions&,
                                             const IterationObserver&, const FitControl<double>&);

}  // namespace lloyd
