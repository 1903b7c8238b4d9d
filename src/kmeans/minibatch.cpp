#include "lloyd/kmeans/minibatch.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <type_traits>

#include "lloyd/core/exact_sum.hpp"
#include "lloyd/kmeans/assign.hpp"
#include "lloyd/core/cluster_sums.hpp"
#include "lloyd/kmeans/engine.hpp"
#include "lloyd/kmeans/nearest.hpp"
#include "lloyd/kmeans/init.hpp"
#include "lloyd/kmeans/phase_clock.hpp"
#include "lloyd/kmeans/selection.hpp"
#include "lloyd/out_of_memory.hpp"
#include "lloyd/rng.hpp"

namespace lloyd {

namespace {

using Clock = std::chrono::steady_clock;

// `count` global row indices drawn uniformly with replacement from [0, n) on `stream`:
// this rank's ones, ascending, as the rows of a shard whose global numbering is the order
// of the whole draw sorted by row (so every rank's part is contiguous and the layout of a
// draw does not depend on the rank count).
struct Draw {
  std::vector<std::uint64_t> rows;  ///< this rank's drawn rows, ascending
  std::uint64_t first = 0;          ///< position of rows[0] in the sorted draw
};
Draw draw_rows(const CounterRng& rng, std::uint64_t stream, std::uint64_t count, std::uint64_t n,
               RowRange mine) {
  Draw draw;
  for (std::uint64_t b = 0; b < count; ++b) {
    const auto row = std::min(n - 1, static_cast<std::uint64_t>(rng.uniform(stream, b) * static_cast<double>(n)));
    if (row < mine.begin) ++draw.first;
    else if (row < mine.end) draw.rows.push_back(row);
  }
  std::sort(draw.rows.begin(), draw.rows.end());
  return draw;
}

// Loads this rank's rows of a draw into `out`. Collective over comm: a rank that cannot
// allocate or read them (a file read while streaming) stops every rank with its message.
template <class T>
void load_draw(const Comm& comm, RowSource<T>& source, const Draw& draw, std::uint64_t count,
               DenseShard<T>& out) {
  out.global_rows = count;
  out.first_row = draw.first;
  run_agreed(comm, [&] {
    allocating("the rank's " + std::to_string(draw.rows.size()) + " rows of a mini-batch",
               static_cast<double>(draw.rows.size()) * static_cast<double>(source.features()) * sizeof(T),
               [&] { out.rows.resize(static_cast<Eigen::Index>(draw.rows.size()), source.features()); });
    source.rows(draw.rows, out.rows.mutable_data());
    if (source.weighted()) out.weights = source.weights(draw.rows);
    out.has_weights = source.weighted();
  });
}

// scikit-learn's _mini_batch_step with random_reassign: centres whose count is below
// ratio × the largest (at most half a batch of them, smallest counts first; ties: lower
// centre) move to distinct random rows of the batch; their counts become the smallest count
// of the others. Returns the squared change of the moved centres. Collective over comm.
// With sample weights the counts are the absorbed weights and the rows are drawn uniformly
// from the batch all the same, as scikit-learn does.
template <class T, class Count>
double reassign_small_centres(const Comm& comm, const DenseShard<T>& batch, double ratio,
                              const CounterRng& rng, std::uint64_t step, RowMatrix<T>& centres,
                              std::vector<Count>& counts) {
  const Count largest = *std::max_element(counts.begin(), counts.end());
  std::vector<std::size_t> small;
  for (std::size_t c = 0; c < counts.size(); ++c)
    if (static_cast<double>(counts[c]) < ratio * static_cast<double>(largest)) small.push_back(c);
  const std::size_t most = batch.global_rows / 2;
  if (small.size() > most) {
    std::stable_sort(small.begin(), small.end(),
                     [&](std::size_t a, std::size_t b) { return counts[a] < counts[b]; });
    small.resize(most);
    std::sort(small.begin(), small.end());
  }
  if (small.empty()) return 0;
  const std::vector<std::uint64_t> positions = distinct_random_rows(
      comm, batch, small.size(), rng, stream_id(Stream::MiniBatchReassign, 0, step));
  const RowMatrix<T> rows = rows_as_matrix(comm, batch, positions);
  Count smallest_kept = largest;
  for (std::size_t c = 0; c < counts.size(); ++c)
    if (!std::binary_search(small.begin(), small.end(), c)) smallest_kept = std::min(smallest_kept, counts[c]);
  double change = 0;
  for (std::size_t q = 0; q < small.size(); ++q) {
    const auto c = static_cast<Eigen::Index>(small[q]);
    change += squared_distance(centres.row(c).data(), rows.row(static_cast<Eigen::Index>(q)).data(),
                               centres.cols());
    centres.row(c) = rows.row(static_cast<Eigen::Index>(q));
    counts[small[q]] = smallest_kept;
  }
  return change;
}

}  // namespace

namespace {

// A pass over the data (the seeding's cost, the final labels) a piece of at most kPassRows
// rows of a block at a time, as views of it (no copy), with the piece's sample weights (empty
// without): the labels and distances of the pass are held for one piece, not for the whole
// in-memory shard (12 bytes a row). A row's label and distance do not depend on the piece it
// is in. Collective over comm: every rank visits as many pieces of the block as the rank with
// the most (trailing ones empty), so `visit` may call collectives (the label sink writes).
constexpr auto kPassRows = static_cast<std::uint64_t>(kPassPieceRows);

template <class T, class Visit>
void for_each_piece(const Comm& comm, const DenseShard<T>& block, Visit&& visit) {
  const auto n = static_cast<std::uint64_t>(block.local_rows());
  const std::uint64_t pieces = comm.allreduce(std::max<std::uint64_t>((n + kPassRows - 1) / kPassRows, 1), MPI_MAX);
  if (pieces == 1) {
    visit(block, std::span<const double>(block.weights));
    return;
  }
  for (std::uint64_t p = 0; p < pieces; ++p) {
    const std::uint64_t at = std::min(p * kPassRows, n), count = std::min(kPassRows, n - at);
    const auto local = static_cast<Eigen::Index>(at);
    const DenseShard<T> piece = DenseShard<T>::view_of(block.rows.data() + local * block.features(),
                                                       static_cast<Eigen::Index>(count), block.features(),
                                                       block.global_rows, block.first_row + at);
    visit(piece, block.weighted() ? std::span<const double>(block.weights).subspan(at, count)
                                  : std::span<const double>());
  }
}

// Mini-batch K-Means' step: an iteration is one batch. Seeding on a sample (its own n_init
// trials, scikit-learn's init_size), the batch drawn per iteration (load), the batch's exact
// sums, the per-centre learning rate and scikit-learn's random reassignment as the update,
// and its own stopping rule (the smoothed batch inertia, the centre change when tol > 0).
// Its state beyond the centres: the per-centre counts, the rows since the last
// reassignment and the winning seeding trial; the smoothed inertia is replayed from the
// history on resume.
template <class T>
class MiniBatchStep {
 public:
  MiniBatchStep(const Comm& comm, RowSource<T>& source, const KMeansOptions& options,
                const MiniBatchOptions& batch, const DataSummary& summary, std::uint64_t batch_rows,
                std::uint64_t init_size, const LabelSink& sink)
      : comm_(comm), source_(source), options_(options), batch_(batch), summary_(summary),
        rng_(options.seed), mine_(source.local_range()), n_(source.global_rows()), B_(batch_rows),
        init_size_(init_size), sink_(sink),
        alpha_(std::min(1.0, 2.0 * static_cast<double>(batch_rows) / (static_cast<double>(source.global_rows()) + 1))),
        assigner_(source.features(), options.k), sums_(options.k, summary.fixed),
        means_(options.k, source.features()) {}

  // The seeding trials run on one sample; the loop itself runs one restart.
  RowMatrix<T> seed(int) {
    DenseShard<T> sample;
    load_draw(comm_, source_, draw_rows(rng_, stream_id(Stream::MiniBatchInit), init_size_, n_, mine_),
              init_size_, sample);
    if (sample.weighted()) {  // the seeding needs k rows of positive weight among the sample's
      std::int64_t positive = 0;
      for (const double weight : sample.weights) positive += weight > 0;
      positive = comm_.allreduce(positive, MPI_SUM);
      if (positive < options_.k)
        throw AgreedError("mini-batch: the seeding sample of " + std::to_string(init_size_) + " rows holds " +
                          std::to_string(positive) + " of positive sample weight, fewer than k = " +
                          std::to_string(options_.k) + "; raise --init-size");
    }
    RowMatrix<T> centres;
    double best = std::numeric_limits<double>::infinity();
    for (int trial = 0; trial < std::max(1, options_.n_init); ++trial) {
      RowMatrix<T> seeded = initial_centres(comm_, sample, options_.init, options_.k, options_.seed, trial,
                                            summary_.fixed, {options_.oversampling, options_.init_rounds});
      std::vector<std::int32_t> labels;
      const double inertia = predict_labels(comm_, sample, seeded, labels);
      if (inertia < best) {
        best = inertia;
        centres = std::move(seeded);
        best_trial_ = trial;
      }
    }
    return centres;
  }
  // The seeding's cost on the whole data (the first batch is a sample of it).
  double seeding_cost(const Comm& comm, const RowMatrix<T>& centres) {
    ExactSum inertia;
    std::vector<std::int32_t> labels;
    std::vector<double> distances;
    source_.for_each_block([&](const DenseShard<T>& block) {
      for_each_piece(comm, block, [&](const DenseShard<T>& piece, std::span<const double> weights) {
        labels.resize(static_cast<std::size_t>(piece.local_rows()));
        distances.resize(labels.size());
        assigner_.assign(piece, centres, labels, distances);
        inertia.add(distances, weights);
      });
    });
    inertia.allreduce(comm);
    return inertia.value();
  }
  void begin(const RowMatrix<T>* previous) {
    if (previous) return;  // resumed: restore() set the state
    counts_.assign(static_cast<std::size_t>(options_.k), 0);
    if (source_.weighted()) weight_counts_.assign(static_cast<std::size_t>(options_.k), 0.0);
    since_reassign_ = 0;
    ewa_ = 0;
    ewa_min_ = std::numeric_limits<double>::infinity();
    no_improvement_ = 0;
    ewa_history_.clear();
  }
  void load(std::int64_t iteration) {
    step_ = static_cast<std::uint64_t>(iteration);
    load_draw(comm_, source_, draw_rows(rng_, stream_id(Stream::MiniBatchDraw, 0, step_), B_, n_, mine_), B_, rows_);
  }
  std::int64_t assign(const RowMatrix<T>& centres) {
    labels_.resize(static_cast<std::size_t>(rows_.local_rows()));
    distances_.resize(labels_.size());
    sums_.reset();
    if (rows_.weighted()) {
      assigner_.assign(rows_, centres, labels_, distances_);
      add_weighted_rows(rows_, labels_, summary_.fixed, sums_);
      return 0;
    }
    assigner_.assign(rows_, centres, labels_, distances_, &sums_, &summary_.fixed);
    return 0;
  }
  // The mean squared distance of the batch's rows.
  double reduce(const Comm& comm, const RowMatrix<T>&, std::span<std::int64_t> counters) {
    sums_.allreduce(comm, counters);
    return exact_total(comm, distances_, rows_.weights) / static_cast<double>(B_);
  }
  // Centres without rows are handled by the random reassignment (update).
  void fill_empty_clusters(const Comm&, const RowMatrix<T>&) {}
  // Collective (the reassignment draws rows of the batch).
  double update(const RowMatrix<T>&, RowMatrix<T>& centres) {
    // scikit-learn's _random_reassign, decided before this step's update.
    since_reassign_ += B_;
    const bool weighted = source_.weighted();
    const bool reassign = batch_.reassignment_ratio > 0 &&
                          ((weighted ? std::find(weight_counts_.begin(), weight_counts_.end(), 0.0) != weight_counts_.end()
                                     : std::find(counts_.begin(), counts_.end(), 0) != counts_.end()) ||
                           since_reassign_ >= 10 * static_cast<std::uint64_t>(options_.k));
    if (reassign) since_reassign_ = 0;
    double shift = 0;
    sums_.means(summary_.fixed, means_);
    for (Eigen::Index c = 0; c < centres.rows(); ++c) {
      const std::int64_t added = sums_.count(c);
      if (added == 0) continue;
      std::int64_t& absorbed = counts_[static_cast<std::size_t>(c)];
      // With sample weights, scikit-learn's learning rate: the batch's weight of the centre
      // over all the weight it has absorbed (its weight_sums).
      double rate = static_cast<double>(added) / static_cast<double>(absorbed + added);
      absorbed += added;
      if (weighted) {
        double& absorbed_weight = weight_counts_[static_cast<std::size_t>(c)];
        const double batch_weight = sums_.weight(c);
        absorbed_weight += batch_weight;
        rate = batch_weight / absorbed_weight;
      }
      for (Eigen::Index j = 0; j < centres.cols(); ++j) {
        const double old = static_cast<double>(centres(c, j));
        const T updated = static_cast<T>(std::fma(means_(c, j) - old, rate, old));
        const double change = static_cast<double>(updated) - old;
        // As the -march=native build summed it (no result changed): float rows one fused
        // chain; double rows vectorised, each square rounded before its in-order addition.
        if constexpr (std::is_same_v<T, float>) shift = std::fma(change, change, shift);
        else shift += change * change;
        centres(c, j) = updated;
      }
    }
    if (reassign && weighted)
      shift += reassign_small_centres(comm_, rows_, batch_.reassignment_ratio, rng_, step_, centres, weight_counts_);
    else if (reassign)
      shift += reassign_small_centres(comm_, rows_, batch_.reassignment_ratio, rng_, step_, centres, counts_);
    return shift;
  }
  // scikit-learn's _mini_batch_convergence: the first step only starts the clock.
  Stop stop(const IterationReport& report) {
    if (!advance(report.iteration, report.inertia)) return Stop::Continue;
    if (options_.tol > 0 && report.shift <= report.tol) return Stop::Converged;
    if (ewa_ < ewa_min_) {
      no_improvement_ = 0;
      ewa_min_ = ewa_;
    } else {
      ++no_improvement_;
    }
    if (batch_.max_no_improvement > 0 && no_improvement_ >= batch_.max_no_improvement) return Stop::Converged;
    return Stop::Continue;
  }
  // Final labels of every row, block by block.
  double finish(const Comm& comm, const RowMatrix<T>& centres, bool) {
    ExactSum inertia;
    std::vector<std::int32_t> block_labels;
    std::vector<double> block_distances;
    final_labels_.clear();
    if (!sink_) final_labels_.reserve(source_.local_range().size());
    source_.for_each_block([&](const DenseShard<T>& block) {
      for_each_piece(comm, block, [&](const DenseShard<T>& piece, std::span<const double> weights) {
        const auto count = static_cast<std::size_t>(piece.local_rows());
        block_distances.resize(count);
        if (sink_) {
          block_labels.resize(count);
          assigner_.assign(piece, centres, block_labels, block_distances);
          sink_(piece.first_row, block_labels);
        } else {  // kept: written in place
          const std::size_t at = final_labels_.size();
          final_labels_.resize(at + count);
          assigner_.assign(piece, centres, std::span<std::int32_t>(final_labels_).subspan(at, count), block_distances);
        }
        inertia.add(block_distances, weights);
      });
    });
    inertia.allreduce(comm);
    return inertia.value();
  }
  std::vector<std::int32_t>& labels() { return final_labels_; }

  void save(FitState<T>& state) const {
    state.step_integers.assign(counts_.begin(), counts_.end());
    state.step_integers.push_back(static_cast<std::int64_t>(since_reassign_));
    state.step_integers.push_back(best_trial_);
    // Sample weights: the absorbed weights, as their bits (non-negative doubles: non-negative
    // integers).
    for (const double weight : weight_counts_) state.step_integers.push_back(std::bit_cast<std::int64_t>(weight));
  }
  void restore(const FitState<T>& state) {
    const auto k = static_cast<std::size_t>(options_.k);
    const std::vector<std::int64_t>& saved = state.step_integers;
    for (std::size_t c = 0; c < k; ++c)
      if (saved[c] < 0) throw AgreedError("checkpoint: a mini-batch count is negative");
    if (saved[k] < 0 || saved[k + 1] < 0 || saved[k + 1] >= std::max(1, options_.n_init))
      throw AgreedError("checkpoint: the mini-batch state is out of range");
    counts_.assign(saved.begin(), saved.begin() + static_cast<std::ptrdiff_t>(k));
    since_reassign_ = static_cast<std::uint64_t>(saved[k]);
    best_trial_ = static_cast<int>(saved[k + 1]);
    weight_counts_.clear();
    if (source_.weighted())
      for (std::size_t c = 0; c < k; ++c) {
        const auto weight = std::bit_cast<double>(saved[k + 2 + c]);
        if (!(std::isfinite(weight) && weight >= 0)) throw AgreedError("checkpoint: a mini-batch weight is out of range");
        weight_counts_.push_back(weight);
      }
    ewa_ = 0;
    ewa_min_ = std::numeric_limits<double>::infinity();
    no_improvement_ = 0;
    ewa_history_.clear();
    // The smoothed inertia and its best value follow from the history, as they were made.
    for (std::size_t s = 0; s < state.inertia_history.size(); ++s)
      if (advance(static_cast<std::int64_t>(s), state.inertia_history[s])) {
        if (ewa_ < ewa_min_) {
          no_improvement_ = 0;
          ewa_min_ = ewa_;
        } else {
          ++no_improvement_;
        }
      }
  }
  static std::size_t state_size(int k, bool weighted) {
    return static_cast<std::size_t>(k) * (weighted ? 2 : 1) + 2;
  }

  const std::vector<std::int64_t>& counts() const { return counts_; }
  const std::vector<double>& ewa_history() const { return ewa_history_; }
  int best_trial() const { return best_trial_; }

 private:
  // The smoothed batch inertia after step `iteration`; false for the first step.
  bool advance(std::int64_t iteration, double batch_inertia) {
    if (iteration == 0) return false;
    ewa_ = iteration == 1 ? batch_inertia : std::fma(ewa_, 1 - alpha_, batch_inertia * alpha_);
    ewa_history_.push_back(ewa_);
    return true;
  }

  const Comm& comm_;
  RowSource<T>& source_;
  const KMeansOptions& options_;
  const MiniBatchOptions& batch_;
  const DataSummary& summary_;
  const CounterRng rng_;
  const RowRange mine_;
  const std::uint64_t n_, B_, init_size_;
  const LabelSink& sink_;
  const double alpha_;
  Assigner<T> assigner_;
  ClusterSums sums_;
  RowMatrix<double> means_;
  DenseShard<T> rows_;
  std::vector<std::int32_t> labels_, final_labels_;
  std::vector<double> distances_;
  std::vector<std::int64_t> counts_;
  std::vector<double> weight_counts_;  ///< sample weights: the weight each centre absorbed (scikit-learn's weight_sums)
  std::uint64_t step_ = 0, since_reassign_ = 0;
  double ewa_ = 0, ewa_min_ = 0;
  int no_improvement_ = 0, best_trial_ = 0;
  std::vector<double> ewa_history_;
};

}  // namespace

template <class T>
MiniBatchResult<T> fit_minibatch(const Comm& comm, RowSource<T>& source,
                                 const KMeansOptions& options, const MiniBatchOptions& batch,
                                 const LabelSink& sink, const IterationObserver& observer,
                                 const FitControl<T>& control) {
  const auto start = Clock::now();
  const std::uint64_t n = source.global_rows();
  const Eigen::Index k = options.k;
  check_cluster_count(options.k, n);
  if (batch.batch_size < 1) throw AgreedError("the batch size must be at least 1");
  MiniBatchResult<T> result;
  // As scikit-learn's _batch_size: a batch is at most the whole data set, so a step costs at
  // most one pass over it, whatever batch size was asked for.
  const std::uint64_t B = std::min(batch.batch_size, n);
  result.batch_size = B;
  DataSummary summary;
  {
    PhaseClock clock(result.phases.init);
    summary = summarize_blocks<T>(
        comm, [&](const auto& visit) { source.for_each_block(visit); }, source.global_rows(), source.features(),
        options.tol > 0, source.weighted());
  }
  result.tol_absolute = options.tol * summary.mean_variance;
  // Seeding on a sample, as scikit-learn's init_size.
  std::uint64_t init_size = batch.init_size ? batch.init_size : 3 * B;
  if (init_size < static_cast<std::uint64_t>(k)) init_size = 3 * static_cast<std::uint64_t>(k);
  init_size = std::min(init_size, n);
  result.init_size = init_size;
  // scikit-learn's n_steps: max_iter counts passes over the data (epochs), so max_iter · n
  // rows are drawn at most, in whole batches (at least max_iter steps, as B ≤ n).
  const std::uint64_t max_steps =
      std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::max(options.max_iter, 0)) * n / B);
  const LoopSettings settings{1, static_cast<std::int64_t>(std::min<std::uint64_t>(max_steps, INT64_MAX)),
                              result.tol_absolute, k, source.features(),
                              MiniBatchStep<T>::state_size(options.k, source.weighted())};
  MiniBatchStep<T> step(comm, source, options, batch, summary, B, init_size, sink);
  run_loop<T>(comm, step, settings, observer, control, start, result);
  if (result.interrupted) return result;
  result.best_restart = step.best_trial();
  result.counts = step.counts();
  result.ewa_inertia_history = step.ewa_history();
  // scikit-learn's n_iter_: the passes over the data the steps amount to.
  result.n_steps = result.inertia_history.size();
  result.n_iter = static_cast<int>((result.n_steps * B + n - 1) / n);
  return result;
}

#define LLOYD_INSTANTIATE(T)                                                                  \
  template MiniBatchResult<T> fit_minibatch(const Comm&, RowSource<T>&, const KMeansOptions&, \
                                            const MiniBatchOptions&, const LabelSink&,       \
                                            const IterationObserver&, const FitControl<T>&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
