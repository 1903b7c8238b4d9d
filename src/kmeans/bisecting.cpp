#include "lloyd/kmeans/bisecting.hpp"

#include <algorithm>
#include <chrono>
#include <span>

#include "lloyd/core/exact_sum.hpp"
#include "lloyd/kmeans/assign.hpp"
#include "lloyd/core/cluster_sums.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/kmeans/phase_clock.hpp"
#include "lloyd/rng.hpp"

namespace lloyd {

namespace {

using Clock = std::chrono::steady_clock;

// A local row's place in NodeLayout: labels are int32 per row already, so a rank's rows
// number fewer than 2^31.
using Slot = std::int32_t;

// The local rows arranged so that every node's rows are contiguous, each node's in global row
// order: a node is a range of slots, and a split partitions its range stably (left child
// first). A node's rows are then a view of the shard itself (rows_of), numbered in global
// row order over all ranks as a copy of them would be — the same data set, bit for bit,
// whatever the rank layout — so the 2-means of a split needs no copy of the node's rows
// (which cost up to about a shard besides the shard). Per row: the local row in each slot
// (4 bytes), from the first split on (before it every row is in its own slot, the root); per
// split: the 2-means labels turned into each member's new slot — at the first split they
// become the layout itself, so that a fit holds at most the labels of one split besides it.
// The rows are moved in place in the shard's own memory, as init.cpp's ColumnGroups does:
// the shard is const to the caller and is the same bits again when this object goes (also
// when an exception leaves the fit); nothing else reads it meanwhile. A shard that views
// memory lloyd does not own (DenseShard::view_of) is never written: there only the slots are
// arranged, and a node's rows are gathered into a copy.
template <class T>
class NodeLayout {
 public:
  explicit NodeLayout(const DenseShard<T>& shard)
      : shard_(shard), in_place_(!shard.is_view()),
        data_(in_place_ ? const_cast<T*>(shard.rows.data()) : nullptr), d_(shard.features()),
        aside_(static_cast<std::size_t>(d_)), begin_{0}, end_{static_cast<Slot>(shard.local_rows())} {}
  ~NodeLayout() { restore(); }
  NodeLayout(const NodeLayout&) = delete;
  NodeLayout& operator=(const NodeLayout&) = delete;

  /// Collective over comm: the rows of `node` (not the root: that is the shard itself) as a
  /// shard of their own, numbered in global row order over all ranks — a view of the
  /// rearranged shard, or a copy where the shard is a view. Valid until the next split.
  DenseShard<T> rows_of(const Comm& comm, std::size_t node) const {
    const Slot first = begin_[node], count = end_[node] - first;
    DenseShard<T> part;
    if (in_place_) {
      part = DenseShard<T>::view_of(data_ + static_cast<std::ptrdiff_t>(first) * d_, count, d_, shard_.global_rows, 0);
    } else {
      part.rows.resize(count, d_);
      T* out = part.rows.mutable_data();
      for (Slot s = first; s < first + count; ++s)
        std::copy_n(shard_.row(row_in(s)), d_, out + static_cast<std::ptrdiff_t>(s - first) * d_);
    }
    part.has_weights = shard_.weighted();
    if (shard_.weighted())
      for (Slot s = first; s < first + count; ++s) part.weights.push_back(shard_.weight(row_in(s)));
    const std::int64_t mine = count;
    const std::vector<std::int64_t> counts = comm.allgatherv(std::span<const std::int64_t>(&mine, 1));
    part.global_rows = part.first_row = 0;
    for (int r = 0; r < comm.size(); ++r) {
      if (r < comm.rank()) part.first_row += static_cast<std::uint64_t>(counts[static_cast<std::size_t>(r)]);
      part.global_rows += static_cast<std::uint64_t>(counts[static_cast<std::size_t>(r)]);
    }
    return part;
  }

  /// Splits `node` into `left` (label 0) and `right` (label 1) by the labels of its rows in
  /// order; `labels` is used up (it becomes each row's new slot; at the first split it is
  /// taken as the layout).
  void split(std::size_t node, std::vector<std::int32_t>& labels, std::size_t left, std::size_t right) {
    const Slot first = begin_[node], last = end_[node];
    Slot lefts = 0;
    for (const std::int32_t label : labels) lefts += label == 0;
    Slot next_left = first, next_right = first + lefts;
    for (std::int32_t& label : labels) label = label == 0 ? next_left++ : next_right++;
    if (row_in_slot_.empty()) {  // the first split, the root's: the slots become the layout
      move_rows_inverting(labels);
      row_in_slot_ = std::move(labels);
    } else {
      move_rows(labels, first, true);
    }
    const std::size_t nodes = std::max(left, right) + 1;
    if (begin_.size() < nodes) {
      begin_.resize(nodes, 0);
      end_.resize(nodes, 0);
    }
    begin_[left] = first;
    end_[left] = begin_[right] = first + lefts;
    end_[right] = last;
  }

  /// Each local row's label: that of its leaf in `tree`.
  std::vector<std::int32_t> labels(const BisectingTree<T>& tree) const {
    std::vector<std::int32_t> labels(static_cast<std::size_t>(shard_.local_rows()));
    for (const std::size_t leaf : tree.leaves())
      for (Slot s = begin_[leaf]; s < end_[leaf]; ++s)
        labels[static_cast<std::size_t>(row_in(s))] = static_cast<std::int32_t>(tree.label[leaf]);
    return labels;
  }

  /// The rows back in the shard's own order (every node then forgotten but the root).
  void restore() noexcept {
    move_rows(row_in_slot_, 0, false);
    std::vector<Slot>().swap(row_in_slot_);  // every row in its own slot again
    begin_.resize(1);
    end_.resize(1);
  }

 private:
  // The local row in slot s.
  Slot row_in(Slot s) const { return row_in_slot_.empty() ? s : row_in_slot_[static_cast<std::size_t>(s)]; }
  // move_rows of the first split (every row in its own slot, `target` covering them all), with
  // no layout yet: target[i] becomes the local row now in slot i (target's inverse). The same
  // cycles as move_rows; a slot done holds ~row (negative) until the end.
  void move_rows_inverting(std::span<Slot> target) noexcept {
    const auto d = static_cast<std::size_t>(d_);
    auto row = [&](Slot s) { return data_ + static_cast<std::ptrdiff_t>(s) * d_; };
    for (std::size_t i = 0; i < target.size(); ++i) {
      const auto start = static_cast<Slot>(i);
      if (target[i] < 0) continue;  // done
      if (in_place_) std::copy_n(row(start), d, aside_.data());
      Slot from = start, at = target[i];
      while (at != start) {
        if (in_place_) std::swap_ranges(aside_.begin(), aside_.end(), row(at));
        const Slot next = target[static_cast<std::size_t>(at)];
        target[static_cast<std::size_t>(at)] = ~from;  // slot `at` now holds row `from`
        from = at;
        at = next;
      }
      if (in_place_) std::copy_n(aside_.data(), d, row(start));
      target[i] = ~from;
    }
    for (Slot& slot : target) slot = ~slot;
  }

  // Moves the row in slot first + i to slot target[i], for every i (a permutation of
  // [first, first + target.size())), one cycle at a time with one row set aside; each
  // target[i] becomes first + i. `with_rows_in_slots`: row_in_slot_ moves along (unless it is
  // `target` itself).
  void move_rows(std::span<Slot> target, Slot first, bool with_rows_in_slots) noexcept {
    const auto d = static_cast<std::size_t>(d_);
    auto row = [&](Slot s) { return data_ + static_cast<std::ptrdiff_t>(s) * d_; };
    for (std::size_t i = 0; i < target.size(); ++i) {
      const Slot start = first + static_cast<Slot>(i);
      if (target[i] == start) continue;
      if (in_place_) std::copy_n(row(start), d, aside_.data());
      Slot row_aside = with_rows_in_slots ? row_in_slot_[static_cast<std::size_t>(start)] : 0;
      Slot at = target[i];
      target[i] = start;
      while (at != start) {
        if (in_place_) std::swap_ranges(aside_.begin(), aside_.end(), row(at));
        if (with_rows_in_slots) std::swap(row_aside, row_in_slot_[static_cast<std::size_t>(at)]);
        const Slot next = target[static_cast<std::size_t>(at - first)];
        target[static_cast<std::size_t>(at - first)] = at;
        at = next;
      }
      if (in_place_) std::copy_n(aside_.data(), d, row(start));
      if (with_rows_in_slots) row_in_slot_[static_cast<std::size_t>(start)] = row_aside;
    }
  }

  const DenseShard<T>& shard_;
  bool in_place_;
  T* data_;
  Eigen::Index d_;
  std::vector<Slot> row_in_slot_;  ///< empty: every row in its own slot (before the first split)
  std::vector<T> aside_;           ///< one row, while a cycle of moves runs
  std::vector<Slot> begin_, end_;  ///< each node's slots
};

// The leaf to split: the largest score, ties to the first leaf in depth-first order (as
// scikit-learn); leaves of one row cannot be split.
template <class T>
std::size_t leaf_to_split(const BisectingTree<T>& tree, BisectingStrategy strategy) {
  auto score = [&](std::size_t leaf) {
    return strategy == BisectingStrategy::BiggestInertia ? tree.inertia[leaf]
                                                         : static_cast<double>(tree.size[leaf]);
  };
  std::size_t best = tree.nodes();  // none yet
  for (const std::size_t leaf : tree.leaves())
    if (tree.size[leaf] >= 2 && (best == tree.nodes() || score(leaf) > score(best))) best = leaf;
  return best;
}

template <class T>
std::size_t add_node(BisectingTree<T>& tree, std::int64_t parent, const T* centre,
                     std::int64_t size, double inertia) {
  const std::size_t node = tree.nodes();
  tree.parent.push_back(parent);
  tree.left.push_back(-1);
  tree.right.push_back(-1);
  tree.label.push_back(-1);
  tree.size.push_back(size);
  tree.inertia.push_back(inertia);
  tree.centres.conservativeResize(static_cast<Eigen::Index>(node + 1), tree.centres.cols());
  std::copy_n(centre, tree.centres.cols(), tree.centres.row(static_cast<Eigen::Index>(node)).data());
  return node;
}

// Σ over leaves of their inertia, in depth-first order (the same bits on every rank).
template <class T>
double leaf_inertia(const BisectingTree<T>& tree) {
  double total = 0;
  for (const std::size_t leaf : tree.leaves()) total += tree.inertia[leaf];
  return total;
}

// Per-group exact sums of the squared distance of every row to its group's centre, and
// the group sizes; groups[i] < 0 leaves row i out. Collective over comm. With sample weights
// the sums are weighted (scikit-learn's _inertia_per_cluster) and the sizes count the rows of
// positive weight (a leaf of fewer than two of them cannot be split).
template <class T>
void group_totals(const Comm& comm, const DenseShard<T>& shard, std::span<const std::int32_t> groups,
                  const RowMatrix<T>& centres, std::vector<double>& inertia,
                  std::vector<std::int64_t>& sizes) {
  const auto g = static_cast<std::size_t>(centres.rows());
  std::vector<ExactSum> sums(g);
  sizes.assign(g, 0);
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
    const std::int32_t c = groups[static_cast<std::size_t>(i)];
    if (c < 0) continue;
    const double distance = squared_distance(shard.row(i), centres.row(c).data(), shard.features());
    if (!shard.weighted()) {
      sums[static_cast<std::size_t>(c)].add(distance);
      ++sizes[static_cast<std::size_t>(c)];
      continue;
    }
    const double weight = shard.weight(i);
    if (weight == 0) continue;
    const WeightedProduct term = weighted_product(weight, distance);
    sums[static_cast<std::size_t>(c)].add(term.product);
    sums[static_cast<std::size_t>(c)].add(term.error);
    ++sizes[static_cast<std::size_t>(c)];
  }
  ExactSum::allreduce(sums, comm);
  comm.allreduce(std::span<std::int64_t>(sizes), MPI_SUM);
  inertia.resize(g);
  for (std::size_t c = 0; c < g; ++c) inertia[c] = sums[c].value();
}

// The tree of a checkpoint: per node (parent, left, right, size) in outer_integers, its
// inertia in outer_reals and its centre in outer_centres.
template <class T>
void save_tree(const BisectingTree<T>& tree, FitState<T>& state) {
  state.outer_integers.clear();
  for (std::size_t node = 0; node < tree.nodes(); ++node)
    for (const std::int64_t value : {tree.parent[node], tree.left[node], tree.right[node], tree.size[node]})
      state.outer_integers.push_back(value);
  state.outer_reals = tree.inertia;
  state.outer_centres = tree.centres;
}

// The tree of a checkpoint, checked: nodes 2j + 1 and 2j + 2 are the children of the leaf
// that split j divided, and fewer than k − 1 splits are done.
template <class T>
BisectingTree<T> restore_tree(const FitState<T>& state, int k) {
  const std::size_t nodes = state.outer_reals.size();
  auto problem = [](const std::string& what) { return AgreedError("checkpoint: the bisecting tree " + what); };
  if (nodes % 2 != 1 || state.outer_integers.size() != 4 * nodes ||
      static_cast<std::size_t>(state.outer_centres.rows()) != nodes)
    throw problem("has inconsistent lengths");
  if ((nodes - 1) / 2 + 1 >= static_cast<std::size_t>(k)) throw problem("holds too many splits for this k");
  BisectingTree<T> tree;
  tree.centres = state.outer_centres;
  tree.inertia = state.outer_reals;
  for (std::size_t node = 0; node < nodes; ++node) {
    tree.parent.push_back(state.outer_integers[4 * node]);
    tree.left.push_back(state.outer_integers[4 * node + 1]);
    tree.right.push_back(state.outer_integers[4 * node + 2]);
    tree.size.push_back(state.outer_integers[4 * node + 3]);
    tree.label.push_back(-1);
    if (tree.size.back() < 0 || !(tree.inertia.back() >= 0)) throw problem("has a negative size or inertia");
  }
  if (tree.parent[0] != -1) throw problem("has no root");
  for (std::size_t split = 0; 2 * split + 2 < nodes; ++split) {
    const auto left = static_cast<std::int64_t>(2 * split + 1), right = left + 1;
    const std::int64_t parent = tree.parent[static_cast<std::size_t>(left)];
    if (parent < 0 || parent >= left || tree.parent[static_cast<std::size_t>(right)] != parent ||
        tree.left[static_cast<std::size_t>(parent)] != left || tree.right[static_cast<std::size_t>(parent)] != right)
      throw problem("split " + std::to_string(split + 1) + " is not a split of a leaf");
  }
  for (std::size_t node = 0; node < nodes; ++node)
    if ((tree.left[node] < 0) != (tree.right[node] < 0) || tree.left[node] >= static_cast<std::int64_t>(nodes))
      throw problem("has a node with one child");
  return tree;
}

}  // namespace

template <class T>
BisectingResult<T> fit_bisecting(const Comm& comm, const DenseShard<T>& shard,
                                 const KMeansOptions& options, BisectingStrategy strategy,
                                 const SplitObserver& observer, const FitControl<T>& control) {
  const auto start = Clock::now();
  check_cluster_count(options.k, shard.global_rows);
  check_weighted_rows(comm, shard, options.k);
  if (options.init == InitMethod::Explicit)
    throw AgreedError("bisecting mode seeds each split itself: explicit initial centres do not apply");
  const Eigen::Index d = shard.features();
  const auto n_local = static_cast<std::size_t>(shard.local_rows());
  BisectingResult<T> result;

  // The root: every row, centred on the mean.
  const DataSummary summary = summarize(comm, shard);
  result.tol_absolute = options.tol * summary.mean_variance;
  {
    // (With sample weights the weighted mean: the one-cluster fit.)
    ClusterSums total(1, summary.fixed);
    if (total.weighted()) add_weighted_rows(shard, std::vector<std::int32_t>(n_local, 0), summary.fixed, total);
    else
      for (Eigen::Index i = 0; i < shard.local_rows(); ++i) total.add(0, shard.row(i), summary.fixed);
    total.allreduce(comm);
    RowMatrix<T> mean = RowMatrix<T>::Zero(1, d);
    total.means(summary.fixed, mean);
    std::vector<double> inertia;
    std::vector<std::int64_t> sizes;
    group_totals(comm, shard, std::vector<std::int32_t>(n_local, 0), mean, inertia, sizes);
    result.tree.centres.resize(0, d);
    add_node(result.tree, -1, mean.data(), sizes[0], inertia[0]);
  }
  result.inertia_history.push_back(leaf_inertia(result.tree));

  NodeLayout<T> layout(shard);
  auto rows_of = [&](std::size_t node, DenseShard<T>& part) -> const DenseShard<T>& {
    // The root holds every row in its own order: the shard itself.
    if (node == 0) return shard;
    part = layout.rows_of(comm, node);
    return part;
  };

  // Resuming: the tree of the splits done, and every row's leaf assigned again split by
  // split (the 2-means labels are the assignment to its final centres).
  std::optional<FitState<T>> resumed;
  if (control.load)
    resumed = control.load({std::max(options.n_init, 1), options.max_iter, 0, 2, d, 0});
  int first_split = 0;
  if (resumed) {
    BisectingTree<T> tree = restore_tree(*resumed, options.k);
    tree.centres.row(0) = result.tree.centres.row(0);  // the root is the data's own
    for (std::size_t split = 0; 2 * split + 2 < tree.nodes(); ++split) {
      const std::size_t left = 2 * split + 1, right = left + 1;
      const auto parent = static_cast<std::size_t>(tree.parent[left]);
      DenseShard<T> copy;
      const DenseShard<T>& part = rows_of(parent, copy);
      RowMatrix<T> halves(2, d);
      halves.row(0) = tree.centres.row(static_cast<Eigen::Index>(left));
      halves.row(1) = tree.centres.row(static_cast<Eigen::Index>(right));
      std::vector<std::int32_t> labels;
      predict_labels(comm, part, halves, labels);
      std::int64_t counts[2] = {0, 0};
      for (std::size_t m = 0; m < labels.size(); ++m)
        if (part.weight(static_cast<Eigen::Index>(m)) > 0) ++counts[labels[m]];  // as group_totals
      layout.split(parent, labels, left, right);
      comm.allreduce(std::span<std::int64_t>(counts, 2), MPI_SUM);
      if (counts[0] != tree.size[left] || counts[1] != tree.size[right])
        throw AgreedError("checkpoint: the bisecting tree does not fit the data (split " +
                          std::to_string(split + 1) + ")");
      BisectingTree<T> partial = tree;  // the history: the leaves after each split
      for (std::size_t node = 0; node < tree.nodes(); ++node)
        if (partial.left[node] > static_cast<std::int64_t>(right)) partial.left[node] = partial.right[node] = -1;
      partial.parent.resize(right + 1);
      partial.left.resize(right + 1);
      partial.right.resize(right + 1);
      partial.inertia.resize(right + 1);
      result.inertia_history.push_back(leaf_inertia(partial));
      ++first_split;
    }
    if (tree.size[0] != result.tree.size[0] || tree.inertia[0] != result.tree.inertia[0])
      throw AgreedError("checkpoint: the bisecting tree's root does not fit the data");
    result.tree = std::move(tree);
  }
  result.phases.init = std::chrono::duration<double>(Clock::now() - start).count();

  const CounterRng rng(options.seed);
  for (int split = first_split; split + 1 < options.k; ++split) {
    BisectingTree<T>& tree = result.tree;
    const std::size_t node = leaf_to_split(tree, strategy);
    const auto parent = static_cast<std::int64_t>(node);
    DenseShard<T> copy;
    const DenseShard<T>& part = rows_of(node, copy);

    KMeansOptions two = options;
    two.k = 2;
    two.tol = 0;
    two.tol_absolute = result.tol_absolute;  // scikit-learn: the tolerance of the whole data
    two.seed = rng.bits(stream_id(Stream::BisectingSplit, 0, static_cast<std::uint64_t>(split)), 0)[0];
    // The 2-means checkpoints carry the tree of the splits done.
    FitControl<T> inner;
    if (control.save) {
      inner.stop_requested = control.stop_requested;
      inner.checkpoint_every = control.checkpoint_every;
      inner.save = [&](const FitState<T>& state) {
        FitState<T> whole = state;
        save_tree(tree, whole);
        control.save(whole);
      };
    }
    if (resumed && split == first_split) inner.resume = &*resumed;
    KMeansResult<T> halves = fit_kmeans<T>(comm, part, two, nullptr, {}, inner);
    result.phases.init += halves.phases.init;
    result.phases.assign += halves.phases.assign;
    result.phases.reduce += halves.phases.reduce;
    result.phases.update += halves.phases.update;
    result.phases.checkpoint += halves.phases.checkpoint;
    if (halves.interrupted) {
      result.interrupted = true;
      return result;
    }

    std::vector<double> inertia;
    std::vector<std::int64_t> sizes;
    group_totals(comm, part, halves.labels, halves.centroids, inertia, sizes);
    const std::size_t left = add_node(tree, parent, halves.centroids.row(0).data(), sizes[0], inertia[0]);
    const std::size_t right = add_node(tree, parent, halves.centroids.row(1).data(), sizes[1], inertia[1]);
    tree.left[node] = static_cast<std::int64_t>(left);
    tree.right[node] = static_cast<std::int64_t>(right);
    layout.split(node, halves.labels, left, right);
    result.inertia_history.push_back(leaf_inertia(tree));
    if (observer)
      observer({split + 1, parent, tree.size[node], result.inertia_history.back(), halves.n_iter,
                std::chrono::duration<double>(Clock::now() - start).count()});
    // Between splits: a stop request saves the tree and a fresh 2-means.
    if (split + 2 < options.k && control.save &&
        comm.allreduce(control.stop_requested && control.stop_requested() ? 1 : 0, MPI_MAX) > 0) {
      PhaseClock clock(result.phases.checkpoint);
      FitState<T> next;
      next.centroids = next.previous_centroids = next.best_centroids = RowMatrix<T>(0, d);
      save_tree(tree, next);
      control.save(next);
      result.interrupted = true;
      return result;
    }
  }

  // Leaves are the clusters, numbered depth-first.
  BisectingTree<T>& tree = result.tree;
  const std::vector<std::size_t> leaves = tree.leaves();
  result.centroids.resize(static_cast<Eigen::Index>(leaves.size()), d);
  for (std::size_t c = 0; c < leaves.size(); ++c) {
    tree.label[leaves[c]] = static_cast<std::int64_t>(c);
    result.centroids.row(static_cast<Eigen::Index>(c)) = tree.centres.row(static_cast<Eigen::Index>(leaves[c]));
  }
  result.labels = layout.labels(tree);
  layout.restore();  // the shard's own order again, for the final sums
  std::vector<double> inertia;
  std::vector<std::int64_t> sizes;
  group_totals(comm, shard, result.labels, result.centroids, inertia, sizes);
  ExactSum total;
  for (const double value : inertia) total.add(value);
  result.inertia = total.value();
  return result;
}

template <class T>
double predict_tree(const Comm& comm, const DenseShard<T>& shard, const BisectingTree<T>& tree,
                    std::vector<std::int32_t>& labels) {
  labels.resize(static_cast<std::size_t>(shard.local_rows()));
  ExactSum total;
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
    const std::size_t leaf = tree.descend(shard.row(i));
    labels[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(tree.label[leaf]);
    const double distance =
        squared_distance(shard.row(i), tree.centres.row(static_cast<Eigen::Index>(leaf)).data(), shard.features());
    if (!shard.weighted()) {
      total.add(distance);
      continue;
    }
    const WeightedProduct term = weighted_product(shard.weight(i), distance);  // sample weights
    total.add(term.product);
    total.add(term.error);
  }
  total.allreduce(comm);
  return total.value();
}

#define LLOYD_INSTANTIATE(T)                                                                  \
  template BisectingResult<T> fit_bisecting(const Comm&, const DenseShard<T>&,                \
                                            const KMeansOptions&, BisectingStrategy,         \
                                            const SplitObserver&, const FitControl<T>&);     \
  template double predict_tree(const Comm&, const DenseShard<T>&, const BisectingTree<T>&,    \
                               std::vector<std::int32_t>&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
