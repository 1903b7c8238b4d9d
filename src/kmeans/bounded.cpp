#include "lloyd/kmeans/bounded.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "lloyd/kmeans/assign.hpp"
#include "lloyd/simd/float_bits.hpp"
#include "lloyd/simd/kernels.hpp"

namespace lloyd {

Algorithm choose_algorithm(Algorithm requested, Eigen::Index k, Eigen::Index d) {
  if (requested != Algorithm::Auto) return requested;
  (void)d;
  // Two centres leave nothing for bounds to skip that the product does not do as fast.
  // Otherwise Hamerly, whatever d: measured on blobs with d = 2…256 and k = 4…256
  // (scripts/bench/bench_lloyd.py and 2M × 2 / 2M × 4 float32 blobs), its single bound paid
  // off every time, and Yinyang's group bounds (4 bytes per group per row, updated every
  // iteration) cost more than they saved, because the rows the bounds do not settle are
  // scored against every centre anyway.
  return k <= 2 ? Algorithm::Lloyd : Algorithm::Hamerly;
}

double loop_bytes_per_row(Algorithm algorithm, Eigen::Index k) {
  switch (algorithm) {
    case Algorithm::Lloyd: return 4;
    case Algorithm::Yinyang: return 4 + 4.0 * (1 + static_cast<double>(std::max<Eigen::Index>(k / 10, 1)));
    default: return 4 + 8;
  }
}

bool loop_state_within_budget(Algorithm algorithm, Eigen::Index k, Eigen::Index features, std::uint64_t rows,
                              std::size_t value_bytes) {
  const double n = static_cast<double>(rows);
  const double shard = n * static_cast<double>(features) * static_cast<double>(value_bytes);
  return loop_bytes_per_row(algorithm, k) * n <= kLoopMemoryShare * shard + kLoopMemoryAllowanceBytes;
}

Algorithm choose_algorithm(Algorithm requested, Eigen::Index k, Eigen::Index d, std::uint64_t rows,
                           std::size_t value_bytes) {
  const Algorithm chosen = choose_algorithm(requested, k, d);
  if (requested == Algorithm::Auto && chosen != Algorithm::Lloyd &&
      !loop_state_within_budget(chosen, k, d, rows, value_bytes))
    return Algorithm::Lloyd;
  return chosen;
}

std::string loop_memory_note(Algorithm requested, Eigen::Index k, Eigen::Index d, std::uint64_t rows,
                             std::size_t value_bytes) {
  const Algorithm preferred = choose_algorithm(requested, k, d);
  if (preferred == Algorithm::Lloyd || loop_state_within_budget(preferred, k, d, rows, value_bytes)) return "";
  char text[320];
  const double mib = (loop_bytes_per_row(preferred, k) - 4) * static_cast<double>(rows) / (1024.0 * 1024.0);
  std::snprintf(text, sizeof text,
                "%s: %s's bounds (%.0f MiB for all %llu rows) exceed the memory allowance of 15%% of the data + 24 MiB",
                requested == Algorithm::Auto ? "auto chose lloyd" : "over the allowance", to_string(preferred), mib,
                static_cast<unsigned long long>(rows));
  return text;
}

namespace {

constexpr float kInfinity = std::numeric_limits<float>::infinity();

// Bounds are floats rounded outwards (lloyd/simd/float_bits.hpp): round_up, round_down,
// kOutwardsUp / kOutwardsDown.
using simd::kOutwardsDown;
using simd::kOutwardsUp;
using simd::round_down;
using simd::round_up;

// Relative margin of squared_distance's rounding, on the distance (not squared): it sums d
// non-negative terms in double, so its relative error is below (d + 2) ε. A centre is
// skipped only when its lower bound exceeds the chosen distance by more than that, so
// skipped centres are strictly farther in squared_distance too — never a tie that the
// lower index should win.
double distance_margin(Eigen::Index d) {
  return 4.0 * static_cast<double>(d + 8) * std::numeric_limits<double>::epsilon();
}

}  // namespace

std::vector<int> group_centres(const RowMatrix<double>& centres, int groups) {
  const Eigen::Index k = centres.rows(), d = centres.cols();
  groups = std::clamp(groups, 1, static_cast<int>(k));
  std::vector<int> group(static_cast<std::size_t>(k), 0);
  if (groups == 1) return group;
  RowMatrix<double> means(groups, d);
  for (int g = 0; g < groups; ++g) means.row(g) = centres.row(g * k / groups);
  for (int iteration = 0; iteration < 5; ++iteration) {
    for (Eigen::Index c = 0; c < k; ++c) {
      double best = std::numeric_limits<double>::infinity();
      for (int g = 0; g < groups; ++g) {
        const double distance = squared_distance(centres.row(c).data(), means.row(g).data(), d);
        if (distance < best) {
          best = distance;
          group[static_cast<std::size_t>(c)] = g;
        }
      }
    }
    RowMatrix<double> sums = RowMatrix<double>::Zero(groups, d);
    std::vector<int> counts(static_cast<std::size_t>(groups), 0);
    for (Eigen::Index c = 0; c < k; ++c) {
      sums.row(group[static_cast<std::size_t>(c)]) += centres.row(c);
      ++counts[static_cast<std::size_t>(group[static_cast<std::size_t>(c)])];
    }
    for (int g = 0; g < groups; ++g)
      if (counts[static_cast<std::size_t>(g)] > 0) means.row(g) = sums.row(g) / counts[static_cast<std::size_t>(g)];
  }
  // Renumber the groups that kept members, in order.
  std::vector<int> renumber(static_cast<std::size_t>(groups), -1);
  int next = 0;
  for (int& g : group) {
    if (renumber[static_cast<std::size_t>(g)] < 0) renumber[static_cast<std::size_t>(g)] = next++;
    g = renumber[static_cast<std::size_t>(g)];
  }
  return group;
}

template <class T>
BoundedAssigner<T>::BoundedAssigner(Eigen::Index rows, Eigen::Index features,
                                    Eigen::Index clusters, int groups)
    : rows_(rows), features_(features), clusters_(clusters),
      requested_groups_(std::clamp(groups, 1, static_cast<int>(std::max<Eigen::Index>(clusters, 1)))),
      drift_(static_cast<std::size_t>(table_size(clusters)), 0.0f),
      half_gap_(static_cast<std::size_t>(table_size(clusters)), 0.0f),
      upper_(static_cast<std::size_t>(rows)) {
  reset();
}

template <class T>
void BoundedAssigner<T>::reset() {
  bounded_ = false;
  std::fill(upper_.begin(), upper_.end(), kInfinity);
  std::fill(lower_.begin(), lower_.end(), 0.0f);
}

template <class T>
void BoundedAssigner<T>::take_centres(const RowMatrix<T>& centroids) {
  const Eigen::Index k = clusters_, d = features_;
  const double margin = distance_margin(d);
  if (!have_centres_) {
    group_of_ = group_centres(centroids.template cast<double>(), requested_groups_);
    const int groups = *std::max_element(group_of_.begin(), group_of_.end()) + 1;
    members_.assign(static_cast<std::size_t>(groups), {});
    for (Eigen::Index c = 0; c < k; ++c)
      members_[static_cast<std::size_t>(group_of_[static_cast<std::size_t>(c)])].push_back(static_cast<int>(c));
    lower_.assign(static_cast<std::size_t>(rows_) * members_.size(), 0.0f);
    group_drift_.assign(members_.size(), 0.0f);
    have_centres_ = true;
  } else {
    std::fill(group_drift_.begin(), group_drift_.end(), 0.0f);
    fastest_ = -2;
    second_drift_ = 0;
    for (Eigen::Index c = 0; c < k; ++c) {
      const double moved = squared_distance(centres_.row(c).data(), centroids.row(c).data(), d);
      float& drift = drift_[static_cast<std::size_t>(c + 1)];
      drift = moved == 0 ? 0.0f : round_up(std::sqrt(moved) * (1 + margin));
      float& group = group_drift_[static_cast<std::size_t>(group_of_[static_cast<std::size_t>(c)])];
      if (drift > group) {
        second_drift_ = group;
        group = drift;
        fastest_ = static_cast<int>(c);
      } else {
        second_drift_ = std::max(second_drift_, drift);
      }
    }
  }
  centres_ = centroids;
  centre_norms_.resize(k);
  largest_norm_ = 0;
  for (Eigen::Index c = 0; c < k; ++c) {
    centre_norms_(c) = squared_norm(centres_.row(c).data(), d);
    largest_norm_ = std::max(largest_norm_, centre_norms_(c));
  }
  // Hamerly's second test: a row closer to its centre than half the gap to the nearest other
  // centre keeps it. With groups, their bounds do that work.
  if (members_.size() == 1) {
    for (Eigen::Index c = 0; c < k; ++c) {
      double nearest = std::numeric_limits<double>::infinity();
      for (Eigen::Index o = 0; o < k; ++o)
        if (o != c) nearest = std::min(nearest, squared_distance(centres_.row(c).data(), centres_.row(o).data(), d));
      half_gap_[static_cast<std::size_t>(c + 1)] = round_down(0.5 * std::sqrt(nearest) * (1 - margin));
    }
  }
}

// One assign call: its arguments, and what is fixed for all of its rows.
template <class T>
struct BoundedAssigner<T>::Pass {
  const DenseShard<T>& shard;  ///< the rows of this call (a block of the rank's rows)
  std::span<std::int32_t> labels;
  std::span<double> distances;
  float *upper, *lower;  ///< the bounds of the block's first row
  const Options& options;
  Eigen::Index d, k, padded_k;
  int groups;
  double margin, slack;
  // How a batch is scored: directly for small d (DirectScorer), otherwise by ScoreTiles, as
  // Assigner does.
  bool direct, tiled;
  // Hamerly with direct scores: the row's decision and its second-nearest score in one go.
  bool in_registers;
  // With fresh sums every row is added to its final label where that is decided (settled by
  // the bounds, by the tightening, or in a batch).
  bool fresh_sums;
  bool moves;  // only the rows that change label move between the sums
};

template <class T>
struct BoundedAssigner<T>::Swept {
  Eigen::Index first = 0, count = 0, listed = 0;  ///< rows [first, first + count), listed to tighten
  std::size_t slot = 0;                           ///< where they are listed in the list buffers
};

namespace {
constexpr Eigen::Index kBatch = 256;  // rows scored together when their bounds cannot settle them
}  // namespace

template <class T>
std::int64_t BoundedAssigner<T>::assign(const DenseShard<T>& shard, const RowMatrix<T>& centroids,
                                        std::span<std::int32_t> labels, std::span<double> distances,
                                        const Options& options) {
  begin_pass(centroids);
  const std::int64_t changed = assign_block(shard, 0, labels, distances, options);
  end_pass();
  return changed;
}

template <class T>
void BoundedAssigner<T>::begin_pass(const RowMatrix<T>& centroids) {
  take_centres(centroids);
  const ScoreKernel kernel = score_kernel<T>(features_);
  if (kernel == ScoreKernel::Direct) direct_.set(centres_, centre_norms_);
  else tiles_.set(centres_, centre_norms_);
  pass_work_ = {};
  pass_every_row_ = true;
}

template <class T>
void BoundedAssigner<T>::end_pass() {
  computed_every_row_ = pass_every_row_;
  bounded_ = true;
  work_ = pass_work_;
}

template <class T>
std::int64_t BoundedAssigner<T>::assign_block(const DenseShard<T>& shard, Eigen::Index offset,
                                              std::span<std::int32_t> labels, std::span<double> distances,
                                              const Options& options) {
  const Eigen::Index n = shard.local_rows(), d = features_, k = clusters_;
  if (offset < 0 || offset + n > rows_) throw std::logic_error("BoundedAssigner: a block beyond its rows");
  const int groups = static_cast<int>(members_.size());
  constexpr Eigen::Index kChunk = Assigner<T>::kChunk;
  const ScoreKernel kernel = score_kernel<T>(d);
  const bool direct = kernel == ScoreKernel::Direct;
  const Pass pass{shard, labels, distances, upper_.data() + offset,
                  lower_.data() + static_cast<std::size_t>(offset) * static_cast<std::size_t>(groups), options, d, k,
                  (k + kChunk - 1) / kChunk * kChunk, groups, distance_margin(d), Assigner<T>::slack(d), direct,
                  kernel == ScoreKernel::Tiles, direct && groups == 1, options.sums && options.fresh_sums,
                  options.sums && !options.fresh_sums};
  const int thread_count = threads();
  // Score rows hold whole panels of ScoreTiles (a multiple of kChunk), +inf beyond k.
  const Eigen::Index score_columns = ScoreTiles<T>::padded(k);
  while (static_cast<int>(spaces_.size()) < thread_count)
    spaces_.emplace_back(RowMatrix<T>::Constant(kBatch, score_columns, std::numeric_limits<T>::infinity()),
                         ClusterSums(k, d));
  // Each thread takes a contiguous range of rows and gathers the rows its bounds cannot
  // settle into full batches, so that the products stay large.
#ifdef _OPENMP
#pragma omp parallel num_threads(thread_count) if (thread_count > 1)
#endif
  {
    const int thread = thread_index();
    assign_range(pass, spaces_[static_cast<std::size_t>(thread)], n * thread / thread_count,
                 n * (thread + 1) / thread_count);
  }
  std::int64_t changed = 0;
  for (int t = 0; t < thread_count; ++t) {
    const Space& space = spaces_[static_cast<std::size_t>(t)];
    changed += space.changed;
    pass_work_ += space.work;
    pass_every_row_ = pass_every_row_ && space.every_row;
    if (options.sums) options.sums->merge(space.moves);
  }
  return changed;
}

// One thread's rows [begin, end): block by block, move the bounds (the rows they settle keep
// their label), tighten the others' upper bounds to their exact distance, and score the rows
// still unsettled in batches.
template <class T>
void BoundedAssigner<T>::assign_range(const Pass& pass, Space& space, Eigen::Index begin, Eigen::Index end) {
  if (pass.options.fixed) space.moves.reset(*pass.options.fixed);  // laid out for `fixed`
  else space.moves.reset();
  space.changed = 0;
  space.work = {};
  space.every_row = true;
  space.pending_count = 0;
  space.pending.resize(static_cast<std::size_t>(kBatch));
  space.listed.resize(static_cast<std::size_t>(2 * kBatch));  // two blocks: one swept, one tightened
  space.own.resize(static_cast<std::size_t>(kBatch));
  space.tightened.resize(static_cast<std::size_t>(kBatch));
  space.nearest_distance.resize(static_cast<std::size_t>(kBatch));
  space.other.resize(static_cast<std::size_t>(kBatch));
  space.chosen.resize(static_cast<std::size_t>(kBatch));
  space.upper.resize(static_cast<std::size_t>(kBatch));
  space.lower.resize(static_cast<std::size_t>(kBatch));
  space.settled.resize(static_cast<std::size_t>(2 * kBatch));
  space.found.resize(static_cast<std::size_t>(kBatch));
  space.second.resize(static_cast<std::size_t>(kBatch));
  space.norms.resize(static_cast<std::size_t>(kBatch));
  if (pass.tiled) space.tile = tiles_.workspace();
  // No bounds yet (the first assignment, or after a reset), Hamerly: every row goes
  // straight to the batches, with no bounds to move or test (measured: a fifth less time
  // for that pass at d = 8, k = 16; about the same at d = 32, k = 64). Not for an exact
  // pass, where the bounds still settle most rows (measured slower there).
  const bool batch_every_row = (pass.in_registers || pass.tiled) && !bounded_;
  if (batch_every_row) {
    for (Eigen::Index first = begin; first < end; first += kBatch) {
      const Eigen::Index count = std::min(end, first + kBatch) - first;
      for (Eigen::Index q = 0; q < count; ++q) space.pending[static_cast<std::size_t>(q)] = first + q;
      assign_batch(pass, space, count);
    }
    return;
  }
  // Block b's listed rows are fetched while block b + 1 is swept, then tightened: the
  // fetch of scattered rows overlaps the sweep (measured: the rows' cache misses were
  // most of an iteration's time once few rows are listed).
  std::size_t slot = 0;
  Swept previous;
  for (Eigen::Index first = begin; first < end; first += kBatch) {
    const Swept swept = move_bounds(pass, space, first, std::min(end, first + kBatch) - first, slot);
    if (swept.listed < swept.count)  // all listed: consecutive, the hardware fetches them
      for (Eigen::Index p = 0; p < swept.listed; ++p)
        prefetch(pass.shard.row(first + space.listed[swept.slot + static_cast<std::size_t>(p)]),
                 static_cast<std::size_t>(pass.d) * sizeof(T));
    if (previous.count > 0) tighten(pass, space, previous);
    previous = swept;
    slot ^= static_cast<std::size_t>(kBatch);
  }
  if (previous.count > 0) tighten(pass, space, previous);
  if (space.pending_count > 0) assign_batch(pass, space, space.pending_count);
}

// 1. The bound test: moves the bounds of rows [first, first + count) with the centres
//    (vectorised); the rows they settle keep their label, the others are listed (at `slot`
//    of the list buffers) with what their upper bounds must stay below. Hamerly's lower
//    bound moves by the largest drift of the *other* centres.
template <class T>
typename BoundedAssigner<T>::Swept BoundedAssigner<T>::move_bounds(const Pass& pass, Space& space,
                                                                   Eigen::Index first, Eigen::Index count,
                                                                   std::size_t slot) {
  const int groups = pass.groups;
  const bool exact = pass.options.exact_distances;
  const std::int32_t* label = pass.labels.data() + first;
  float* upper = pass.upper + first;
  float* lower = pass.lower + static_cast<std::size_t>(first) * static_cast<std::size_t>(groups);
  std::int32_t* listed_rows = space.listed.data() + slot;
  float* settled = space.settled.data() + slot;  // per listed row: what its upper bound must stay below
  // Indexed by label + 1: slot 0 (no label yet) moves nothing and settles nothing.
  const float* drift = drift_.data();
  const float* half_gap = half_gap_.data();
  const float* group_drift = group_drift_.data();
  Eigen::Index listed = 0;  // rows to tighten, listed while moving the bounds
  if (groups == 1) {
    // The kernel of the SIMD level in use (with AVX-512, sixteen rows per step and the open
    // rows compressed into the list); every level moves and lists the bounds alike.
    const simd::HamerlyShifts shifts{drift, half_gap, table_size(pass.k), fastest_, group_drift[0], second_drift_};
    listed = simd::kernels<T>().hamerly_sweep(shifts, label, count, exact, upper, lower, listed_rows, settled);
  } else {
    for (Eigen::Index q = 0; q < count; ++q) {
      float lowest = kInfinity;
      for (int g = 0; g < groups; ++g) {
        float& bound = lower[q * groups + g];
        bound = std::max(0.0f, (bound - group_drift[g]) * kOutwardsDown);
        lowest = std::min(lowest, bound);
      }
      upper[q] = (upper[q] + drift[label[q] + 1]) * kOutwardsUp;
      if (!(upper[q] < lowest) || exact) {
        settled[listed] = lowest;
        listed_rows[listed++] = static_cast<std::int32_t>(q);
      }
    }
  }
  if (pass.fresh_sums)  // the rows the bounds settle (those not listed), to their unchanged labels
    for (Eigen::Index q = 0, next = 0; q < count; ++q) {
      if (next < listed && listed_rows[next] == q) ++next;
      else space.moves.add(pass.labels[static_cast<std::size_t>(first + q)], pass.shard.row(first + q), *pass.options.fixed);
    }
  return Swept{first, count, listed, slot};
}

// 2. Tighten: the upper bound of each listed row becomes its exact distance, which may
//    settle it; the rest join the batch. The rows to read are scattered once most rows
//    settle: they were fetched while the next block was swept (assign_range).
template <class T>
void BoundedAssigner<T>::tighten(const Pass& pass, Space& space, const Swept& block) {
  const Eigen::Index first = block.first, listed = block.listed, d = pass.d;
  const std::int32_t* label = pass.labels.data() + first;
  float* upper = pass.upper + first;
  const std::int32_t* listed_rows = space.listed.data() + block.slot;
  const float* settled = space.settled.data() + block.slot;
  if (listed < block.count) space.every_row = false;
  // 2a. Each listed row's distance to its own centre, then all their tightened upper bounds
  //     at once (the kernel's square roots in vector registers), with no branch on the
  //     outcome: that is data, and a mispredicted branch per row cost more than the
  //     distance (measured at d = 8). 2b. The rows still unsettled join the batch.
  double* own = space.own.data();
  constexpr int kGroup = Assigner<T>::kDirectRows;
  Eigen::Index p = 0;
  // Small d: the distances of a group of listed rows at once (one row per register
  // lane). Every row has a label except in the first assignment (then none has).
  if (pass.direct && listed > 0 && label[listed_rows[0]] >= 0) {
    for (; p + kGroup <= listed; p += kGroup) {
      const std::int32_t* rows = listed_rows + p;
      std::int32_t offset[kGroup], centre[kGroup];
      for (int r = 0; r < kGroup; ++r) {
        offset[r] = static_cast<std::int32_t>((rows[r] - rows[0]) * d);
        centre[r] = label[rows[r]];
      }
      Assigner<T>::distances_direct(direct_, pass.shard.row(first + rows[0]), offset, kGroup, centre, own + p);
    }
  }
  for (; p < listed; ++p) {
    const Eigen::Index q = listed_rows[p];
    // Unlabelled (only in the first assignment: predictable): no distance, a value to round.
    own[p] = label[q] >= 0 ? squared_distance(pass.shard.row(first + q), centres_.row(label[q]).data(), d) : 0.0;
  }
  const float* tightened = space.tightened.data();
  simd::kernels<T>().round_bounds(own, own, listed, pass.margin, false, space.tightened.data(), nullptr);
  for (Eigen::Index p = 0; p < listed; ++p) {
    const Eigen::Index q = listed_rows[p];
    const Eigen::Index i = first + q;
    const bool labelled = label[q] >= 0;
    if (labelled) {  // the batch rewrites its rows' distances and bounds
      pass.distances[static_cast<std::size_t>(i)] = own[p];
      upper[q] = tightened[p];
      ++space.work.distances;
    }
    space.pending[static_cast<std::size_t>(space.pending_count)] = i;
    const bool settles = labelled && upper[q] < settled[p];
    space.pending_count += !settles;
    if (pass.fresh_sums && settles) space.moves.add(label[q], pass.shard.row(i), *pass.options.fixed);
    if (space.pending_count == kBatch) {
      assign_batch(pass, space, space.pending_count);
      space.pending_count = 0;
    }
  }
}

// 3. The batch: the rows in space.pending[0, count) that the bounds could not settle, scored
//    against every centre and decided exactly as Assigner does; their scores (less their
//    rounding error bound) give fresh lower bounds.
template <class T>
void BoundedAssigner<T>::assign_batch(const Pass& pass, Space& space, Eigen::Index count) {
  score_batch(pass, space, count);
  decide_batch(pass, space, count);
  update_bounds(pass, space, count);
  space.work += {.distances = count * pass.k, .rows_rescored = count};
}

// 3a. The scores ‖c‖² − 2x·c of the batch's rows (with in_registers, the decisions and
//     second-nearest scores of groups of rows instead: the scores are never stored).
template <class T>
void BoundedAssigner<T>::score_batch(const Pass& pass, Space& space, Eigen::Index count) {
  const DenseShard<T>& shard = pass.shard;
  const Eigen::Index d = pass.d;
  // The rows' norms, for the decisions: computed here rather than kept per row (t bytes per
  // row of memory), from the same function, so the same bits; only the rows scored need them.
  for (Eigen::Index p = 0; p < count; ++p)
    space.norms[static_cast<std::size_t>(p)] = squared_norm(shard.row(space.pending[static_cast<std::size_t>(p)]), d);
  if (pass.in_registers) {
    constexpr int kGroup = Assigner<T>::kDirectRows;
    for (Eigen::Index p = 0, members = 0; p < count; p += members) {
      const Eigen::Index* rows = space.pending.data() + p;
      members = std::min<Eigen::Index>(kGroup, count - p);
      // Offsets in values from the group's first row; rows too far apart for 32 bits go one by one.
      if ((rows[members - 1] - rows[0]) * d > std::numeric_limits<std::int32_t>::max()) members = 1;
      std::int32_t offset[kGroup];
      T norms[kGroup];
      for (int r = 0; r < members; ++r) {
        offset[r] = static_cast<std::int32_t>((rows[r] - rows[0]) * d);
        norms[r] = space.norms[static_cast<std::size_t>(p + r)];
      }
      Assigner<T>::nearest_direct_rows(direct_, shard.row(rows[0]), offset, static_cast<int>(members), centres_,
                                       largest_norm_, norms, space.found.data() + p, space.second.data() + p);
    }
  } else if (pass.direct) {
    for (Eigen::Index p = 0; p < count; ++p)
      direct_.scores(shard.row(space.pending[static_cast<std::size_t>(p)]), space.scores.row(p).data());
  } else {
    constexpr int kTileRows = ScoreTiles<T>::kRows;
    for (Eigen::Index p = 0; p < count; p += kTileRows) {
      const T* tile_rows[kTileRows];
      const int rows = static_cast<int>(std::min<Eigen::Index>(kTileRows, count - p));
      for (int r = 0; r < rows; ++r) tile_rows[r] = shard.row(space.pending[static_cast<std::size_t>(p + r)]);
      // The next tile's rows, while this one is computed (a tile is long enough work for
      // the out-of-order core not to reach them: measured ~20% of a first assignment at
      // d = 32, k = 64).
      for (Eigen::Index r = p + kTileRows; r < std::min(count, p + 2 * kTileRows); ++r)
        prefetch(shard.row(space.pending[static_cast<std::size_t>(r)]), static_cast<std::size_t>(d) * sizeof(T));
      tiles_.compute(tile_rows, rows, space.scores.row(p).data(), space.scores.cols(), space.tile);
    }
  }
}

// 3b. Per row of the batch: the decision, and the squared distance bound to the nearest
//     other centre (Hamerly) or each group's lower bound (Yinyang, written in place), less
//     the scores' rounding error.
template <class T>
void BoundedAssigner<T>::decide_batch(const Pass& pass, Space& space, Eigen::Index count) {
  const T infinity = std::numeric_limits<T>::infinity();
  const int groups = pass.groups;
  // sqrt(+inf) stays +inf below: no other centre, no bound.
  auto squared_bound = [&](T lowest, T row_norm) {
    const double error = pass.slack * (static_cast<double>(row_norm) + static_cast<double>(largest_norm_));
    return lowest == infinity ? std::numeric_limits<double>::infinity()
                              : std::max(0.0, static_cast<double>(lowest) + row_norm - error);
  };
  // Hamerly on tiles: the rows one centre clearly wins decided a tile at a time in the kernel
  // (ScoreTiles::decide, with their second-nearest scores: measured at d = 32, k = 64, the
  // row-by-row minima were a seventh of a Hamerly iteration); the others row by row below.
  constexpr int kTileRows = ScoreTiles<T>::kRows;
  // Per tile, a bit per row its kernel left undecided (all bits: none decided there).
  std::array<std::uint32_t, (kBatch + kTileRows - 1) / kTileRows> undecided_tiles;
  undecided_tiles.fill(~std::uint32_t{0});
  if (pass.tiled && groups == 1 && ScoreTiles<T>::decides()) {
    for (Eigen::Index p = 0; p < count; p += kTileRows) {
      const int rows = static_cast<int>(std::min<Eigen::Index>(kTileRows, count - p));
      const T* tile_rows[kTileRows];
      T second[kTileRows];
      for (int r = 0; r < rows; ++r) tile_rows[r] = pass.shard.row(space.pending[static_cast<std::size_t>(p + r)]);
      const std::uint32_t undecided = tiles_.decide(
          space.scores.row(p).data(), space.scores.cols(), pass.k, tile_rows, pass.slack, largest_norm_, rows,
          space.chosen.data() + p, space.nearest_distance.data() + p, space.norms.data() + p, second);
      for (int r = 0; r < rows; ++r)
        if (!(undecided >> r & 1u))
          space.other[static_cast<std::size_t>(p + r)] = squared_bound(second[r], space.norms[static_cast<std::size_t>(p + r)]);
      undecided_tiles[static_cast<std::size_t>(p / kTileRows)] = undecided;
    }
  }
  for (Eigen::Index p = 0; p < count; ++p) {
    if (!(undecided_tiles[static_cast<std::size_t>(p / kTileRows)] >> (p % kTileRows) & 1u))
      continue;  // decided in its tile
    const Eigen::Index i = space.pending[static_cast<std::size_t>(p)];
    const T* x = pass.shard.row(i);
    T* score = space.scores.row(p).data();
    const T row_norm = space.norms[static_cast<std::size_t>(p)];
    const auto [best, best_distance] = pass.in_registers ? space.found[static_cast<std::size_t>(p)]
                                                         : Assigner<T>::nearest(x, score, centres_, largest_norm_, row_norm);
    space.chosen[static_cast<std::size_t>(p)] = best;
    space.nearest_distance[static_cast<std::size_t>(p)] = best_distance;
    if (pass.in_registers) {
      space.other[static_cast<std::size_t>(p)] = squared_bound(space.second[static_cast<std::size_t>(p)], row_norm);
    } else if (groups == 1) {
      space.other[static_cast<std::size_t>(p)] = squared_bound(Assigner<T>::minimum_except(score, pass.padded_k, best), row_norm);
    } else {
      float* bounds = pass.lower + static_cast<std::size_t>(i) * static_cast<std::size_t>(groups);
      for (int g = 0; g < groups; ++g) {
        T lowest = infinity;
        for (const int c : members_[static_cast<std::size_t>(g)])
          if (c != best) lowest = std::min(lowest, score[c]);
        bounds[g] = round_down(std::sqrt(squared_bound(lowest, row_norm)) * (1 - pass.margin));
      }
    }
  }
}

// 4. The bound update: the batch's new bounds (all at once, square roots in vector
//    registers), distances and labels, and the sums of the rows that changed label.
template <class T>
void BoundedAssigner<T>::update_bounds(const Pass& pass, Space& space, Eigen::Index count) {
  const int groups = pass.groups;
  simd::kernels<T>().round_bounds(space.nearest_distance.data(), space.other.data(), count, pass.margin,
                                  groups == 1, space.upper.data(), space.lower.data());
  for (Eigen::Index p = 0; p < count; ++p) {
    const Eigen::Index i = space.pending[static_cast<std::size_t>(p)];
    const auto row = static_cast<std::size_t>(i);
    pass.upper[row] = space.upper[static_cast<std::size_t>(p)];
    if (groups == 1) pass.lower[row] = space.lower[static_cast<std::size_t>(p)];
    pass.distances[row] = space.nearest_distance[static_cast<std::size_t>(p)];
    const std::int32_t best = space.chosen[static_cast<std::size_t>(p)];
    const int old_label = pass.labels[row];
    if (best != old_label) {
      ++space.changed;
      pass.labels[row] = best;
      if (pass.moves) {
        const T* x = pass.shard.row(i);
        if (old_label >= 0) space.moves.subtract(old_label, x, *pass.options.fixed);
        space.moves.add(best, x, *pass.options.fixed);
      }
    }
    if (pass.fresh_sums) space.moves.add(best, pass.shard.row(i), *pass.options.fixed);
  }
}

template class BoundedAssigner<float>;
template class BoundedAssigner<double>;

}  // namespace lloyd
