#include "lloyd/kmeans/minibatch.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "lloyd/exact_sum.hpp"
#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/cluster_sums.hpp"
#include "lloyd/kmeans/init.hpp"
#include "lloyd/kmeans/phase_clock.hpp"
#include "lloyd/kmeans/selection.hpp"
#include "lloyd/out_of_memory.hpp"
#include "lloyd/rng.hpp"

namespace lloyd {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

template <class T>
class ShardSource final : public RowSource<T> {
 public:
  explicit ShardSource(const DenseShard<T>& shard) : shard_(shard) {}
  std::uint64_t global_rows() const override { return shard_.global_rows; }
  RowRange local_range() const override {
    return {shard_.first_row, shard_.first_row + static_cast<std::uint64_t>(shard_.local_rows())};
  }
  Eigen::Index features() const override { return shard_.features(); }
  void rows(std::span<const std::uint64_t> sorted, T* out) override {
    const auto d = static_cast<std::size_t>(shard_.features());
    for (std::size_t q = 0; q < sorted.size(); ++q)
      std::copy_n(shard_.row(static_cast<Eigen::Index>(sorted[q] - shard_.first_row)), d, out + q * d);
  }
  void for_each_block(const std::function<void(const DenseShard<T>&)>& visit) override { visit(shard_); }

 private:
  const DenseShard<T>& shard_;
};

template <class T>
class StreamedSource final : public RowSource<T> {
 public:
  StreamedSource(const Comm& comm, const DatasetRef& ref, const MatrixShape& shape)
      : shape_(shape), range_(block_rows(shape.rows, comm.size(), comm.rank())) {
    run_agreed(comm, [&] { reader_.emplace(ref, shape); });
    // Every rank visits as many blocks as the rank with the most.
    for (int r = 0; r < comm.size(); ++r)
      rounds_ = std::max(rounds_, blocks_of(block_rows(shape.rows, comm.size(), r)));
    comm_ = &comm;
  }
  std::uint64_t global_rows() const override { return shape_.rows; }
  RowRange local_range() const override { return range_; }
  Eigen::Index features() const override { return static_cast<Eigen::Index>(shape_.cols); }
  void rows(std::span<const std::uint64_t> sorted, T* out) override { reader_->read_rows(sorted, out); }
  void for_each_block(const std::function<void(const DenseShard<T>&)>& visit) override {
    const std::uint64_t B = RowSource<T>::kStreamBlock;
    DenseShard<T> block;
    block.global_rows = shape_.rows;
    std::uint64_t next = range_.begin;
    for (std::uint64_t round = 0; round < rounds_; ++round) {
      const std::uint64_t end = std::min(range_.end, (next / B + 1) * B);
      const std::uint64_t count = next < range_.end ? end - next : 0;
      block.first_row = count ? next : range_.end;
      block.rows.resize(static_cast<Eigen::Index>(count), features());
      run_agreed(*comm_, [&] { reader_->read_block(next, count, block.rows.data()); });
      visit(block);
      next += count;
    }
  }

 private:
  static std::uint64_t blocks_of(RowRange range) {
    const std::uint64_t B = RowSource<T>::kStreamBlock;
    return range.size() == 0 ? 0 : (range.end - 1) / B - range.begin / B + 1;
  }
  MatrixShape shape_;
  RowRange range_;
  std::optional<RowReader<T>> reader_;
  std::uint64_t rounds_ = 0;
  const Comm* comm_ = nullptr;
};

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
    source.rows(draw.rows, out.rows.data());
  });
}

// scikit-learn's _mini_batch_step with random_reassign: centres whose count is below
// ratio × the largest (at most half a batch of them, smallest counts first; ties: lower
// centre) move to distinct random rows of the batch; their counts become the smallest count
// of the others. Returns the squared change of the moved centres. Collective over comm.
template <class T>
double reassign_small_centres(const Comm& comm, const DenseShard<T>& batch, double ratio,
                              const CounterRng& rng, std::uint64_t step, RowMatrix<T>& centres,
                              std::vector<std::int64_t>& counts) {
  const std::int64_t largest = *std::max_element(counts.begin(), counts.end());
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
  std::int64_t smallest_kept = largest;
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

double exact_total(const Comm& comm, std::span<const double> values) {
  ExactSum sum;
  for (const double v : values) sum.add(v);
  sum.allreduce(comm);
  return sum.value();
}

}  // namespace

template <class T>
std::unique_ptr<RowSource<T>> shard_source(const DenseShard<T>& shard) {
  return std::make_unique<ShardSource<T>>(shard);
}

template <class T>
std::unique_ptr<RowSource<T>> streamed_source(const Comm& comm, const DatasetRef& ref,
                                              const MatrixShape& shape) {
  return std::make_unique<StreamedSource<T>>(comm, ref, shape);
}

template <class T>
DataSummary summarize_blocks(const Comm& comm, RowSource<T>& source, bool need_variance) {
  const Eigen::Index d = source.features();
  FeatureRange range(static_cast<std::size_t>(d));
  source.for_each_block([&](const DenseShard<T>& block) {
    range.add_rows(block.rows.data(), static_cast<std::size_t>(block.local_rows()));
  });
  range.allreduce(comm);
  DataSummary summary{FixedPoint(range), 0.0, {}};
  if (!need_variance) return summary;
  // As summarize(): the mean from exact sums, then Σ‖x − mean‖² as one exact sum.
  ClusterSums total(1, summary.fixed);
  source.for_each_block([&](const DenseShard<T>& block) {
    for (Eigen::Index i = 0; i < block.local_rows(); ++i) total.add(0, block.row(i), summary.fixed);
  });
  total.allreduce(comm);
  RowMatrix<double> mean = RowMatrix<double>::Zero(1, d);
  total.means(summary.fixed, mean);
  summary.mean.assign(mean.data(), mean.data() + d);
  ExactSum squares;
  source.for_each_block([&](const DenseShard<T>& block) {
    for (Eigen::Index i = 0; i < block.local_rows(); ++i)
      squares.add(squared_distance(block.row(i), mean.data(), d));
  });
  squares.allreduce(comm);
  summary.mean_variance =
      squares.value() / (static_cast<double>(source.global_rows()) * static_cast<double>(d));
  return summary;
}

template <class T>
MiniBatchResult<T> fit_minibatch(const Comm& comm, RowSource<T>& source,
                                 const KMeansOptions& options, const MiniBatchOptions& batch,
                                 const LabelSink& sink, const IterationObserver& observer) {
  const auto start = Clock::now();
  const std::uint64_t n = source.global_rows();
  const Eigen::Index d = source.features(), k = options.k;
  if (options.k < 1 || static_cast<std::uint64_t>(options.k) > n)
    throw AgreedError("k = " + std::to_string(options.k) + " must be between 1 and the number of rows (" +
                      std::to_string(n) + ")");
  if (batch.batch_size < 1) throw AgreedError("the batch size must be at least 1");
  MiniBatchResult<T> result;
  // As scikit-learn's _batch_size: a batch is at most the whole data set, so a step costs at
  // most one pass over it, whatever batch size was asked for.
  const std::uint64_t B = std::min(batch.batch_size, n);
  result.batch_size = B;
  PhaseTimes& phases = result.phases;
  // Runs `work` with its time added to `phase`.
  auto timed = [](double& phase, auto&& work) {
    PhaseClock clock(phase);
    work();
  };
  DataSummary summary;
  timed(phases.init, [&] { summary = summarize_blocks(comm, source, options.tol > 0); });
  result.tol_absolute = options.tol * summary.mean_variance;
  const CounterRng rng(options.seed);
  const RowRange mine = source.local_range();

  // Seeding on a sample, as scikit-learn's init_size.
  std::uint64_t init_size = batch.init_size ? batch.init_size : 3 * B;
  if (init_size < static_cast<std::uint64_t>(k)) init_size = 3 * static_cast<std::uint64_t>(k);
  init_size = std::min(init_size, n);
  result.init_size = init_size;
  RowMatrix<T> centres;
  timed(phases.init, [&] {
    DenseShard<T> sample;
    load_draw(comm, source, draw_rows(rng, stream_id(Stream::MiniBatchInit), init_size, n, mine),
              init_size, sample);
    double best = std::numeric_limits<double>::infinity();
    for (int restart = 0; restart < std::max(1, options.n_init); ++restart) {
      RowMatrix<T> seeded = initial_centres(comm, sample, options.init, options.k, options.seed,
                                            restart, summary.fixed,
                                            {options.oversampling, options.init_rounds});
      std::vector<std::int32_t> labels;
      const double inertia = predict_labels(comm, sample, seeded, labels);
      if (inertia < best) {
        best = inertia;
        centres = std::move(seeded);
        result.best_restart = restart;
      }
    }
    result.init_inertia = best;
  });

  // scikit-learn's n_steps: max_iter counts passes over the data (epochs), so max_iter · n
  // rows are drawn at most, in whole batches (at least max_iter steps, as B ≤ n).
  const std::uint64_t max_steps =
      std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::max(options.max_iter, 0)) * n / B);
  const double alpha = std::min(1.0, 2.0 * static_cast<double>(B) / (static_cast<double>(n) + 1));
  result.counts.assign(static_cast<std::size_t>(k), 0);
  Assigner<T> assigner(d, k);
  ClusterSums sums(k, summary.fixed);
  DenseShard<T> rows;
  std::vector<std::int32_t> labels;
  std::vector<double> distances;
  RowMatrix<double> means(k, d);
  double ewa = 0, ewa_min = std::numeric_limits<double>::infinity();
  std::uint64_t since_reassign = 0;  // rows seen since the last reassignment
  int no_improvement = 0;
  for (std::uint64_t step = 0; step < max_steps; ++step) {
    timed(phases.io, [&] {
      load_draw(comm, source, draw_rows(rng, stream_id(Stream::MiniBatchDraw, 0, step), B, n, mine), B, rows);
    });
    double batch_inertia = 0;
    timed(phases.assign, [&] {
      labels.resize(static_cast<std::size_t>(rows.local_rows()));
      distances.resize(labels.size());
      sums.reset();
      assigner.assign(rows, centres, labels, distances, &sums, &summary.fixed);
    });
    timed(phases.reduce, [&] {
      sums.allreduce(comm);
      batch_inertia = exact_total(comm, distances);
    });
    double shift = 0;
    // scikit-learn's _random_reassign, decided before this step's update.
    since_reassign += B;
    const bool reassign =
        batch.reassignment_ratio > 0 &&
        (std::find(result.counts.begin(), result.counts.end(), 0) != result.counts.end() ||
         since_reassign >= 10 * static_cast<std::uint64_t>(k));
    if (reassign) since_reassign = 0;
    timed(phases.update, [&] {
      sums.means(summary.fixed, means);
      for (Eigen::Index c = 0; c < k; ++c) {
        const std::int64_t added = sums.count(c);
        if (added == 0) continue;
        std::int64_t& absorbed = result.counts[static_cast<std::size_t>(c)];
        const double rate = static_cast<double>(added) / static_cast<double>(absorbed + added);
        absorbed += added;
        for (Eigen::Index j = 0; j < d; ++j) {
          const double old = static_cast<double>(centres(c, j));
          const T updated = static_cast<T>(old + (means(c, j) - old) * rate);
          const double change = static_cast<double>(updated) - old;
          shift += change * change;
          centres(c, j) = updated;
        }
      }
      if (reassign)
        shift += reassign_small_centres(comm, rows, batch.reassignment_ratio, rng, step, centres,
                                        result.counts);
    });
    result.n_steps = step + 1;
    result.inertia_history.push_back(batch_inertia / static_cast<double>(B));
    result.center_shift_history.push_back(shift);
    if (observer)
      observer({0, static_cast<int>(step + 1), batch_inertia / static_cast<double>(B), shift, 0,
                seconds_since(start), 1, static_cast<int>(std::min<std::uint64_t>(max_steps, INT32_MAX))});
    // scikit-learn's _mini_batch_convergence: the first step only starts the clock.
    if (step == 0) continue;
    ewa = step == 1 ? batch_inertia / static_cast<double>(B)
                    : ewa * (1 - alpha) + batch_inertia / static_cast<double>(B) * alpha;
    result.ewa_inertia_history.push_back(ewa);
    if (options.tol > 0 && shift <= result.tol_absolute) {
      result.converged = true;
      break;
    }
    if (ewa < ewa_min) {
      no_improvement = 0;
      ewa_min = ewa;
    } else {
      ++no_improvement;
    }
    if (batch.max_no_improvement > 0 && no_improvement >= batch.max_no_improvement) {
      result.converged = true;
      break;
    }
  }
  // scikit-learn's n_iter_: the passes over the data the steps amount to.
  result.n_iter = static_cast<int>((result.n_steps * B + n - 1) / n);

  // Final labels of every row, block by block.
  timed(phases.assign, [&] {
    ExactSum inertia;
    std::vector<std::int32_t> block_labels;
    std::vector<double> block_distances;
    source.for_each_block([&](const DenseShard<T>& block) {
      block_labels.resize(static_cast<std::size_t>(block.local_rows()));
      block_distances.resize(block_labels.size());
      assigner.assign(block, centres, block_labels, block_distances);
      for (const double v : block_distances) inertia.add(v);
      if (sink) sink(block.first_row, block_labels);
      else result.labels.insert(result.labels.end(), block_labels.begin(), block_labels.end());
    });
    inertia.allreduce(comm);
    result.inertia = inertia.value();
  });
  result.centroids = std::move(centres);
  result.restart_inertia = {result.inertia};
  return result;
}

#define LLOYD_INSTANTIATE(T)                                                                  \
  template std::unique_ptr<RowSource<T>> shard_source(const DenseShard<T>&);                 \
  template std::unique_ptr<RowSource<T>> streamed_source(const Comm&, const DatasetRef&,     \
                                                         const MatrixShape&);                \
  template DataSummary summarize_blocks(const Comm&, RowSource<T>&, bool);                   \
  template MiniBatchResult<T> fit_minibatch(const Comm&, RowSource<T>&, const KMeansOptions&, \
                                            const MiniBatchOptions&, const LabelSink&,       \
                                            const IterationObserver&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
