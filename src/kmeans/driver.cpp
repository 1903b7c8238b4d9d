#include "lloyd/kmeans/driver.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <concepts>
#include <functional>
#include <limits>
#include <optional>

#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/bounded.hpp"
#include "lloyd/core/cluster_sums.hpp"
#include "lloyd/kmeans/empty_clusters.hpp"
#include "lloyd/kmeans/init.hpp"
#include "lloyd/kmeans/minibatch.hpp"
#include "lloyd/kmeans/phase_clock.hpp"
#include "lloyd/kmeans/selection.hpp"
#include "lloyd/rng.hpp"

namespace lloyd {

namespace {

using Clock = std::chrono::steady_clock;

template <class T>
double squared_shift(const RowMatrix<T>& before, const RowMatrix<T>& after) {
  double total = 0;
  for (Eigen::Index c = 0; c < before.rows(); ++c)
    total += squared_distance(before.row(c).data(), after.row(c).data(), before.cols());
  return total;
}

// A rank's rows visited block by block: views of the in-memory shard, or blocks read from the
// file (fit --stream). The iteration steps below keep per row only what must outlive a pass
// (labels; Hamerly's and Yinyang's bounds) and everything else per block, so that a fit holds
// its shard plus about 4 (Lloyd) or 12 (Hamerly) bytes per row, and a streamed fit only the
// latter. Blocks start at global multiples of RowSource::kStreamBlock in both cases.
template <class T>
class RowBlocks {
 public:
  using Visit = std::function<void(const DenseShard<T>& block, Eigen::Index offset)>;

  explicit RowBlocks(const DenseShard<T>& shard) : shard_(&shard) {}
  explicit RowBlocks(RowSource<T>& source) : source_(&source) {}

  bool streamed() const { return source_ != nullptr; }
  /// The in-memory shard (null when streamed).
  const DenseShard<T>* shard() const { return shard_; }
  std::uint64_t global_rows() const { return shard_ ? shard_->global_rows : source_->global_rows(); }
  std::uint64_t first_row() const { return shard_ ? shard_->first_row : source_->local_range().begin; }
  Eigen::Index local_rows() const {
    return shard_ ? shard_->local_rows() : static_cast<Eigen::Index>(source_->local_range().size());
  }
  Eigen::Index features() const { return shard_ ? shard_->features() : source_->features(); }
  /// Sample weights (rank-agreed, as DenseShard::has_weights) and those of the local rows.
  bool weighted() const { return shard_ ? shard_->weighted() : source_->weighted(); }
  std::span<const double> weights() const { return shard_ ? std::span<const double>(shard_->weights) : source_->local_weights(); }

  /// Calls visit(block, offset) for the local rows in order: `block` holds local rows
  /// [offset, offset + block.local_rows()), with their weights. Collective over the source's
  /// communicator when streamed (every rank reads its blocks); `visit` must not call
  /// collectives (ranks visit different numbers of blocks in memory). The time spent
  /// reading is added to phases.io and taken from the phase `charged` (the one whose clock
  /// runs around this pass) when `phases` are given.
  void for_each(const Visit& visit, PhaseTimes* phases = nullptr, double PhaseTimes::*charged = nullptr) {
    if (!streamed()) {
      const std::uint64_t B = RowSource<T>::kStreamBlock, first = shard_->first_row;
      const std::uint64_t end = first + static_cast<std::uint64_t>(shard_->local_rows());
      for (std::uint64_t lo = first; lo < end;) {
        const std::uint64_t hi = std::min(end, (lo / B + 1) * B);
        const auto offset = static_cast<Eigen::Index>(lo - first), count = static_cast<Eigen::Index>(hi - lo);
        DenseShard<T> view = DenseShard<T>::view_of(shard_->row(offset), count, shard_->features(),
                                                    shard_->global_rows, lo);
        if (shard_->weighted()) {
          view.weights.assign(shard_->weights.begin() + offset, shard_->weights.begin() + offset + count);
          view.has_weights = true;
        }
        visit(view, offset);
        lo = hi;
      }
      return;
    }
    const auto pass_start = std::chrono::steady_clock::now();
    double visiting = 0;
    const std::uint64_t begin = source_->local_range().begin;
    source_->for_each_block([&](const DenseShard<T>& block) {
      if (block.local_rows() == 0) return;
      const auto start = std::chrono::steady_clock::now();
      visit(block, static_cast<Eigen::Index>(block.first_row - begin));
      visiting += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    });
    const double reading =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - pass_start).count() - visiting;
    io_seconds_ += reading;
    bytes_read_ += static_cast<std::uint64_t>(local_rows()) * static_cast<std::uint64_t>(features()) * sizeof(T);
    ++passes_;
    if (phases) {
      phases->io += reading;
      if (charged) phases->*charged -= reading;
    }
  }

  /// Collective over comm: the rows with the given global indices (any rank's, in any
  /// order) on every rank, as a matrix.
  RowMatrix<T> fetch(const Comm& comm, std::span<const std::uint64_t> indices) const {
    const auto d = static_cast<std::size_t>(features());
    std::vector<T> values;
    if (!streamed()) {
      values = fetch_rows(comm, shard_->first_row, shard_->rows.data(), d, indices);
    } else {
      // This rank's rows among them, read once (ascending), then handed round.
      const RowRange range = source_->local_range();
      std::vector<std::uint64_t> local;
      for (const std::uint64_t index : indices)
        if (index >= range.begin && index < range.end) local.push_back(index);
      std::sort(local.begin(), local.end());
      local.erase(std::unique(local.begin(), local.end()), local.end());
      std::vector<T> read(local.size() * d);
      run_agreed(comm, [&] { source_->rows(local, read.data()); });
      values = fetch_rows_by<T>(comm, range.begin, d, indices, [&](std::uint64_t offset, T* out) {
        const auto at = static_cast<std::size_t>(
            std::lower_bound(local.begin(), local.end(), range.begin + offset) - local.begin());
        std::copy_n(read.data() + at * d, d, out);
      });
    }
    return Eigen::Map<const RowMatrix<T>>(values.data(), static_cast<Eigen::Index>(indices.size()), features());
  }

  /// Streamed: the bytes read and the seconds spent reading, over all passes so far.
  std::uint64_t bytes_read() const { return bytes_read_; }
  double io_seconds() const { return io_seconds_; }
  std::int64_t passes() const { return passes_; }

 private:
  const DenseShard<T>* shard_ = nullptr;
  RowSource<T>* source_ = nullptr;
  std::uint64_t bytes_read_ = 0;
  double io_seconds_ = 0;
  std::int64_t passes_ = 0;
};

// The (key, global index) pairs of the `count` smallest keys seen so far, gathered block by
// block: the same set as local_smallest over all the rows at once (a strict total order).
class SmallestKeys {
 public:
  explicit SmallestKeys(std::size_t count) : count_(count) {}
  void add(const std::vector<KeyIndex>& keys) {
    kept_.insert(kept_.end(), keys.begin(), keys.end());
    if (kept_.size() > count_) {
      std::nth_element(kept_.begin(), kept_.begin() + static_cast<std::ptrdiff_t>(count_), kept_.end());
      kept_.resize(count_);
    }
  }
  std::vector<KeyIndex> take() { return std::move(kept_); }

 private:
  std::size_t count_;
  std::vector<KeyIndex> kept_;
};

// Collective over comm: the exact sum of every rank's part, rounded once.
double total_over_ranks(const Comm& comm, ExactSum part) {
  part.allreduce(comm);
  return part.value();
}

// Adds each row's squared distance to its centre (weighted when the block is) to `sum`.
template <class T>
void add_own_distances(const DenseShard<T>& block, std::span<const std::int32_t> labels,
                       const RowMatrix<T>& centres, std::vector<double>& scratch, ExactSum& sum) {
  scratch.resize(static_cast<std::size_t>(block.local_rows()));
  for (Eigen::Index i = 0; i < block.local_rows(); ++i)
    scratch[static_cast<std::size_t>(i)] =
        squared_distance(block.row(i), centres.row(labels[static_cast<std::size_t>(i)]).data(), block.features());
  sum.add(scratch, block.weights);
}

// Collective over comm: relocate_empty_clusters (scikit-learn's policy: the farthest rows
// move to the empty clusters) on rows given block by block. The rows' distances to their
// centres are computed here, only when a cluster is empty, rather than kept per row: the
// same squared_distance as the assignment's, so the same moves.
// `passes` counts the passes over the rows.
template <class T>
int relocate_empty_clusters(const Comm& comm, RowBlocks<T>& rows, std::span<const std::int32_t> labels,
                            const RowMatrix<T>& centres, const FixedPoint& fixed, ClusterSums& sums,
                            PhaseTimes& phases, int& passes) {
  const EmptyClusters empty = find_empty_clusters(sums, rows.global_rows());
  if (empty.clusters.empty()) return 0;
  ++passes;
  constexpr double kNoCandidate = std::numeric_limits<double>::infinity();
  const Eigen::Index d = rows.features();
  SmallestKeys farthest_local(empty.candidates);
  rows.for_each(
      [&](const DenseShard<T>& block, Eigen::Index offset) {
        farthest_local.add(local_smallest(block, empty.candidates, [&](Eigen::Index i) {
          const std::int32_t label = labels[static_cast<std::size_t>(offset + i)];
          return block.weight(i) > 0 ? -squared_distance(block.row(i), centres.row(label).data(), d) : kNoCandidate;
        }));
      },
      &phases, &PhaseTimes::reduce);
  std::vector<std::uint64_t> farthest;
  for (const KeyIndex& candidate : comm.smallest(farthest_local.take(), empty.candidates))
    if (candidate.index != KeyIndex::none().index && candidate.key != kNoCandidate)
      farthest.push_back(candidate.index);
  const std::vector<std::int32_t> old_labels = fetch_rows(comm, rows.first_row(), labels.data(), 1, farthest);
  std::vector<double> weights;
  if (sums.weighted()) weights = fetch_rows(comm, rows.first_row(), rows.weights().data(), 1, farthest);
  return refill_empty_clusters(empty, farthest, rows.fetch(comm, farthest), old_labels, fixed, sums, weights);
}

// The assignment half of a means step: the piece that differs between Lloyd, Hamerly and
// Yinyang (MeansStep below holds the rest).
template <class S, class T>
concept AssignmentStep = requires(S step, const Comm& comm, const RowMatrix<T>& centres,
                                  ClusterSums& sums) {
  // Starts a run: when resuming, the labels of the centres it resumes from (they count the
  // first iteration's changes).
  step.begin(&centres);
  // Assigns every row to `centres`; fills `sums` with what the ranks must reduce; returns
  // the number of local labels that changed.
  { step.assign(centres, sums) } -> std::same_as<std::int64_t>;
  // Once after the reduction of `sums`: the cluster sums of the whole assignment.
  { step.reduced(sums) } -> std::same_as<ClusterSums&>;
  // Collective: the inertia of the assignment (to `centres`) with those sums.
  { step.inertia(comm, centres, sums) } -> std::same_as<double>;
  // The empty-cluster policy moved rows between the reduced sums without relabelling them.
  step.relocated();
  // Collective: the labels of the final centres and their exact inertia (`current`: the
  // last assignment was to these very centres).
  { step.finish(comm, centres, true) } -> std::same_as<double>;
  { step.labels() } -> std::same_as<std::vector<std::int32_t>&>;
};

// Lloyd: every distance, every iteration (GEMM form, Assigner), block by block. Per row only
// the label: the labels changed are counted against a copy of the block's previous ones, and
// the inertia is summed exactly block by block (the same bits as one exact sum of all rows).
template <class T>
class FullStep {
 public:
  FullStep(RowBlocks<T>& rows, Eigen::Index k, const DataSummary& summary, PhaseTimes& phases)
      : rows_(rows), summary_(summary), phases_(phases), assigner_(rows.features(), k) {}

  void begin(const RowMatrix<T>* previous_centroids) {
    labels_.assign(static_cast<std::size_t>(rows_.local_rows()), -1);  // the first assignment changes every label
    if (previous_centroids) pass(*previous_centroids, nullptr);
  }
  std::int64_t assign(const RowMatrix<T>& centres, ClusterSums& sums) {
    sums.reset();
    return pass(centres, &sums);
  }
  ClusterSums& reduced(ClusterSums& sums) { return sums; }
  double inertia(const Comm& comm, const RowMatrix<T>&, const ClusterSums&) { return total_over_ranks(comm, inertia_); }
  void relocated() {}
  double finish(const Comm& comm, const RowMatrix<T>& centres, bool current) {
    if (!current) pass(centres, nullptr);
    return total_over_ranks(comm, inertia_);
  }
  std::vector<std::int32_t>& labels() { return labels_; }
  std::size_t bound_bytes() const { return 0; }

 private:
  // Every row assigned to `centres` (labels in place; the sums when given) and the local
  // exact inertia; returns the labels that changed.
  std::int64_t pass(const RowMatrix<T>& centres, ClusterSums* sums) {
    inertia_ = ExactSum{};
    std::int64_t changed = 0;
    rows_.for_each(
        [&](const DenseShard<T>& block, Eigen::Index offset) {
          const auto count = static_cast<std::size_t>(block.local_rows());
          const std::span<std::int32_t> labels(labels_.data() + offset, count);
          previous_.assign(labels.begin(), labels.end());
          distances_.resize(count);
          // Weighted or not, the sums are made in the assignment's own pass over the rows.
          if (sums) assigner_.assign(block, centres, labels, distances_, sums, &summary_.fixed);
          else assigner_.assign(block, centres, labels, distances_);
          inertia_.add(distances_, block.weights);
          for (std::size_t i = 0; i < count; ++i) changed += labels[i] != previous_[i];
        },
        &phases_, &PhaseTimes::assign);
    return changed;
  }

  RowBlocks<T>& rows_;
  const DataSummary& summary_;
  PhaseTimes& phases_;
  Assigner<T> assigner_;
  std::vector<std::int32_t> labels_;
  std::vector<std::int32_t> previous_;  ///< one block's labels before its assignment
  std::vector<double> distances_;       ///< one block's
  ExactSum inertia_;                    ///< of the last pass, this rank's rows
};

// The inertia of an assignment from its cluster sums alone, for the pruned algorithms, which
// do not see every row's distance:
//   Σ_i ‖x_i − c(i)‖² = Σ_i ‖x_i − m‖² − 2 Σ_c (c − m)·(S_c − n_c m) + Σ_c n_c ‖c − m‖²,
// taken around the data's mean m rounded to the fixed-point grid, so that S_c − n_c m is
// exact and the cancellation is that of the spread around the mean, not of the offset. It
// agrees with the row-by-row sum to about 1e-13 relative (README); the final inertia is
// always summed row by row. With more than one limb per value (FixedPoint), S_c − n_c m is
// formed exactly from the limbs instead (FixedPoint::centred_to_double).
template <class T>
class InertiaFromSums {
 public:
  InertiaFromSums(const Comm& comm, RowBlocks<T>& rows, const DataSummary& summary, PhaseTimes& phases)
      : fixed_(summary.fixed) {
    const Eigen::Index d = rows.features();
    for (Eigen::Index j = 0; j < d; ++j) {
      const auto feature = static_cast<std::size_t>(j);
      if (!fixed_.single()) {
        mean_.push_back(summary.mean[feature]);
        continue;
      }
      grid_mean_.push_back(fixed_.to_fixed(summary.mean[feature], feature));
      mean_.push_back(fixed_.to_double(grid_mean_.back(), feature));
    }
    ExactSum spread;
    rows.for_each(
        [&](const DenseShard<T>& block, Eigen::Index) {
          for (Eigen::Index i = 0; i < block.local_rows(); ++i)
            spread.add(squared_distance(block.row(i), mean_.data(), d));
        },
        &phases, &PhaseTimes::init);
    spread_ = total_over_ranks(comm, spread);
  }

  double operator()(const RowMatrix<T>& centres, const ClusterSums& totals) const {
    const Eigen::Index d = centres.cols();
    const std::span<const Int128> sums = totals.sums();
    double inertia = spread_;
    for (Eigen::Index c = 0; c < centres.rows(); ++c) {
      const std::int64_t n = totals.count(c);
      if (n == 0) continue;
      double cross = 0, own = 0;
      for (Eigen::Index j = 0; j < d; ++j) {
        const auto feature = static_cast<std::size_t>(j);
        const double offset = static_cast<double>(centres(c, j)) - mean_[feature];
        if (fixed_.single()) {
          const Int128 centred = sums[static_cast<std::size_t>(c * d + j)] -
                                 Int128{n} * Int128{grid_mean_[feature]};
          cross = std::fma(offset, fixed_.to_double(centred, feature), cross);
        } else {
          cross = std::fma(offset,
                           fixed_.centred_to_double(sums.data() + totals.position(c, j), static_cast<std::size_t>(d),
                                                    feature, n, mean_[feature]),
                           cross);
        }
        own = std::fma(offset, offset, own);
      }
      inertia += std::fma(static_cast<double>(n), own, -2 * cross);
    }
    return inertia;
  }

 private:
  const FixedPoint& fixed_;
  std::vector<std::int64_t> grid_mean_;
  std::vector<double> mean_;
  double spread_ = 0;
};

// Hamerly / Yinyang: bounds skip the distances that cannot change a label (BoundedAssigner).
// The sums are kept from iteration to iteration and only the rows that changed label are
// reduced: integer sums, so the total is the same as a fresh one. Per row: the label and the
// bounds; the distances (for a weighted inertia and the final one) are summed block by block.
template <class T>
class BoundedStep {
 public:
  BoundedStep(const Comm& comm, RowBlocks<T>& rows, Eigen::Index k, int groups, const DataSummary& summary,
              PhaseTimes& phases)
      : rows_(rows), summary_(summary), phases_(phases), k_(k), groups_(groups),
        bounded_(rows.local_rows(), rows.features(), k, groups), totals_(k, summary.fixed) {
    if (!rows.weighted()) inertia_from_sums_.emplace(comm, rows, summary, phases);
  }

  void begin(const RowMatrix<T>* previous_centroids) {
    // Every run starts with new bounds (and Yinyang's groups from its own first centres).
    if (runs_++ > 0) {
      bytes_ = std::max(bytes_, bounded_.bound_bytes());
      bounded_ = BoundedAssigner<T>(rows_.local_rows(), rows_.features(), k_, groups_);
    }
    labels_.assign(static_cast<std::size_t>(rows_.local_rows()), -1);
    rebuild_ = true;
    if (!previous_centroids) return;
    // The labels before the stop, recomputed; their bounds are not known, so the next
    // assignment computes every distance.
    pass(*previous_centroids, {.exact_distances = true}, nullptr);
    bounded_.reset();
  }
  std::int64_t assign(const RowMatrix<T>& centres, ClusterSums& sums) {
    sums.reset();
    std::int64_t changed = 0;
    if (rows_.weighted()) {  // the sums of every row, weighted, from the labels (no changes kept)
      changed = pass(centres, {}, &centres, &sums);
    } else {
      changed = pass(centres, {.sums = &sums, .fixed = &summary_.fixed, .fresh_sums = rebuild_}, nullptr);
    }
    work_ += bounded_.work();
    return changed;
  }
  ClusterSums& reduced(ClusterSums& sums) {
    if (rows_.weighted()) return sums;  // whole sums every iteration
    if (rebuild_) totals_.reset();
    totals_.merge(sums);  // the changes (or, rebuilt, the whole sums)
    rebuild_ = false;
    return totals_;
  }
  // Always from the sums (never the row-by-row sum when it happens to be at hand), so that a
  // resumed run's history is the same bits as an uninterrupted one's.
  // Weighted: row by row (the identity below has no weights), an exact sum made by the assign.
  double inertia(const Comm& comm, const RowMatrix<T>& centres, const ClusterSums& totals) {
    if (rows_.weighted()) return total_over_ranks(comm, inertia_);
    return (*inertia_from_sums_)(centres, totals);
  }
  // The empty-cluster policy moved rows between the reduced sums without relabelling them:
  // the next sums are summed afresh.
  void relocated() { rebuild_ = true; }
  double finish(const Comm& comm, const RowMatrix<T>& centres, bool current) {
    if (current) {
      inertia_ = ExactSum{};
      rows_.for_each(
          [&](const DenseShard<T>& block, Eigen::Index offset) {
            add_own_distances(block, block_labels(block, offset), centres, distances_, inertia_);
          },
          &phases_, &PhaseTimes::assign);
    } else {
      pass(centres, {.exact_distances = true}, nullptr);
      work_ += bounded_.work();
    }
    return total_over_ranks(comm, inertia_);
  }
  std::vector<std::int32_t>& labels() { return labels_; }
  std::size_t bound_bytes() const { return std::max(bytes_, bounded_.bound_bytes()); }
  const PruningWork& work() const { return work_; }

 private:
  std::span<std::int32_t> block_labels(const DenseShard<T>& block, Eigen::Index offset) {
    return {labels_.data() + offset, static_cast<std::size_t>(block.local_rows())};
  }
  // One assignment of every row, block by block. With `options.exact_distances`, inertia_
  // becomes the exact sum of the distances; with `weighted_to` (weighted fits), that of the
  // weighted distances to those centres, and the rows are added to `weighted_sums`.
  std::int64_t pass(const RowMatrix<T>& centres, const typename BoundedAssigner<T>::Options& options,
                    const RowMatrix<T>* weighted_to, ClusterSums* weighted_sums = nullptr) {
    inertia_ = ExactSum{};
    std::int64_t changed = 0;
    bounded_.begin_pass(centres);
    rows_.for_each(
        [&](const DenseShard<T>& block, Eigen::Index offset) {
          const std::span<std::int32_t> labels = block_labels(block, offset);
          distances_.resize(labels.size());
          changed += bounded_.assign_block(block, offset, labels, distances_, options);
          if (options.exact_distances) inertia_.add(distances_, block.weights);
          if (weighted_to) {
            add_own_distances(block, labels, *weighted_to, distances_, inertia_);
            add_weighted_rows(block, labels, summary_.fixed, *weighted_sums);
          }
        },
        &phases_, &PhaseTimes::assign);
    bounded_.end_pass();
    return changed;
  }

  RowBlocks<T>& rows_;
  const DataSummary& summary_;
  PhaseTimes& phases_;
  Eigen::Index k_;
  int groups_;
  BoundedAssigner<T> bounded_;
  int runs_ = 0;
  std::size_t bytes_ = 0;
  std::optional<InertiaFromSums<T>> inertia_from_sums_;  ///< unweighted fits only
  ClusterSums totals_;
  std::vector<std::int32_t> labels_;
  std::vector<double> distances_;  ///< one block's
  ExactSum inertia_;               ///< see pass and finish: this rank's rows
  bool rebuild_ = true;
  PruningWork work_;
};

// K-Means' step: an assignment (Lloyd, Hamerly or Yinyang), the exact cluster sums reduced
// over the ranks, scikit-learn's empty-cluster policy (relocate_empty_clusters) and the
// means as the new centres.
template <class T, AssignmentStep<T> Assignment>
class MeansStep {
 public:
  MeansStep(const Comm& comm, RowBlocks<T>& rows, const KMeansOptions& options, const DataSummary& summary,
            const RowMatrix<T>* initial, Assignment& assignment, PhaseTimes& phases)
      : comm_(comm), rows_(rows), options_(options), summary_(summary), initial_(initial),
        assignment_(assignment), phases_(phases), sums_(options.k, summary.fixed) {}

  RowMatrix<T> seed(int restart) {
    return starting_centres(comm_, rows_, options_, summary_.fixed, initial_, restart, phases_);
  }
  void begin(const RowMatrix<T>* previous) { assignment_.begin(previous); }
  std::int64_t assign(const RowMatrix<T>& centres) { return assignment_.assign(centres, sums_); }
  double reduce(const Comm& comm, const RowMatrix<T>& centres, std::span<std::int64_t> counters) {
    sums_.allreduce(comm, counters);
    totals_ = &assignment_.reduced(sums_);
    return assignment_.inertia(comm, centres, *totals_);
  }
  void fill_empty_clusters(const Comm& comm, const RowMatrix<T>& centres) {
    if (relocate_empty_clusters(comm, rows_, assignment_.labels(), centres, summary_.fixed, *totals_, phases_,
                                relocation_passes_) > 0)
      assignment_.relocated();
  }
  double update(const RowMatrix<T>& centres, RowMatrix<T>& updated) {
    totals_->means(summary_.fixed, updated);
    return squared_shift(centres, updated);
  }
  double finish(const Comm& comm, const RowMatrix<T>& centres, bool current) {
    return assignment_.finish(comm, centres, current);
  }
  std::vector<std::int32_t>& labels() { return assignment_.labels(); }
  /// Passes over the rows to relocate empty clusters so far (every restart).
  int relocation_passes() const { return relocation_passes_; }

 private:
  const Comm& comm_;
  RowBlocks<T>& rows_;
  const KMeansOptions& options_;
  const DataSummary& summary_;
  const RowMatrix<T>* initial_;
  Assignment& assignment_;
  PhaseTimes& phases_;
  ClusterSums sums_;
  ClusterSums* totals_ = nullptr;
  int relocation_passes_ = 0;
};

// ------------------------------------------------------------------ seeding rows in blocks

// Collective over comm: distinct_random_rows / weighted_random_rows (selection.hpp) from the
// rows' global indices and weights alone — no row is read — with the keys kept per block: the
// same rows, drawn with O(count) memory.
template <class T>
std::vector<std::uint64_t> random_rows(const Comm& comm, const RowBlocks<T>& rows, std::size_t count,
                                       const CounterRng& rng, std::uint64_t stream) {
  constexpr double kNever = std::numeric_limits<double>::infinity();
  const bool weighted = rows.weighted();
  const std::span<const double> weights = rows.weights();
  const std::uint64_t first = rows.first_row();
  SmallestKeys smallest(count);
  std::vector<KeyIndex> keys;
  for (Eigen::Index i = 0; i < rows.local_rows(); ++i) {
    const std::uint64_t row = first + static_cast<std::uint64_t>(i);
    const double u = rng.uniform(stream, row);
    const double weight = weighted ? weights[static_cast<std::size_t>(i)] : 1.0;
    keys.push_back({!weighted ? u : weight > 0 ? -std::log1p(-u) / weight : kNever, row});
    if (keys.size() == RowSource<T>::kStreamBlock) {
      smallest.add(keys);
      keys.clear();
    }
  }
  smallest.add(keys);
  std::vector<std::uint64_t> indices;
  for (const KeyIndex& winner : comm.smallest(smallest.take(), count))
    if (!weighted || winner.key != kNever) indices.push_back(winner.index);
  return indices;
}

// Collective over comm: k-means|| (init.cpp kmeans_parallel) on rows read block by block: a
// pass per round, the drawn rows read by global index, the same centres as in memory.
// The streamed rows as the seedings read them (SeedingRows): blocks read from the file (timed
// as init, the reads as io), drawn and picked rows read by global index.
template <class T>
SeedingRows<T> streamed_seeding_rows(const Comm& comm, RowBlocks<T>& rows, const CounterRng& rng,
                                     PhaseTimes& phases) {
  SeedingRows<T> seeding;
  seeding.first_row = rows.first_row();
  seeding.local_rows = rows.local_rows();
  seeding.features = rows.features();
  seeding.weighted = rows.weighted();
  seeding.weights = rows.weights();
  seeding.for_each = [&rows, &phases](const typename SeedingRows<T>::Visit& visit) {
    rows.for_each(visit, &phases, &PhaseTimes::init);
  };
  seeding.draw = [&comm, &rows, &rng](std::size_t count, std::uint64_t stream) {
    return rows.fetch(comm, random_rows(comm, rows, count, rng, stream));
  };
  seeding.gather = [&comm, &rows](std::span<const Eigen::Index> positions) {
    std::vector<std::uint64_t> picked;
    picked.reserve(positions.size());
    for (const Eigen::Index i : positions) picked.push_back(rows.first_row() + static_cast<std::uint64_t>(i));
    return rows.fetch(comm, comm.allgatherv(std::span<const std::uint64_t>(picked)));
  };
  return seeding;
}

template <class T>
RowMatrix<T> streamed_kmeans_parallel(const Comm& comm, RowBlocks<T>& rows, const KMeansOptions& options,
                                      int restart, PhaseTimes& phases) {
  const CounterRng rng(options.seed);
  const SeedingRows<T> seeding = streamed_seeding_rows(comm, rows, rng, phases);
  RowMatrix<T> centres = kmeans_parallel(comm, seeding, options.k, options.seed, restart,
                                         {options.oversampling, options.init_rounds});
  // In memory, fewer candidates than k fall back to k-means++, which needs the rows in memory.
  if (centres.rows() != options.k)
    throw AgreedError("--stream: k-means|| drew fewer than k = " + std::to_string(options.k) +
                      " candidates (in memory it falls back to k-means++, which does not stream): use --init "
                      "forgy or random-partition, more --init-rounds or a larger --oversampling, or fit in memory");
  return centres;
}

// Collective over comm: the seeding of a streamed fit, rows read block by block: forgy (the
// drawn rows only), random-partition (one pass) and k-means|| (a pass per round), the same
// centres as initial_centres on the rows in memory.
template <class T>
RowMatrix<T> streamed_initial_centres(const Comm& comm, RowBlocks<T>& rows, const KMeansOptions& options,
                                      const FixedPoint& fixed, int restart, PhaseTimes& phases) {
  const CounterRng rng(options.seed);
  const int k = options.k;
  if (options.init == InitMethod::Forgy)
    return rows.fetch(comm, random_rows(comm, rows, static_cast<std::size_t>(k), rng, stream_id(Stream::Forgy, restart)));
  if (options.init == InitMethod::KMeansParallel) return streamed_kmeans_parallel(comm, rows, options, restart, phases);
  if (options.init != InitMethod::RandomPartition) throw AgreedError(std::string(kStreamedInitsMessage));
  return random_partition(comm, streamed_seeding_rows(comm, rows, rng, phases), k, options.seed, restart, fixed);
}

template <class T>
RowMatrix<T> starting_centres(const Comm& comm, RowBlocks<T>& rows, const KMeansOptions& options,
                              const FixedPoint& fixed, const RowMatrix<T>* initial, int restart, PhaseTimes& phases) {
  if (initial) return *initial;
  if (!rows.streamed()) return starting_centres(comm, *rows.shard(), options, fixed, initial, restart);
  return streamed_initial_centres(comm, rows, options, fixed, restart, phases);
}

// ------------------------------------------------------------------ the fit

template <class T>
LoopSettings prepare_fit(const Comm& comm, RowBlocks<T>& rows, const KMeansOptions& options,
                         const RowMatrix<T>* initial, DataSummary& summary, KMeansResult<T>& result) {
  if (!rows.streamed()) return prepare_dense_fit(comm, *rows.shard(), options, initial, summary, result);
  check_cluster_count(options.k, rows.global_rows());
  if (rows.weighted()) {
    std::int64_t positive = 0;
    for (const double weight : rows.weights()) positive += weight > 0;
    positive = comm.allreduce(positive, MPI_SUM);
    if (positive < options.k)
      throw AgreedError("k = " + std::to_string(options.k) + " exceeds the " + std::to_string(positive) +
                        " rows of positive sample weight");
  }
  if (initial) check_initial_centres(initial->rows(), initial->cols(), options.k, rows.features());
  if (!initial && options.init == InitMethod::KMeansPlusPlus) throw AgreedError(std::string(kStreamedInitsMessage));
  {
    PhaseClock clock(result.phases.init);
    summary = summarize_blocks<T>(
        comm,
        [&](const auto& visit) {
          rows.for_each([&](const DenseShard<T>& block, Eigen::Index) { visit(block); }, &result.phases,
                        &PhaseTimes::init);
        },
        rows.global_rows(), rows.features(), true, rows.weighted());
  }
  result.tol_absolute =
      options.tol_absolute >= 0 ? options.tol_absolute : options.tol * summary.mean_variance;
  return {initial ? 1 : std::max(options.n_init, 1), options.max_iter, result.tol_absolute, options.k,
          rows.features(), 0};
}

template <class T>
KMeansResult<T> fit_blocks(const Comm& comm, RowBlocks<T>& rows, const KMeansOptions& options,
                           const RowMatrix<T>* initial, const IterationObserver& observer,
                           const FitControl<T>& control) {
  const auto start = Clock::now();
  KMeansResult<T> result;
  DataSummary summary;
  const LoopSettings settings = prepare_fit(comm, rows, options, initial, summary, result);
  const Eigen::Index k = options.k, d = rows.features();
  result.algorithm = choose_algorithm(options.algorithm, k, d, rows.global_rows(), sizeof(T));
  if (result.algorithm == Algorithm::Lloyd) {
    FullStep<T> assignment(rows, k, summary, result.phases);
    MeansStep<T, FullStep<T>> step(comm, rows, options, summary, initial, assignment, result.phases);
    run_loop<T>(comm, step, settings, observer, control, start, result);
    result.relocation_passes = step.relocation_passes();
  } else {
    // Yinyang: groups of about ten centres (Ding et al.); Hamerly: one.
    const int groups = result.algorithm == Algorithm::Yinyang ? static_cast<int>(std::max<Eigen::Index>(k / 10, 1)) : 1;
    std::optional<BoundedStep<T>> assignment;
    {
      PhaseClock clock(result.phases.init);  // the spread of the inertia from sums: a pass
      assignment.emplace(comm, rows, k, groups, summary, result.phases);
    }
    MeansStep<T, BoundedStep<T>> step(comm, rows, options, summary, initial, *assignment, result.phases);
    run_loop<T>(comm, step, settings, observer, control, start, result);
    result.bound_bytes = assignment->bound_bytes();
    result.pruning = assignment->work();
    result.relocation_passes = step.relocation_passes();
  }
  return result;
}

}  // namespace

const char* const kStreamedInitsMessage =
    "--stream seeds with --init k-means||, forgy, random or random-partition, or given centres (--init FILE); "
    "k-means++ needs the rows in memory";

template <class T>
LoopSettings prepare_dense_fit(const Comm& comm, const DenseShard<T>& shard, const KMeansOptions& options,
                               const RowMatrix<T>* initial, DataSummary& summary, KMeansResult<T>& result) {
  check_cluster_count(options.k, shard.global_rows);
  check_weighted_rows(comm, shard, options.k);
  if (initial) check_initial_centres(initial->rows(), initial->cols(), options.k, shard.features());
  {
    PhaseClock clock(result.phases.init);
    summary = summarize(comm, shard);
  }
  result.tol_absolute =
      options.tol_absolute >= 0 ? options.tol_absolute : options.tol * summary.mean_variance;
  return {initial ? 1 : std::max(options.n_init, 1), options.max_iter, result.tol_absolute, options.k,
          shard.features(), 0};
}

template <class T>
RowMatrix<T> starting_centres(const Comm& comm, const DenseShard<T>& shard, const KMeansOptions& options,
                              const FixedPoint& fixed, const RowMatrix<T>* initial, int restart) {
  if (initial) return *initial;
  return initial_centres(comm, shard, options.init, options.k, options.seed, restart, fixed,
                         {options.oversampling, options.init_rounds});
}

template <class T>
KMeansResult<T> fit_kmeans(const Comm& comm, const DenseShard<T>& shard,
                           const KMeansOptions& options, const RowMatrix<T>* initial,
                           const IterationObserver& observer, const FitControl<T>& control) {
  RowBlocks<T> rows(shard);
  return fit_blocks(comm, rows, options, initial, observer, control);
}

template <class T>
KMeansResult<T> fit_kmeans(const Comm& comm, RowSource<T>& source, const KMeansOptions& options,
                           const RowMatrix<T>* initial, const IterationObserver& observer,
                           const FitControl<T>& control, StreamStats* stats) {
  RowBlocks<T> rows(source);
  KMeansResult<T> result = fit_blocks(comm, rows, options, initial, observer, control);
  if (stats) {
    stats->passes = rows.passes();
    stats->bytes_read = rows.bytes_read();
    stats->io_seconds = rows.io_seconds();
  }
  return result;
}

template <class T>
double predict_labels(const Comm& comm, const DenseShard<T>& shard, const RowMatrix<T>& centroids,
                      std::vector<std::int32_t>& labels) {
  const auto n_local = static_cast<std::size_t>(shard.local_rows());
  labels.assign(n_local, 0);
  std::vector<double> distances(n_local);
  Assigner<T> assigner(shard.features(), centroids.rows());
  assigner.assign(shard, centroids, labels, distances);
  return exact_total(comm, distances, shard.weights);  // weighted: scikit-learn's −score(X, sample_weight)
}

#define LLOYD_INSTANTIATE(T)                                                                   \
  template LoopSettings prepare_dense_fit(const Comm&, const DenseShard<T>&, const KMeansOptions&, \
                                          const RowMatrix<T>*, DataSummary&, KMeansResult<T>&);   \
  template RowMatrix<T> starting_centres(const Comm&, const DenseShard<T>&, const KMeansOptions&,  \
                                         const FixedPoint&, const RowMatrix<T>*, int);             \
  template KMeansResult<T> fit_kmeans(const Comm&, const DenseShard<T>&, const KMeansOptions&, \
                                      const RowMatrix<T>*, const IterationObserver&,           \
                                      const FitControl<T>&);                                   \
  template KMeansResult<T> fit_kmeans(const Comm&, RowSource<T>&, const KMeansOptions&,        \
                                      const RowMatrix<T>*, const IterationObserver&,           \
                                      const FitControl<T>&, StreamStats*);                     \
  template double predict_labels(const Comm&, const DenseShard<T>&, const RowMatrix<T>&,      \
                                 std::vector<std::int32_t>&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
