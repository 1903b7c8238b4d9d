#include "lloyd/kmeans/init.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <type_traits>

#include "lloyd/kmeans/assign.hpp"
#include "lloyd/core/cluster_sums.hpp"
#include "lloyd/kmeans/selection.hpp"
#include "lloyd/rng.hpp"
#include "lloyd/simd/kernels.hpp"

namespace lloyd {

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
// uniform integers in [0, total) — drawn from the counter RNG, the same on every rank, and
// scaled to the total (scaled_draw), so that rounding the data differently (float32 and
// float64) moves the draws only slightly and picks the same rows — pick the rows whose
// cumulative weight first exceeds them. Only the owner of a draw scans
// its rows (one pass over the weights, no random numbers per row). Returns global row
// indices; KeyIndex::none().index where every weight is 0 (every row sits on a centre).
// `local_total`, where given, receives this rank's Σ of the fixed-point weights (a k-means++
// step's potential before any candidate: the same terms as Kernels::seed_fold_lanes' base).
// Collective over comm.
template <class W>
std::vector<std::uint64_t> sample_by_weight(const Comm& comm, std::uint64_t first_row,
                                            const std::vector<W>& weights, double largest,
                                            int count, const CounterRng& rng,
                                            std::uint64_t stream, Int128* local_total = nullptr) {
  // The weights are squared distances of accepted values (value_range.hpp): finite. Should
  // anything else reach here, no integer conversion may overflow: a non-finite `largest`
  // (the same on every rank) is refused by all ranks together, and each weight is clamped
  // to [0, largest] (NaN: 0) before its conversion, so every term stays below 2^52.
  if (!std::isfinite(largest))
    throw AgreedError("k-means++: a squared distance overflowed (values beyond the accepted range?)");
  const double bound[1] = {largest};
  const FixedPoint scale(bound);
  const double factor = 1.0 / scale.to_double(1, 0);  // 2^shift: exact
  const simd::Kernels<W>& kernels = simd::kernels<W>();
  // The weights summed per block of rows first (Kernels::seed_weight_sums, vectorised where
  // the level has a packed double → int64 conversion; kBlock terms below 2^52 fit an int64),
  // so that finding a draw scans one block, not every row before it (measured: the two
  // scalar passes were a third of a k-means++ step).
  constexpr std::size_t kBlock = 1024;
  std::vector<std::int64_t> block_sums((weights.size() + kBlock - 1) / kBlock, 0);
  kernels.seed_weight_sums(weights.data(), static_cast<std::ptrdiff_t>(weights.size()), largest, factor,
                           static_cast<std::ptrdiff_t>(kBlock), block_sums.data());
  Int128 local = 0;
  for (const std::int64_t sum : block_sums) local += sum;
  if (local_total) *local_total = local;
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
    const auto draw = static_cast<Int128>(
        scaled_draw(rng.bits(stream, static_cast<std::uint64_t>(t))[0], static_cast<UInt128>(total)));
    if (draw >= offset && draw < offset + local) owned.emplace_back(draw - offset, t);
  }
  std::sort(owned.begin(), owned.end());
  Int128 cumulative = 0;
  std::size_t next = 0;
  for (std::size_t b = 0; b < block_sums.size() && next < owned.size(); ++b) {
    if (owned[next].first >= cumulative + block_sums[b]) {  // no draw falls in this block
      cumulative += block_sums[b];
      continue;
    }
    const std::size_t end = std::min(weights.size(), (b + 1) * kBlock);
    for (std::size_t i = b * kBlock; i < end && next < owned.size(); ++i) {
      std::int64_t term = 0;  // the weight's term of seed_weight_sums
      kernels.seed_weight_sums(&weights[i], 1, largest, factor, 1, &term);
      cumulative += term;
      while (next < owned.size() && owned[next].first < cumulative)
        chosen[static_cast<std::size_t>(owned[next++].second)] = first_row + i;
    }
  }
  comm.allreduce(std::span<std::uint64_t>(chosen), MPI_MIN);
  return chosen;
}

// Rows [first, second) of the shard as a k-means++ step reads them (at most kSeedBlockRows).
using RowRange = std::pair<Eigen::Index, Eigen::Index>;

// One thread's part of a k-means++ step: per candidate, its potential over the rows read and
// the largest min(D², d²); the fixed-point Σ D² of the rows read (read_base: what those rows
// add to the potential before any candidate); the rows some candidate comes closer to and
// their distances (stride each), up to `capacity` rows — beyond, only the ranges of rows
// that were not all kept, whose distances to the chosen candidate move_closer computes again
// (keeping them all held about 2× the shard at the first steps, where most rows come closer).
template <class T>
struct Closer {
  std::vector<Int128> potential;
  std::vector<double> largest;
  Int128 read_base = 0;
  std::vector<Eigen::Index> rows;
  std::vector<T> distances;
  std::vector<Eigen::Index> overflowed;  ///< the step's ranges (their numbers) with rows not kept
  std::size_t capacity = 0;
  std::vector<T> columns;  ///< scratch: a register's worth of rows as columns
  std::vector<std::ptrdiff_t> kept_rows;  ///< scratch: Kernels::seed_fold_lanes' kept rows
  std::vector<T> kept_distances;          ///< scratch: and their distances

  void start(std::size_t stride, std::size_t rows_kept_at_most) {
    potential.assign(stride, 0);
    largest.assign(stride, 0.0);
    read_base = 0;
    rows.clear();
    distances.clear();
    overflowed.clear();
    capacity = rows_kept_at_most;
    // Reserved whole (memory is touched only as rows are kept): grown by push_back, the
    // vectors could hold up to twice `capacity` (and a copy of it while growing) — measured
    // at 8M × 32 on 2 ranks, 58 MiB per rank for a 30.5 MiB budget.
    rows.reserve(capacity);
    distances.reserve(capacity * stride);
  }
  /// Keeps row i (of range number `range`) and its distances to the candidates (stride).
  void keep(Eigen::Index i, const T* distance, std::size_t stride, Eigen::Index range) {
    if (rows.size() >= capacity) {
      if (overflowed.empty() || overflowed.back() != range) overflowed.push_back(range);
      return;
    }
    rows.push_back(i);
    distances.insert(distances.end(), distance, distance + stride);
  }
};

// Rows per block of a k-means++ step (terms below 2^52: 1024 of them fit an int64).
constexpr Eigen::Index kSeedBlockRows = 1024;
// The candidates' distances a k-means++ step keeps, over all threads: bounded scratch.
template <class T>
std::size_t kept_rows_per_thread(const DenseShard<T>& shard, std::size_t stride) {
  const double shard_bytes = static_cast<double>(shard.local_rows()) * static_cast<double>(shard.features()) * sizeof(T);
  const double budget = std::max(4.0 * (1 << 20), shard_bytes / 16);
  const double per_row = sizeof(Eigen::Index) + static_cast<double>(stride) * sizeof(T);
  return static_cast<std::size_t>(budget / per_row / threads()) + 1;
}

// The triangle inequality's bounds as a k-means++ step reads them (see TriangleBounds and
// simd::SeedBlock): labels nullptr for none.
template <class T>
struct Pruning {
  const std::int32_t* labels = nullptr;
  const T* bounds = nullptr;
  std::ptrdiff_t bound_stride = 0;
  const T* any_bound = nullptr;
  /// Whether local row i is proven no closer to any candidate than its D².
  bool skips(Eigen::Index i, T current) const {
    return labels && current <= any_bound[labels[i]];
  }
};

// Which rows a candidate cannot come closer to, by the triangle inequality (Raff, "Exact
// Acceleration of K-Means++ and K-Means||", IJCAI 2021): a row at distance D from its nearest
// centre c_j cannot be closer to a candidate x than D when ‖x − c_j‖ ≥ 2D. Exact here means
// the same bits: the picks compare computed distances, so a row is skipped only where the
// computed d² is proven ≥ the stored D² — the margins below bound the rounding of the GEMM
// form ‖x‖² + ‖c‖² − 2x·c (d products summed in T, any order: at most
// e(c) = (2d + 8)·ε_T·(‖x‖ + ‖c‖)², with ‖x‖ ≤ the rows' largest norm). With C = ‖x − c_j‖
// (a lower bound of it), e_t and e_j the margins of the candidate and the centre:
// D ≤ √(D̃² + e_j) and (C − D)² − e_t ≥ D² + e_j hold when D̃² ≤ ((C² − e_t − e_j) / 2C)² − e_j:
// that is the limit of (candidate, centre). Shared by k-means++ (TriangleBounds) and k-means||.
template <class T>
class TriangleMargins {
 public:
  /// `largest`: the largest computed squared norm of the rows that may be skipped.
  TriangleMargins(double largest, Eigen::Index features) : features_(features) {
    const double epsilon = std::numeric_limits<T>::epsilon();
    // The computed norms may be below the true ones by their own rounding.
    largest_norm_ = std::sqrt(largest * (1 + (static_cast<double>(features) + 2) * epsilon)) * (1 + 1e-12);
    kappa_ = (2.0 * static_cast<double>(features) + 8) * epsilon;
  }
  /// At least ‖point‖ (summed in double).
  double length(const T* point) const {
    double norm = 0;
    for (Eigen::Index j = 0; j < features_; ++j) norm += static_cast<double>(point[j]) * static_cast<double>(point[j]);
    return std::sqrt(norm) * (1 + 1e-12);
  }
  /// e of a centre or candidate of length `length`: the rounding of its GEMM-form distances.
  double margin(double length) const { return rounding(largest_norm_ + length); }
  /// The rounding of the GEMM-form distance of two points of these lengths.
  double rounding(double lengths) const { return kappa_ * lengths * lengths * (1 + 1e-12); }
  /// The limit of (candidate, centre): a row of the centre with computed D̃² ≤ it is proven
  /// no closer to the candidate (computed d² ≥ D̃²); −inf for none. `between`: at most the
  /// squared distance of candidate and centre.
  static double limit(double between, double candidate_margin, double centre_margin) {
    if (!(between > 0)) return -std::numeric_limits<double>::infinity();
    const double reach = (between - candidate_margin - centre_margin) / (2 * std::sqrt(between));
    if (!(reach > 0)) return -std::numeric_limits<double>::infinity();
    return (reach * reach - centre_margin) * (1 - 1e-12);
  }

 private:
  Eigen::Index features_;
  double largest_norm_ = 0, kappa_ = 0;
};

// The triangle inequality's bounds of a k-means++ step's candidates (TriangleMargins): per
// candidate and chosen centre, the largest D² in T of a row of that centre proven no closer.
template <class T>
class TriangleBounds {
 public:
  /// Disabled (`enabled` false): no bounds, every row read (the picks are the same).
  /// `largest`: the largest squared_norm of the rank's `rows` rows.
  TriangleBounds(Eigen::Index rows, double largest, Eigen::Index features, int k, bool enabled)
      : enabled_(enabled), features_(features), k_(k), margins_(largest, features),
        labels_(enabled ? static_cast<std::size_t>(rows) : 0, 0),
        bounds_(static_cast<std::size_t>(std::max(8, 2 + static_cast<int>(std::log(k)))) * static_cast<std::size_t>(k)),
        any_bound_(static_cast<std::size_t>(k)) {}
  /// Each row's nearest chosen centre (the one its D² was computed against); nullptr when
  /// disabled.
  std::int32_t* labels() { return enabled_ ? labels_.data() : nullptr; }
  /// The bounds of `trials` candidates (rows of `candidates`) against centres[0, chosen).
  void set(const RowMatrix<T>& candidates, int trials, const RowMatrix<T>& centres, Eigen::Index chosen) {
    if (!enabled_) return;
    const simd::Kernels<T>& kernels = simd::kernels<T>();
    centre_margins_.resize(static_cast<std::size_t>(chosen));
    for (Eigen::Index j = 0; j < chosen; ++j)
      centre_margins_[static_cast<std::size_t>(j)] = margins_.margin(margins_.length(centres.row(j).data()));
    std::fill_n(any_bound_.begin(), chosen, std::numeric_limits<T>::infinity());
    for (int t = 0; t < trials; ++t) {
      const T* candidate = candidates.row(t).data();
      const double candidate_margin = margins_.margin(margins_.length(candidate));
      T* bound = bounds_.data() + static_cast<std::ptrdiff_t>(t) * k_;
      for (Eigen::Index j = 0; j < chosen; ++j) {
        const double between = kernels.squared_distance(candidate, centres.row(j).data(), features_) * (1 - 1e-9);
        bound[j] = round_down(TriangleMargins<T>::limit(between, candidate_margin, centre_margins_[static_cast<std::size_t>(j)]));
        any_bound_[static_cast<std::size_t>(j)] = std::min(any_bound_[static_cast<std::size_t>(j)], bound[j]);
      }
    }
  }
  /// For a step over every candidate, and for candidate t alone.
  Pruning<T> all() const {
    if (!enabled_) return {};
    return {labels_.data(), bounds_.data(), k_, any_bound_.data()};
  }
  Pruning<T> only(Eigen::Index t) const {
    if (!enabled_) return {};
    const T* bound = bounds_.data() + t * k_;
    return {labels_.data(), bound, k_, bound};
  }
  bool enabled() const { return enabled_; }
  /// A row of centre j with D² ≤ any(j) is proven no closer to any candidate, one with
  /// D² ≤ bound(t, j) no closer to candidate t (after set; j below its `chosen`).
  T any(std::int32_t j) const { return any_bound_[static_cast<std::size_t>(j)]; }
  T bound(Eigen::Index t, std::int32_t j) const { return bounds_[static_cast<std::size_t>(t * k_ + j)]; }

 private:
  // The largest T not above `limit`: a D² in T is ≤ it exactly when it is ≤ `limit`.
  static T round_down(double limit) {
    if (!(limit > -std::numeric_limits<double>::infinity())) return -std::numeric_limits<T>::infinity();
    T value = static_cast<T>(limit);
    if (static_cast<double>(value) > limit) value = std::nextafter(value, -std::numeric_limits<T>::infinity());
    return value;
  }
  bool enabled_;
  Eigen::Index features_, k_;
  TriangleMargins<T> margins_;
  std::vector<std::int32_t> labels_;
  std::vector<T> bounds_;     ///< a row of k per candidate (at least 8): candidate t against centre j
  std::vector<T> any_bound_;  ///< k: the least over the candidates
  std::vector<double> centre_margins_;
};

// The local rows rearranged in place for the k-means++ steps: every whole group of W
// consecutive rows (W: one register of T) stored feature by feature, W values per feature,
// so that a step reads one register per feature and group and transposes nothing (measured
// on P1: transposing 16 rows in every step took about a third of the step). The rows of a
// last, partial group stay as they are. The shard is const to the caller, and is again the
// same bits when this object goes (also when an exception leaves the seeding); nothing else
// reads it meanwhile, and no extra copy of it is made (memory per rank stays its shard).
// Never made for a shard that is a view (DenseShard::view_of): that memory is not lloyd's.
template <class T>
class ColumnGroups {
 public:
  static constexpr int W = simd::SeedBlock<T>::kGroupRows;
  ColumnGroups(const DenseShard<T>& shard, const simd::Kernels<T>& kernels)
      : data_(const_cast<T*>(shard.rows.data())), d_(shard.features()), groups_(shard.local_rows() / W),
        kernels_(kernels) {
    rearrange([this](const T* rows, T* group) { kernels_.seed_rows_as_columns(rows, W, d_, group); });
  }
  ~ColumnGroups() {
    rearrange([this](const T* columns, T* group) { kernels_.seed_columns_as_rows(columns, d_, group); });
  }
  ColumnGroups(const ColumnGroups&) = delete;
  ColumnGroups& operator=(const ColumnGroups&) = delete;

  Eigen::Index grouped_rows() const { return groups_ * W; }
  /// The group starting at local row `first` (a multiple of W below grouped_rows()).
  const T* group(Eigen::Index first) const { return data_ + first * d_; }
  /// Local row i as a row.
  void copy_row(Eigen::Index i, T* out) const {
    const auto [values, stride] = locate(i);
    for (Eigen::Index j = 0; j < d_; ++j) out[j] = values[j * stride];
  }
  /// Exchanges the values of local rows p and q.
  void swap_rows(Eigen::Index p, Eigen::Index q) {
    const auto [a, a_stride] = locate(p);
    const auto [b, b_stride] = locate(q);
    for (Eigen::Index j = 0; j < d_; ++j) std::swap(a[j * a_stride], b[j * b_stride]);
  }

 private:
  // Local row i's first value and the distance between its values.
  std::pair<T*, Eigen::Index> locate(Eigen::Index i) const {
    if (i >= grouped_rows()) return {data_ + i * d_, 1};
    return {data_ + (i / W) * W * d_ + i % W, W};
  }
  // Each group copied aside and rewritten from the copy by `from_copy`.
  template <class FromCopy>
  void rearrange(FromCopy&& from_copy) {
#ifdef _OPENMP
#pragma omp parallel num_threads(threads()) if (threads() > 1)
#endif
    {
      std::vector<T> copy(static_cast<std::size_t>(W * d_));
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
      for (Eigen::Index g = 0; g < groups_; ++g) {
        T* group = data_ + g * W * d_;
        std::copy_n(group, W * d_, copy.data());
        from_copy(copy.data(), group);
      }
    }
  }
  T* data_;
  Eigen::Index d_, groups_;
  const simd::Kernels<T>& kernels_;
};

// The squared distances of every local row to a few centres (the candidates of a k-means++
// step), in the GEMM form ‖x‖² + (‖c‖² − 2x·c) with the scores of DirectScorer: row by row
// in a fixed order, so the same bits for any rank layout and thread count, and no GEMM to
// pack for a handful of centres. Cancellation can make a distance slightly negative: 0 then.
// The rows' norms ‖x‖² are computed where a step reads the rows (squared_norm, or its
// column form in Kernels::seed_fold_lanes: the same bits), not kept: t bytes per row less
// for the whole seeding, for d fused multiply-adds per row read (a step's candidates cost
// `trials` times that).
template <class T>
class CandidateDistances {
 public:
  explicit CandidateDistances(const DenseShard<T>& shard) : shard_(shard), kernels_(simd::kernels<T>()) {}
  void set(const RowMatrix<T>& centres) {
    Eigen::Matrix<T, Eigen::Dynamic, 1> norms(centres.rows());
    for (Eigen::Index c = 0; c < centres.rows(); ++c) norms(c) = squared_norm(centres.row(c).data(), centres.cols());
    scorer_.set(centres, norms, T(0));
    centres_ = centres.rows();
  }
  Eigen::Index padded() const { return DirectScorer<T>::padded(centres_); }
  /// Whether a step with `trials` candidates runs with the rows in register lanes
  /// (Kernels::seed_fold_lanes, where this SIMD level has it; then the rows may be given as
  /// ColumnGroups).
  bool in_lanes(int trials) const { return kernels_.seed_fold_lanes && trials <= 8; }
  void use(const ColumnGroups<T>* groups) { groups_ = groups; }
  const simd::Kernels<T>& kernels() const { return kernels_; }
  /// out[0, padded()) for local row i (stored as a row), clamped at 0 (padding columns:
  /// ‖x‖²); returns ‖x‖².
  T row(Eigen::Index i, T* out) const {
    const T* x = shard_.row(i);
    scorer_.scores(x, out);
    const T squared = kernels_.squared_norm(x, shard_.features());
    using Chunk = typename DirectScorer<T>::Chunk;
    const Chunk norm = Chunk::Constant(squared);
    for (Eigen::Index c = 0; c < padded(); c += DirectScorer<T>::kWidth)
      Chunk::Map(out + c) = (norm + Chunk::Map(out + c)).max(T(0));
    return squared;
  }

  /// Rows [begin, end) of a k-means++ step (their terms below 2^52 each, at most 2^11 rows:
  /// int64 words cannot overflow): adds Σ min(D², d²) in fixed point (× factor) to
  /// part.potential, raises part.largest, and calls closer(i, distances) for each row i that
  /// some candidate comes closer to (its distances to the candidates; those the bounds
  /// skipped: D²). Rows the bounds prove no closer to a candidate are not read.
  template <class OnCloser>
  void fold(Eigen::Index begin, Eigen::Index end, const T* closest, const Pruning<T>& pruning, double factor,
            int trials, Closer<T>& part, OnCloser&& closer) const {
    const std::size_t stride = part.potential.size();
    if (in_lanes(trials) && stride == 8)
      return fold_rows_in_lanes(begin, end, closest, pruning, factor, trials, part, closer);
    std::vector<T> distance(std::max(stride, static_cast<std::size_t>(padded())));
    std::vector<std::int64_t> words(stride, 0);
    for (Eigen::Index i = begin; i < end; ++i) {
      if (pruning.skips(i, closest[i])) std::fill(distance.begin(), distance.end(), closest[i]);
      else row(i, distance.data());
      if (kernels_.seed_fold_row(distance.data(), closest[i], factor, trials, static_cast<std::ptrdiff_t>(stride),
                                 words.data(), part.largest.data()))
        closer(i, distance.data());
    }
    for (std::size_t t = 0; t < stride; ++t) part.potential[t] += words[t];
  }

 private:
  // fold for up to eight candidates with the rows in register lanes (Kernels::seed_fold_lanes:
  // the same bits as row by row), the rows of whole groups as ColumnGroups where given.
  template <class OnCloser>
  void fold_rows_in_lanes(Eigen::Index begin, Eigen::Index end, const T* closest, const Pruning<T>& pruning,
                          double factor, int trials, Closer<T>& part, OnCloser& closer) const {
    constexpr int W = simd::SeedBlock<T>::kGroupRows;
    const Eigen::Index d = shard_.features(), count = end - begin;
    part.columns.resize(static_cast<std::size_t>(d * W + W));
    part.kept_rows.resize(static_cast<std::size_t>(count));
    part.kept_distances.resize(static_cast<std::size_t>(count * 8));
    std::int64_t potential[8];
    const Eigen::Index grouped = groups_ ? std::clamp<Eigen::Index>(groups_->grouped_rows() - begin, 0, count) : 0;
    const simd::SeedBlock<T> block{
        .rows = shard_.row(begin),
        .grouped = grouped,
        .count = count,
        .features = d,
        .closest = closest + begin,
        .scaled = scorer_.scaled_transpose.data(),
        .norms = scorer_.norms.data(),
        .trials = trials,
        .factor = factor,
        // aligned to a register for the loads of a partial group's columns
        .scratch = part.columns.data() + (W - (reinterpret_cast<std::uintptr_t>(part.columns.data()) / sizeof(T)) % W) % W,
        .potential = potential,
        .largest = part.largest.data(),
        .kept = part.kept_rows.data(),
        .kept_distances = part.kept_distances.data(),
        .labels = pruning.labels ? pruning.labels + begin : nullptr,
        .bounds = pruning.bounds,
        .bound_stride = pruning.bound_stride,
        .any_bound = pruning.any_bound,
    };
    const std::ptrdiff_t kept = kernels_.seed_fold_lanes(block);
    for (std::ptrdiff_t r = 0; r < kept; ++r)
      closer(begin + part.kept_rows[static_cast<std::size_t>(r)], part.kept_distances.data() + r * 8);
    for (int t = 0; t < trials; ++t) part.potential[static_cast<std::size_t>(t)] += potential[t];
  }

  const DenseShard<T>& shard_;
  const simd::Kernels<T>& kernels_;  ///< one level for the whole seeding
  DirectScorer<T> scorer_;
  Eigen::Index centres_ = 0;
  const ColumnGroups<T>* groups_ = nullptr;
};

// The local rows of the unweighted k-means++ steps, sorted by their nearest chosen centre so
// that a step skips whole clusters (Raff, "Exact Acceleration of K-Means++ and K-Means||",
// IJCAI 2021): kept as segments, runs of consecutive rows of one centre with their largest D²
// (the radius²). A step's candidates cannot come closer to any row of a segment whose radius²
// is within its centre's bounds (TriangleBounds::any: every candidate at least twice the
// radius away, rounding included), so a step reads only the rows of the other segments
// (live_ranges) — dense runs of column groups, because the rows of a centre are next to each
// other (in file order a group of 16 rows mixes clusters and was rarely skipped whole: the
// per-row bounds' gathers cost more than they saved below 128 features). When the new centre
// takes rows from a segment, the segment is partitioned in place into [rows staying][rows
// taken], the latter a new segment of the new centre (regroup). The rows move in the shard
// itself (as ColumnGroups already rearranges it, no copy of it) with their D², label and
// file position (perm, pos_of: 8 bytes per row), and the D² are kept once more in file
// order for the sampling, which must see the rows in that order (the same picks). The
// destructor puts every row back where it was: the shard is again the same bits (also when an
// exception leaves the seeding). Not `sorted` (a view, whose memory is not lloyd's, or the
// every-distance path): the rows stay in file order as one segment of any centre, read by
// every step (the picks are the same either way).
template <class T>
class ClusterOrder {
 public:
  struct Segment {
    Eigen::Index begin, end;
    std::int32_t label;  ///< the rows' nearest centre; −1: any (not sorted)
    T radius;            ///< the largest D² of its rows (sorted only; unsorted, every step reads the one segment)
  };
  ClusterOrder(const DenseShard<T>& shard, CandidateDistances<T>& kernel, TriangleBounds<T>& bounds,
               std::vector<T>&& closest, bool grouped, bool sorted)
      : data_(const_cast<T*>(shard.rows.data())), n_(shard.local_rows()), d_(shard.features()),
        sorted_(sorted), kernel_(kernel), labels_(bounds.labels()), closest_(std::move(closest)) {
    if (sorted_) {
      perm_.resize(static_cast<std::size_t>(n_));
      std::iota(perm_.begin(), perm_.end(), std::uint32_t{0});
      pos_of_ = perm_;
      by_row_ = closest_;
      buffer_.resize(static_cast<std::size_t>(d_));
    }
    segments_.push_back({0, n_, sorted_ ? 0 : -1, sorted_ ? largest_of(0, n_) : T(0)});
    if (grouped) {  // last: nothing may throw once the shard is rearranged
      groups_.emplace(shard, kernel.kernels());
      kernel.use(&*groups_);
    }
  }
  ~ClusterOrder() {
    kernel_.use(nullptr);
    groups_.reset();  // rows again, in the sorted order
    restore_file_order();
  }
  ClusterOrder(const ClusterOrder&) = delete;
  ClusterOrder& operator=(const ClusterOrder&) = delete;

  /// Each row's D², in the order the rows are stored now (CandidateDistances reads them so).
  const std::vector<T>& closest() const { return closest_; }
  /// Each row's D² in file order (for the sampling).
  const std::vector<T>& by_row() const { return sorted_ ? by_row_ : closest_; }
  /// Stored row i comes closer to new centre c: distance is its D² now.
  void take(Eigen::Index i, T distance, std::int32_t c) {
    const auto r = static_cast<std::size_t>(i);
    closest_[r] = distance;
    if (labels_) labels_[i] = c;
    if (sorted_) by_row_[perm_[r]] = distance;
  }
  /// Local row `local` (file order) as a row.
  void copy_row(std::uint64_t local, T* out) const {
    const auto i = static_cast<Eigen::Index>(sorted_ ? pos_of_[local] : local);
    if (groups_) groups_->copy_row(i, out);
    else std::copy_n(data_ + i * d_, d_, out);
  }

  /// The rows a step with these bounds must read: whole column groups (a group that holds
  /// rows of a live segment is read whole, once; its other rows' terms are then computed
  /// too — the same integers), cut into ranges of at most kSeedBlockRows rows.
  std::vector<RowRange> live_ranges(const TriangleBounds<T>& bounds) const {
    constexpr Eigen::Index W = simd::SeedBlock<T>::kGroupRows;
    std::vector<RowRange> ranges;
    Eigen::Index first = 0, last = 0;  // the run of live groups being collected
    auto flush = [&] {
      for (Eigen::Index a = first; a < last; a += kSeedBlockRows) ranges.emplace_back(a, std::min(last, a + kSeedBlockRows));
    };
    for (const Segment& segment : segments_) {
      if (segment.label >= 0 && segment.radius <= bounds.any(segment.label)) continue;
      const Eigen::Index begin = segment.begin / W * W, end = std::min(n_, (segment.end + W - 1) / W * W);
      if (last > first && begin <= last) {
        last = std::max(last, end);
      } else {
        flush();
        first = begin;
        last = end;
      }
    }
    flush();
    return ranges;
  }

  /// After new centre c (candidate `best` of the bounds) took its rows (take): each segment
  /// it may have taken rows from (its radius² beyond the bound of (best, its centre)) is
  /// split in place into the rows staying and the rows of c. Returns the largest D² of the
  /// rank's rows. `read_largest`: the largest D² of the rows the step read, now — every row
  /// when not sorted, so that no pass over the D² is made then (measured on P1's default fit,
  /// 2 ranks: a scalar pass per step was 34 ms of the 0.38 s seeding).
  double regroup(std::int32_t c, const TriangleBounds<T>& bounds, Eigen::Index best, double read_largest) {
    if (!sorted_) return read_largest;
    std::vector<Segment> taken;
    for (Segment& segment : segments_) {
      if (segment.radius <= bounds.bound(best, segment.label)) continue;
      const Eigen::Index i = partition(segment.begin, segment.end, [&](Eigen::Index r) { return labels_[r] != c; });
      if (i == segment.end) continue;  // none taken
      add_shells(i, segment.end, c, largest_of(i, segment.end), taken);
      segment.end = i;
      segment.radius = largest_of(segment.begin, i);
    }
    std::erase_if(segments_, [](const Segment& segment) { return segment.begin == segment.end; });
    segments_.insert(segments_.end(), taken.begin(), taken.end());
    std::sort(segments_.begin(), segments_.end(),
              [](const Segment& a, const Segment& b) { return a.begin < b.begin; });
    T largest = 0;
    for (const Segment& segment : segments_) largest = std::max(largest, segment.radius);
    return static_cast<double>(largest);
  }

 private:
  // Rows [begin, end) reordered in place so that those with keep(r) come first; returns
  // where the others begin.
  template <class Keep>
  Eigen::Index partition(Eigen::Index begin, Eigen::Index end, Keep&& keep) {
    Eigen::Index i = begin, j = end;
    while (true) {
      while (i < j && keep(i)) ++i;
      while (i < j && !keep(j - 1)) --j;
      if (i >= j) return i;
      swap_rows(i++, --j);
    }
  }
  // The rows [begin, end) of centre c (largest D²: radius) as segments of shells of D²
  // (Raff's rows sorted by their distance, coarsely): beyond radius/4, radius/16, the rest,
  // so that a candidate at twice the inner shells' distance skips them.
  void add_shells(Eigen::Index begin, Eigen::Index end, std::int32_t c, T radius, std::vector<Segment>& out) {
    const T outer = radius / 4, middle = radius / 16;
    const Eigen::Index a = partition(begin, end, [&](Eigen::Index r) { return closest_[static_cast<std::size_t>(r)] > middle; });
    const Eigen::Index b = partition(begin, a, [&](Eigen::Index r) { return closest_[static_cast<std::size_t>(r)] > outer; });
    const Eigen::Index cuts[4] = {begin, b, a, end};
    for (int s = 0; s < 3; ++s)
      if (cuts[s] < cuts[s + 1]) out.push_back({cuts[s], cuts[s + 1], c, largest_of(cuts[s], cuts[s + 1])});
  }
  T largest_of(Eigen::Index begin, Eigen::Index end) const {
    T largest = 0;
    for (Eigen::Index i = begin; i < end; ++i) largest = std::max(largest, closest_[static_cast<std::size_t>(i)]);
    return largest;
  }
  void swap_rows(Eigen::Index p, Eigen::Index q) {
    if (groups_) groups_->swap_rows(p, q);
    else std::swap_ranges(data_ + p * d_, data_ + (p + 1) * d_, data_ + q * d_);
    const auto a = static_cast<std::size_t>(p), b = static_cast<std::size_t>(q);
    std::swap(closest_[a], closest_[b]);
    std::swap(labels_[a], labels_[b]);
    std::swap(perm_[a], perm_[b]);
    pos_of_[perm_[a]] = static_cast<std::uint32_t>(p);
    pos_of_[perm_[b]] = static_cast<std::uint32_t>(q);
  }
  // Every row back at its file position, cycle by cycle (the rows are rows again).
  void restore_file_order() noexcept {
    for (std::size_t start = 0; start < perm_.size(); ++start) {
      if (perm_[start] == start) continue;
      std::copy_n(data_ + static_cast<Eigen::Index>(start) * d_, d_, buffer_.data());
      std::size_t at = start;
      while (true) {
        const std::size_t from = pos_of_[at];  // where the row of file position `at` is
        perm_[at] = static_cast<std::uint32_t>(at);
        T* to = data_ + static_cast<Eigen::Index>(at) * d_;
        if (from == start) {
          std::copy_n(buffer_.data(), d_, to);
          break;
        }
        std::copy_n(data_ + static_cast<Eigen::Index>(from) * d_, d_, to);
        at = from;
      }
    }
  }

  T* data_;
  Eigen::Index n_, d_;
  bool sorted_;
  CandidateDistances<T>& kernel_;
  std::int32_t* labels_;           ///< TriangleBounds' (stored order); nullptr: no bounds
  std::vector<T> closest_;         ///< D², stored order
  std::vector<T> by_row_;          ///< D², file order (sorted only)
  std::vector<std::uint32_t> perm_;    ///< stored position → file position (sorted only)
  std::vector<std::uint32_t> pos_of_;  ///< file position → stored position (sorted only)
  std::vector<T> buffer_;          ///< one row, for restore_file_order
  std::vector<Segment> segments_;  ///< in stored order
  std::optional<ColumnGroups<T>> groups_;
};

// Collective over comm: the greedy choice of a k-means++ step, the trial whose potential
// (`unread`, what the rows the step did not read add to every candidate's potential, plus the
// threads' parts, summed over the ranks: exact integers) is lowest; ties: the first.
template <class T>
Eigen::Index lowest_potential(const Comm& comm, const std::vector<Closer<T>>& closer, std::size_t width, int trials,
                              Int128 unread = 0) {
  std::vector<Int128> potential(width, unread);
  for (const Closer<T>& part : closer)
    for (std::size_t t = 0; t < potential.size(); ++t) potential[t] += part.potential[t];
  comm.allreduce_sum(potential);
  return static_cast<Eigen::Index>(std::min_element(potential.begin(), potential.begin() + trials) -
                                   potential.begin());
}

// The end of a k-means++ step: the rows that the chosen candidate (row `best` of the
// candidates) comes closer to take it as their nearest centre and its distance as their D²
// (take(i, distance)). Its distances are computed again — the same bits as in the step (each
// candidate's chain is its own) — for the rows of the step's ranges whose closer rows were
// not all kept (pruning: the bounds of `best` alone), rather than kept from the step for
// every candidate. `factor`: a fixed-point scale under which every D² is below 2^52 (the
// step's potentials, computed again here, are not used).
template <class T, class Take>
void move_closer(CandidateDistances<T>& kernel, const Pruning<T>& pruning, const std::vector<Closer<T>>& parts,
                 std::size_t stride, const RowMatrix<T>& candidates, Eigen::Index best, double factor,
                 const std::vector<RowRange>& ranges, const T* closest, Take&& take) {
  std::vector<Eigen::Index> again;  // the ranges whose closer rows were not all kept
  for (const Closer<T>& part : parts) {
    for (std::size_t r = 0; r < part.rows.size(); ++r) {
      const T distance = part.distances[r * stride + static_cast<std::size_t>(best)];
      const Eigen::Index i = part.rows[r];
      if (distance < closest[i]) take(i, distance);
    }
    again.insert(again.end(), part.overflowed.begin(), part.overflowed.end());
  }
  if (again.empty()) return;
  // (A kept row of such a range comes out the same again: its D² is already that distance.)
  kernel.set(RowMatrix<T>(candidates.row(best)));
  const auto count = static_cast<std::ptrdiff_t>(again.size());
#ifdef _OPENMP
#pragma omp parallel num_threads(threads()) if (threads() > 1)
#endif
  {
    Closer<T> scratch;
    scratch.start(8, 0);
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (std::ptrdiff_t r = 0; r < count; ++r) {
      const RowRange range = ranges[static_cast<std::size_t>(again[static_cast<std::size_t>(r)])];
      kernel.fold(range.first, range.second, closest, pruning, factor, 1, scratch,
                  [&](Eigen::Index i, const T* distance) { take(i, distance[0]); });
    }
  }
}

// Every local row, in ranges of kSeedBlockRows (the steps that read every row).
inline std::vector<RowRange> every_row(Eigen::Index rows) {
  std::vector<RowRange> ranges;
  for (Eigen::Index first = 0; first < rows; first += kSeedBlockRows)
    ranges.emplace_back(first, std::min(rows, first + kSeedBlockRows));
  return ranges;
}

// The k-means++ steps with sample weights (centre 0 is chosen, `closest` holds every row's D²
// to it), as scikit-learn's _kmeans_plusplus(sample_weight): candidates drawn in proportion to
// w·D² (sample_by_weight of those products), the greedy choice by Σ w·min(D², d²) (fixed
// point of the largest w·D², one rounding per term: the same integers on every rank and
// thread). Row by row on the shard as it is (no column groups): only weighted fits pay for it.
template <class T>
void weighted_plus_plus_steps(const Comm& comm, const DenseShard<T>& shard, int k, const CounterRng& rng,
                              int restart, int trials, CandidateDistances<T>& kernel, TriangleBounds<T>& bounds,
                              std::vector<T>& closest, RowMatrix<T>& centres) {
  const Eigen::Index n_local = shard.local_rows();
  const auto width = static_cast<std::size_t>((trials + 7) / 8 * 8);
  std::vector<double> weighted(static_cast<std::size_t>(n_local));
  std::vector<Closer<T>> closer(static_cast<std::size_t>(threads()));
  constexpr Eigen::Index kCarryRows = kSeedBlockRows;
  const std::size_t kept_at_most = kept_rows_per_thread(shard, width);
  const std::vector<RowRange> blocks = every_row(n_local);
  for (int c = 1; c < k; ++c) {
    double local_max = 0, local_closest = 0;
    for (Eigen::Index i = 0; i < n_local; ++i) {
      const auto r = static_cast<std::size_t>(i);
      weighted[r] = shard.weight(i) * static_cast<double>(closest[r]);
      local_max = std::max(local_max, weighted[r]);
      local_closest = std::max(local_closest, static_cast<double>(closest[r]));
    }
    const double largest = comm.allreduce(local_max, MPI_MAX);
    const std::uint64_t stream = stream_id(Stream::SquaredDistance, restart, static_cast<std::uint64_t>(c) * 64);
    std::vector<std::uint64_t> candidates = sample_by_weight(comm, shard.first_row, weighted, largest, trials, rng, stream);
    for (int t = 0; t < trials; ++t)
      if (candidates[static_cast<std::size_t>(t)] == KeyIndex::none().index)  // every weighed row on a centre
        candidates[static_cast<std::size_t>(t)] =
            weighted_random_rows(comm, shard, 1, rng, stream + 1 + static_cast<std::uint64_t>(t))[0];
    const RowMatrix<T> candidate_rows = rows_as_matrix(comm, shard, candidates);
    kernel.set(candidate_rows);
    bounds.set(candidate_rows, trials, centres, c);
    const Pruning<T> pruning = bounds.all();
    const double bound[1] = {largest};
    const FixedPoint scale(bound);
    const double factor = 1.0 / scale.to_double(1, 0);  // 2^shift: exact
#ifdef _OPENMP
#pragma omp parallel num_threads(threads()) if (threads() > 1)
#endif
    {
      Closer<T>& mine = closer[static_cast<std::size_t>(thread_index())];
      mine.start(width, kept_at_most);
      std::vector<T> distance(std::max(width, static_cast<std::size_t>(kernel.padded())));
      std::vector<std::int64_t> words(width);
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
      for (Eigen::Index block = 0; block < (n_local + kCarryRows - 1) / kCarryRows; ++block) {
        std::fill(words.begin(), words.end(), 0);
        for (Eigen::Index i = block * kCarryRows; i < std::min(n_local, (block + 1) * kCarryRows); ++i) {
          const T current = closest[static_cast<std::size_t>(i)];
          if (pruning.skips(i, current)) std::fill(distance.begin(), distance.end(), current);
          else kernel.row(i, distance.data());
          const double weight = shard.weight(i);
          bool closer_row = false;
          for (int t = 0; t < trials; ++t) {
            const T nearer = std::min(current, distance[static_cast<std::size_t>(t)]);
            closer_row = closer_row || distance[static_cast<std::size_t>(t)] < current;
            words[static_cast<std::size_t>(t)] += static_cast<std::int64_t>(
                std::nearbyint(std::min(weight * static_cast<double>(nearer), largest) * factor));
          }
          if (closer_row) mine.keep(i, distance.data(), width, block);
        }
        for (std::size_t t = 0; t < width; ++t) mine.potential[t] += words[t];
      }
    }
    const Eigen::Index best = lowest_potential(comm, closer, width, trials);
    centres.row(c) = candidate_rows.row(best);
    const double closest_bound[1] = {local_closest};
    std::int32_t* labels = bounds.labels();
    move_closer(kernel, bounds.only(best), closer, width, candidate_rows, best,
                1.0 / FixedPoint(closest_bound).to_double(1, 0), blocks, closest.data(),
                [&](Eigen::Index i, T distance) {
                  closest[static_cast<std::size_t>(i)] = distance;
                  if (labels) labels[i] = c;
                });
  }
}

// k-means++ with greedy trials, as scikit-learn: 2 + ⌊ln k⌋ candidates drawn by D² sampling
// (sample_by_weight), the one lowering the potential most is kept. Distances come from
// CandidateDistances (the same bits for any rank layout and thread count). Each step is one
// pass over the rows it cannot rule out, shared among the threads: the rows are kept sorted
// by nearest centre (ClusterOrder) and a step skips the clusters its candidates are all too
// far from to change; of the rows it reads it keeps the candidates' distances only for the
// rows some candidate comes closer to (the only rows the chosen one can change).
// The features from which the triangle inequality's per-row bounds (TriangleBounds, inside
// the rows a step reads) pay. Below, the bounds' gathers cost more than the arithmetic they
// save: the rows of a group are read anyway. Measured before the rows were sorted by
// cluster, on 64 blobs, k = 256, 1 rank (CPU time of the whole fit, same run): 200k × 256
// float64 8.6 s against 12.9 s without; 1M × 32 float32 5.4 s against 4.0 s.
constexpr Eigen::Index kBoundsFromFeatures = 128;
// The centres from which sorting the rows by cluster pays. Below, the clusters are wide (a
// few blobs each), a candidate is within twice the radius of most of them, and moving the
// rows costs more than the steps save. Measured on 1M × 32 float32 (64 blobs), 1 rank, CPU
// time of the fit, same run: k = 64 1.37 s sorted against 1.14 s not; k = 256 2.32 against
// 4.10 s.
constexpr int kSortFromCentres = 128;

template <class T>
RowMatrix<T> kmeans_plus_plus(const Comm& comm, const DenseShard<T>& shard, int k,
                              const CounterRng& rng, int restart, bool triangle_bounds) {
  const Eigen::Index d = shard.features();
  const Eigen::Index n_local = shard.local_rows();
  const int trials = 2 + static_cast<int>(std::log(k));
  RowMatrix<T> centres(k, d);
  CandidateDistances<T> kernel(shard);

  const std::vector<std::uint64_t> first =
      weighted_random_rows(comm, shard, 1, rng, stream_id(Stream::FirstCentre, restart));
  centres.row(0) = rows_as_matrix(comm, shard, first).row(0);
  if (k == 1) return centres;
  // The rows sorted by cluster (ClusterOrder): not in a view's memory (the caller's, which may
  // be read-only or read meanwhile), nor with sample weights (their steps go row by row).
  const bool sort_rows = triangle_bounds && k >= kSortFromCentres && !shard.is_view() && !shard.weighted() &&
                         n_local <= std::numeric_limits<std::uint32_t>::max();
  const bool row_bounds = shard.weighted() || d >= kBoundsFromFeatures;

  // closest[i]: D²(x_i) to the nearest chosen centre; only ever decreases, so its global
  // maximum bounds every later potential term (the fixed-point scale below).
  std::vector<T> closest(static_cast<std::size_t>(n_local));
  kernel.set(RowMatrix<T>(centres.topRows(1)));
  double local_max = 0, largest_norm = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads()) if (threads() > 1) reduction(max : local_max, largest_norm)
#endif
  {
    std::vector<T> distance(static_cast<std::size_t>(kernel.padded()));
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (Eigen::Index i = 0; i < n_local; ++i) {
      largest_norm = std::max(largest_norm, static_cast<double>(kernel.row(i, distance.data())));
      closest[static_cast<std::size_t>(i)] = distance[0];
      local_max = std::max(local_max, static_cast<double>(distance[0]));
    }
  }
  double max_closest = comm.allreduce(local_max, MPI_MAX);
  // every row's label: centre 0
  TriangleBounds<T> bounds(n_local, largest_norm, d, k, triangle_bounds && (row_bounds || sort_rows));
  if (shard.weighted()) {
    weighted_plus_plus_steps(comm, shard, k, rng, restart, trials, kernel, bounds, closest, centres);
    return centres;
  }

  // Candidates are handled eight at a time (the padding candidates' terms are computed and
  // ignored).
  const Eigen::Index stride = (trials + 7) / 8 * 8;
  const auto width = static_cast<std::size_t>(stride);
  std::vector<Closer<T>> closer(static_cast<std::size_t>(threads()));
  const std::size_t kept_at_most = kept_rows_per_thread(shard, width);

  // The rows as column groups (in place) where the steps take rows in register lanes; never
  // in a view's memory: a view's steps read the rows as they are, transposing them in each
  // step (the same bits, a slower seeding).
  ClusterOrder<T> order(shard, kernel, bounds, std::move(closest), kernel.in_lanes(trials) && !shard.is_view(),
                        sort_rows);
  auto fetch_candidates = [&](const std::vector<std::uint64_t>& candidates) -> RowMatrix<T> {
    const std::vector<T> values = fetch_rows_by<T>(comm, shard.first_row, static_cast<std::size_t>(d), candidates,
                                                   [&](std::uint64_t local, T* out) { order.copy_row(local, out); });
    return Eigen::Map<const RowMatrix<T>>(values.data(), static_cast<Eigen::Index>(candidates.size()), d);
  };
  for (int c = 1; c < k; ++c) {
    const std::uint64_t stream =
        stream_id(Stream::SquaredDistance, restart, static_cast<std::uint64_t>(c) * 64);
    Int128 local_base = 0;  // this rank's Σ D² in the fixed point below
    std::vector<std::uint64_t> candidates =
        sample_by_weight(comm, shard.first_row, order.by_row(), max_closest, trials, rng, stream, &local_base);
    for (int t = 0; t < trials; ++t)
      if (candidates[t] == KeyIndex::none().index)  // fewer distinct rows than k: any row
        candidates[t] = distinct_random_rows(comm, shard, 1, rng, stream + 1 + static_cast<std::uint64_t>(t))[0];
    const RowMatrix<T> candidate_rows = fetch_candidates(candidates);
    kernel.set(candidate_rows);
    bounds.set(candidate_rows, trials, centres, c);
    const Pruning<T> pruning = row_bounds ? bounds.all() : Pruning<T>{};
    const std::vector<RowRange> ranges = order.live_ranges(bounds);

    // Greedy choice: keep the candidate that lowers the potential Σ min(D², d²) most. The
    // potentials are fixed-point integer sums (int64 words carried into 128 bits every range
    // of kSeedBlockRows rows: terms of at most 2^52 — the largest D² may round up to it —
    // cannot overflow 1024 of them; 2048 could, by one), so every rank and thread count picks
    // the same one. A row the step does not read adds its D² to every potential: the rank's
    // Σ D² (local_base, from the sampling) less that of the rows read is added to them all.
    const double bound[1] = {max_closest};
    const FixedPoint scale(bound);
    const double factor = 1.0 / scale.to_double(1, 0);  // 2^shift: exact
    const std::vector<T>& stored = order.closest();
    const auto range_count = static_cast<std::ptrdiff_t>(ranges.size());
#ifdef _OPENMP
#pragma omp parallel num_threads(threads()) if (threads() > 1)
#endif
    {
      Closer<T>& mine = closer[static_cast<std::size_t>(thread_index())];
      mine.start(width, kept_at_most);
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
      for (std::ptrdiff_t r = 0; r < range_count; ++r) {
        const auto [begin, end] = ranges[static_cast<std::size_t>(r)];
        kernel.fold(begin, end, stored.data(), pruning, factor, trials, mine,
                    [&](Eigen::Index i, const T* distance) { mine.keep(i, distance, width, r); });
        std::int64_t base = 0;
        kernel.kernels().seed_weight_sums(stored.data() + begin, end - begin, max_closest, factor, end - begin, &base);
        mine.read_base += base;
      }
    }
    Int128 unread = local_base;
    for (const Closer<T>& part : closer) unread -= part.read_base;
    const Eigen::Index best = lowest_potential(comm, closer, width, trials, unread);
    centres.row(c) = candidate_rows.row(best);

    move_closer(kernel, row_bounds ? bounds.only(best) : Pruning<T>{}, closer, width, candidate_rows, best, factor,
                ranges, stored.data(), [&](Eigen::Index i, T distance) { order.take(i, distance, c); });
    // The rows' D² are now min(D², d²) of the chosen one: what the step's largest of it saw.
    double read_largest = 0;
    for (const Closer<T>& part : closer) read_largest = std::max(read_largest, part.largest[static_cast<std::size_t>(best)]);
    max_closest = comm.allreduce(order.regroup(c, bounds, best, read_largest), MPI_MAX);
  }
  return centres;
}

// ---------------------------------------------------------------- k-means||

// The weighted reduction of the candidates to k centres. Every rank runs it on the same
// candidates (in global row order) and weights with the same code, so every rank computes
// the same bits; no sum here needs to be exact.
class WeightedReduction {
 public:
  /// `bounds` false: every distance computed (the same bits; tests compare the two).
  WeightedReduction(RowMatrix<double> points, std::vector<double> weights, const CounterRng& rng,
                    int restart, bool bounds)
      : points_(std::move(points)), weights_(std::move(weights)), rng_(rng), restart_(restart), bounds_(bounds) {}

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
    std::vector<std::int32_t> labels(static_cast<std::size_t>(m), 0);  // each point's nearest centre
    update_closest(centres.row(0).data(), closest, closest, labels, {});
    std::vector<double> trial_closest(closest.size()), best_closest(closest.size()), between;
    for (int c = 1; c < k; ++c) {
      double best_potential = 0;
      Eigen::Index best = -1;
      for (int t = 0; t < trials; ++t) {
        const Eigen::Index candidate = race(closest, static_cast<std::uint64_t>(c) * 64 + t + 1);
        between.resize(bounds_ ? static_cast<std::size_t>(c) : 0);
        for (Eigen::Index j = 0; j < static_cast<Eigen::Index>(between.size()); ++j)
          between[static_cast<std::size_t>(j)] = squared_distance(points_.row(candidate).data(), centres.row(j).data(), d);
        const double potential = update_closest(points_.row(candidate).data(), closest, trial_closest, labels, between);
        if (best < 0 || potential < best_potential) {
          best_potential = potential;
          best = candidate;
          std::swap(best_closest, trial_closest);
        }
      }
      centres.row(c) = points_.row(best);
      for (std::size_t j = 0; j < closest.size(); ++j)
        if (best_closest[j] < closest[j]) labels[j] = static_cast<std::int32_t>(c);
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
        const double u = rng_.uniform(stream, j);
        // −log(u) ≥ 1 − u: a key whose lower bound (1 − u)/weight, less its rounding, already
        // loses needs no logarithm (most keys: the same winner). Compared as a product.
        if (bounds_ && (1 - u) * (1 - 1e-12) > best.key * weight) continue;
        const KeyIndex key{-std::log(u) / weight, j};
        if (key < best) best = key;
      }
      if (best.index != KeyIndex::none().index) return static_cast<Eigen::Index>(best.index);
    }
    return 0;  // no weight at all (cannot happen: the weights count n ≥ 1 rows)
  }

  // out_j = min(closest_j, ‖p_j − centre‖²); returns Σ w_j·out_j. between[l]: the computed
  // ‖centre − centre l‖² of the chosen centres (empty: none), labels[j] the centre closest_j
  // was computed to: by the triangle inequality (Raff, IJCAI 2021) a point with
  // between[label] ≥ 4·closest·(1 + 8δ) cannot come closer, δ bounding the relative
  // rounding of squared_distance (a sum of squares in double): out_j = closest_j, the same bits.
  double update_closest(const double* centre, const std::vector<double>& closest, std::vector<double>& out,
                        const std::vector<std::int32_t>& labels, const std::vector<double>& between) const {
    const double margin = 4 * (1 + 8 * (static_cast<double>(points_.cols()) + 8) * std::numeric_limits<double>::epsilon());
    double potential = 0;
    for (Eigen::Index j = 0; j < points_.rows(); ++j) {
      const auto jj = static_cast<std::size_t>(j);
      if (!between.empty() && between[static_cast<std::size_t>(labels[jj])] >= margin * closest[jj])
        out[jj] = closest[jj];
      else
        out[jj] = std::min(closest[jj], squared_distance(points_.row(j).data(), centre, points_.cols()));
      potential += weights_[jj] * out[jj];
    }
    return potential;
  }

  RowMatrix<double> points_;
  std::vector<double> weights_;
  const CounterRng& rng_;
  int restart_;
  bool bounds_;
};

// The scores ‖c‖² − 2x·c of local rows against the candidates of a k-means|| round (one
// to about ℓ of them, any d), by assignment's kernels (score_kernel: DirectScorer for
// d ≤ 16, ScoreTiles above): every score is one fixed chain of fused multiply-adds per row,
// so the same bits at every SIMD level, in every build, and wherever the row lives (any
// rank layout, position in a tile, thread count). Rows are scored kRows at a time (a tile).
template <class T>
class RoundScores {
 public:
  static constexpr int kRows = ScoreTiles<T>::kRows;
  /// Scratch of one thread: the scores of a tile of rows (row r at r · stride()).
  struct Workspace {
    std::vector<T> scores, tile;
  };

  explicit RoundScores(const RowMatrix<T>& candidates)
      : kernel_(score_kernel<T>(candidates.cols())), candidates_(candidates.rows()) {
    Eigen::Matrix<T, Eigen::Dynamic, 1> norms(candidates.rows());
    for (Eigen::Index c = 0; c < candidates.rows(); ++c)
      norms(c) = squared_norm(candidates.row(c).data(), candidates.cols());
    if (kernel_ == ScoreKernel::Direct) {
      direct_.set(candidates, norms);  // padding: +inf
      stride_ = DirectScorer<T>::padded(candidates.rows());
    } else {
      tiles_.set(candidates, norms);  // padding: +inf
      stride_ = tiles_.padded_centres();
    }
  }
  /// Scores per row: the candidates padded with +inf to a multiple of Assigner::kChunk.
  Eigen::Index stride() const { return stride_; }
  Eigen::Index candidates() const { return candidates_; }
  Workspace workspace() const {
    return {std::vector<T>(static_cast<std::size_t>(kRows * stride_)),
            kernel_ == ScoreKernel::Tiles ? tiles_.workspace() : std::vector<T>()};
  }
  /// The scores of local rows [first, first + count) (count ≤ kRows) into space.scores.
  void score(const DenseShard<T>& shard, Eigen::Index first, int count, Workspace& space) const {
    const T* rows[kRows];
    for (int r = 0; r < count; ++r) rows[r] = shard.row(first + r);
    score(rows, count, space);
  }
  /// The scores of rows[0, count) (count ≤ kRows) into space.scores (row r at r · stride()).
  void score(const T* const* rows, int count, Workspace& space) const {
    if (kernel_ == ScoreKernel::Direct) {
      for (int r = 0; r < count; ++r) direct_.scores(rows[r], space.scores.data() + r * stride_);
      return;
    }
    tiles_.compute(rows, count, space.scores.data(), stride_, space.tile);
  }

 private:
  ScoreKernel kernel_;
  Eigen::Index candidates_, stride_ = 0;
  DirectScorer<T> direct_;
  ScoreTiles<T> tiles_;
};

// Weighted Lloyd iterations on the candidates after the weighted k-means++ (the paper's
// "recluster" step); the candidate set is small, so this costs little.
constexpr int kReductionIterations = 10;

template <class T>
RowMatrix<T> kmeans_parallel_seeding(const Comm& comm, const SeedingRows<T>& rows, int k, const CounterRng& rng,
                                     int restart, const ParallelSeeding& parallel) {
  const Eigen::Index d = rows.features;
  const auto n_local = static_cast<std::size_t>(rows.local_rows);
  const double oversampling = parallel.oversampling > 0 ? parallel.oversampling : 2.0 * k;

  // closest[i]: D²(x_i) to the nearest candidate so far, nearest[i]: that candidate. D² is
  // computed in T, so it is held in T: the same values in half the memory for float32 (8
  // bytes per row in all with `nearest`, where a d = 8 row is 32).
  std::vector<T> closest(n_local, std::numeric_limits<T>::infinity());
  std::vector<std::int32_t> nearest(n_local, 0);
  const simd::Kernels<T>& kernels = simd::kernels<T>();
  constexpr int kRows = RoundScores<T>::kRows;
  // Local row i (squared norm `norm`, its scores against `count` candidates, padded to
  // `stride` with +inf) takes the nearest of them, numbered number(c), when it is strictly
  // closer than its D². D² = max(‖x‖² + score, 0) in T (cancellation can make it slightly
  // negative). Adding ‖x‖² and clamping are monotone: the smallest score gives the smallest
  // D²; only a row that comes closer looks for the first candidate reaching it, so ties stay
  // with the lower candidate number, and candidates taken in several passes in increasing
  // number give the same D² and nearest as all at once.
  auto decide = [&](T norm, const T* score, Eigen::Index stride, Eigen::Index count, std::size_t i,
                    const auto& number) {
    const T best = std::max(T(0), norm + kernels.row_minimum(score, stride));
    if (!(best < closest[i])) return;
    for (Eigen::Index c = 0; c < count; ++c)
      if (std::max(T(0), norm + score[c]) == best) {
        closest[i] = best;
        nearest[i] = number(c);
        return;
      }
  };
  // Rows rows[0, count) (local rows index[0, count)) against the candidates of `scores`.
  auto score_rows = [&](const RoundScores<T>& scores, typename RoundScores<T>::Workspace& space, const T* const* at,
                        const std::size_t* index, int count, const auto& number) {
    scores.score(at, count, space);
    for (int r = 0; r < count; ++r)
      decide(squared_norm(at[r], d), space.scores.data() + r * scores.stride(), scores.stride(), scores.candidates(),
             index[r], number);
  };

  // The triangle inequality (TriangleMargins; Raff, IJCAI 2021) from the second pass on: the
  // rows are grouped by nearest candidate a, and a group reads only the new candidates c that
  // its largest D² does not rule out (the limit of (c, a)); ‖c − a‖² from the GEMM-form
  // scores of a against the new candidates, less their rounding. Set by the first pass,
  // which reads every row (the rank's largest row norm, for the margins).
  std::optional<TriangleMargins<T>> margins;
  std::vector<double> lengths;         // of every candidate so far (TriangleMargins::length)
  std::vector<std::uint32_t> order;    // a part of a block's rows grouped by nearest candidate
  // The candidates `fresh`, numbered from `offset` (candidates.topRows(offset): those before).
  auto pass = [&](const RowMatrix<T>& fresh, Eigen::Index offset, const RowMatrix<T>& before) {
    const RoundScores<T> round(fresh);
    const Eigen::Index stride = round.stride(), m = round.candidates();
    const auto number = [offset](Eigen::Index c) { return static_cast<std::int32_t>(offset + c); };
    const bool grouped = margins && offset > 0 && rows.local_rows <= std::numeric_limits<std::uint32_t>::max();
    std::vector<double> fresh_lengths;
    if (grouped)
      for (Eigen::Index c = 0; c < m; ++c) fresh_lengths.push_back(margins->length(fresh.row(c).data()));
    double largest_norm = 0;
    rows.for_each([&](const DenseShard<T>& block, Eigen::Index block_offset) {
      const Eigen::Index n = block.local_rows();
      if (!grouped) {
        const Eigen::Index tiles = (n + kRows - 1) / kRows;
        double block_largest = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads()) if (threads() > 1) reduction(max : block_largest)
#endif
        {
          typename RoundScores<T>::Workspace space = round.workspace();
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
          for (Eigen::Index tile = 0; tile < tiles; ++tile) {
            const Eigen::Index first = tile * kRows;
            const int count = static_cast<int>(std::min<Eigen::Index>(kRows, n - first));
            round.score(block, first, count, space);
            for (int r = 0; r < count; ++r) {
              const T norm = squared_norm(block.row(first + r), d);
              block_largest = std::max(block_largest, static_cast<double>(norm));
              decide(norm, space.scores.data() + r * stride, stride, m,
                     static_cast<std::size_t>(block_offset + first + r), number);
            }
          }
        }
        largest_norm = std::max(largest_norm, block_largest);
        return;
      }
      // The block's rows by nearest candidate (a counting sort), kParallelGroupedRows at a time so that
      // the grouping holds at most that many row numbers: group a of a part is
      // order[start[a], start[a + 1]), its largest D² radius[a].
      for (Eigen::Index part = 0; part < n; part += kParallelGroupedRows) {
        const Eigen::Index part_rows = std::min<Eigen::Index>(kParallelGroupedRows, n - part);
        std::vector<std::uint32_t> start(static_cast<std::size_t>(offset) + 1, 0);
        std::vector<T> radius(static_cast<std::size_t>(offset), T(0));
        for (Eigen::Index r = part; r < part + part_rows; ++r) {
          const auto i = static_cast<std::size_t>(block_offset + r);
          const auto a = static_cast<std::size_t>(nearest[i]);
          ++start[a + 1];
          radius[a] = std::max(radius[a], closest[i]);
        }
        std::vector<std::int32_t> present;  // the groups with rows
        for (Eigen::Index a = 0; a < offset; ++a) {
          if (start[static_cast<std::size_t>(a) + 1] > 0) present.push_back(static_cast<std::int32_t>(a));
          start[static_cast<std::size_t>(a) + 1] += start[static_cast<std::size_t>(a)];
        }
        order.resize(static_cast<std::size_t>(part_rows));
        {
          std::vector<std::uint32_t> next(start.begin(), start.end() - 1);
          for (Eigen::Index r = part; r < part + part_rows; ++r)
            order[next[static_cast<std::size_t>(nearest[static_cast<std::size_t>(block_offset + r)])]++] =
                static_cast<std::uint32_t>(r);
        }
        const auto chunks = static_cast<std::ptrdiff_t>((present.size() + kRows - 1) / kRows);
#ifdef _OPENMP
#pragma omp parallel num_threads(threads()) if (threads() > 1)
#endif
        {
          typename RoundScores<T>::Workspace between_space = round.workspace(), row_space = round.workspace();
          std::vector<Eigen::Index> live;
          RowMatrix<T> subset;
          const T* at[kRows];
          std::size_t index[kRows];
#ifdef _OPENMP
#pragma omp for schedule(dynamic)
#endif
          for (std::ptrdiff_t chunk = 0; chunk < chunks; ++chunk) {
            // The GEMM-form distances of a tile of groups' candidates to the new candidates.
            const std::size_t first = static_cast<std::size_t>(chunk) * kRows;
            const int count = static_cast<int>(std::min<std::size_t>(kRows, present.size() - first));
            const T* centres[kRows];
            for (int g = 0; g < count; ++g) centres[g] = before.row(present[first + static_cast<std::size_t>(g)]).data();
            round.score(centres, count, between_space);
            for (int g = 0; g < count; ++g) {
              const auto a = static_cast<std::size_t>(present[first + static_cast<std::size_t>(g)]);
              const T* score = between_space.scores.data() + g * stride;
              const T norm = squared_norm(centres[g], d);
              const double centre_margin = margins->margin(lengths[a]);
              const auto reach = static_cast<double>(radius[a]);
              live.clear();
              for (Eigen::Index c = 0; c < m; ++c) {
                const double length = fresh_lengths[static_cast<std::size_t>(c)];
                const double between =
                    (static_cast<double>(std::max(T(0), norm + score[c])) - margins->rounding(lengths[a] + length)) *
                    (1 - 1e-9);
                if (!(reach <= TriangleMargins<T>::limit(between, margins->margin(length), centre_margin))) live.push_back(c);
              }
              if (live.empty()) continue;
              // Every new candidate where most are live; else those alone (the same scores).
              const bool all = 2 * static_cast<Eigen::Index>(live.size()) > m;
              std::optional<RoundScores<T>> few;
              typename RoundScores<T>::Workspace few_space;
              if (!all) {
                subset.resize(static_cast<Eigen::Index>(live.size()), d);
                for (std::size_t c = 0; c < live.size(); ++c) subset.row(static_cast<Eigen::Index>(c)) = fresh.row(live[c]);
                few.emplace(subset);
                few_space = few->workspace();
              }
              const auto live_number = [&](Eigen::Index c) {
                return static_cast<std::int32_t>(offset + live[static_cast<std::size_t>(c)]);
              };
              for (std::uint32_t p = start[a]; p < start[a + 1]; p += kRows) {
                const int rows_here = static_cast<int>(std::min<std::uint32_t>(kRows, start[a + 1] - p));
                for (int r = 0; r < rows_here; ++r) {
                  const std::uint32_t row = order[p + static_cast<std::uint32_t>(r)];
                  at[r] = block.row(row);
                  index[r] = static_cast<std::size_t>(block_offset) + row;
                }
                if (all) score_rows(round, row_space, at, index, rows_here, number);
                else score_rows(*few, few_space, at, index, rows_here, live_number);
              }
            }
          }
        }
      }
    });
    if (parallel.triangle_bounds) {
      if (!margins) margins.emplace(largest_norm, d);
      for (Eigen::Index c = 0; c < m; ++c) lengths.push_back(margins->length(fresh.row(c).data()));
    }
  };
  // Each pass's candidates prune the next's: with bounds, a pass takes about as many new
  // candidates as there are before it (at least kFirstPass), so that the first round's first
  // pass, which nothing prunes, is short. Returns the new ψ = Σ D², an exact sum.
  constexpr Eigen::Index kFirstPass = 64;
  auto absorb = [&](const RowMatrix<T>& fresh, Eigen::Index offset, const RowMatrix<T>& before) {
    for (Eigen::Index begin = 0; begin < fresh.rows();) {
      const Eigen::Index size = parallel.triangle_bounds
                                    ? std::min(fresh.rows() - begin, std::max(kFirstPass, offset + begin))
                                    : fresh.rows() - begin;
      pass(begin == 0 && size == fresh.rows() ? fresh : RowMatrix<T>(fresh.middleRows(begin, size)), offset + begin,
           before);
      begin += size;
    }
    ExactSum psi;  // with sample weights, Σ w·D² (exact: the same sum in any pieces)
    constexpr std::size_t kPiece = 4096;
    std::vector<double> piece(std::min(kPiece, n_local));
    for (std::size_t begin = 0; begin < n_local; begin += kPiece) {
      const std::size_t count = std::min(kPiece, n_local - begin);
      std::copy(closest.begin() + static_cast<std::ptrdiff_t>(begin),
                closest.begin() + static_cast<std::ptrdiff_t>(begin + count), piece.begin());
      psi.add(std::span<const double>(piece.data(), count),
              rows.weighted ? rows.weights.subspan(begin, count) : std::span<const double>());
    }
    psi.allreduce(comm);
    return psi.value();
  };

  RowMatrix<T> candidates = rows.draw(1, stream_id(Stream::FirstCentre, restart));
  double psi = absorb(candidates, 0, candidates);
  for (int round = 0; round < parallel.rounds && psi > 0; ++round) {
    // Each row independently, with probability min(1, ℓ·D²/ψ): the same decision for a row
    // whichever rank holds it. Gathered in rank order = global row order.
    const std::uint64_t stream = stream_id(Stream::ParallelSample, restart, round);
    std::vector<Eigen::Index> picked;
    for (Eigen::Index i = 0; i < rows.local_rows; ++i) {
      // With sample weights, in proportion to w·D² (a row of weight 0 is never a candidate).
      const auto at = static_cast<std::size_t>(i);
      const auto distance = static_cast<double>(closest[at]);
      const double mass = rows.weighted ? rows.weights[at] * distance : distance;
      const double p = oversampling * mass / psi;
      if (p <= 0) continue;
      if (p >= 1 || rng.uniform(stream, rows.first_row + static_cast<std::uint64_t>(i)) < p) picked.push_back(i);
    }
    const RowMatrix<T> fresh = rows.gather(picked);
    const Eigen::Index count = fresh.rows();
    if (count == 0) continue;
    const Eigen::Index offset = candidates.rows();
    candidates.conservativeResize(offset + count, d);
    candidates.bottomRows(count) = fresh;
    psi = absorb(fresh, offset, candidates);
  }

  const Eigen::Index m = candidates.rows();
  if (m < k) return {};  // the caller falls back to k-means++
  if (m == k) return candidates;
  // Weights: how many rows each candidate is nearest to (exact integer counts); with sample
  // weights, the summed weight of those rows (exact sums: the same on every rank layout).
  std::vector<double> candidate_weights;
  if (rows.weighted) {
    std::vector<ExactSum> sums(static_cast<std::size_t>(m));
    for (std::size_t i = 0; i < nearest.size(); ++i) sums[static_cast<std::size_t>(nearest[i])].add(rows.weights[i]);
    ExactSum::allreduce(sums, comm);
    for (const ExactSum& sum : sums) candidate_weights.push_back(sum.value());
  } else {
    std::vector<std::int64_t> counts(static_cast<std::size_t>(m), 0);
    for (const std::int32_t c : nearest) ++counts[static_cast<std::size_t>(c)];
    comm.allreduce(std::span<std::int64_t>(counts), MPI_SUM);
    candidate_weights.assign(counts.begin(), counts.end());
  }
  const WeightedReduction reduction(candidates.template cast<double>(), std::move(candidate_weights), rng, restart,
                                    parallel.triangle_bounds);
  RowMatrix<double> centres = reduction.seed(k);
  reduction.refine(centres, kReductionIterations);
  return centres.cast<T>();
}

// The in-memory shard as k-means|| reads it: one block (the shard itself, no copy); the
// picked rows are copied out and gathered (allgatherv).
template <class T>
SeedingRows<T> shard_seeding_rows(const Comm& comm, const DenseShard<T>& shard, const CounterRng& rng) {
  SeedingRows<T> rows;
  rows.first_row = shard.first_row;
  rows.local_rows = shard.local_rows();
  rows.features = shard.features();
  rows.weighted = shard.weighted();
  if (rows.weighted) rows.weights = shard.weights;
  rows.for_each = [&shard](const typename SeedingRows<T>::Visit& visit) { visit(shard, 0); };
  rows.draw = [&comm, &shard, &rng](std::size_t count, std::uint64_t stream) {
    return rows_as_matrix(comm, shard, weighted_random_rows(comm, shard, count, rng, stream));
  };
  rows.gather = [&comm, &shard](std::span<const Eigen::Index> positions) {
    const Eigen::Index d = shard.features();
    std::vector<T> picked;
    picked.reserve(positions.size() * static_cast<std::size_t>(d));
    for (const Eigen::Index i : positions) picked.insert(picked.end(), shard.row(i), shard.row(i) + d);
    const std::vector<T> gathered = comm.allgatherv(std::span<const T>(picked));
    const auto count = static_cast<Eigen::Index>(gathered.size()) / std::max<Eigen::Index>(d, 1);
    return RowMatrix<T>(Eigen::Map<const RowMatrix<T>>(gathered.data(), count, d));
  };
  return rows;
}


}  // namespace

template <class T>
RowMatrix<T> kmeans_parallel(const Comm& comm, const SeedingRows<T>& rows, int k, std::uint64_t seed,
                             int restart, const ParallelSeeding& parallel) {
  if (!(parallel.oversampling >= 0 && parallel.rounds >= 0))
    throw AgreedError("k-means||: oversampling and rounds must be >= 0");
  return kmeans_parallel_seeding(comm, rows, k, CounterRng(seed), restart, parallel);
}

template <class T>
RowMatrix<T> initial_centres(const Comm& comm, const DenseShard<T>& shard, InitMethod method,
                             int k, std::uint64_t seed, int restart, const FixedPoint& fixed,
                             const ParallelSeeding& parallel) {
  const CounterRng rng(seed);
  switch (method) {
    case InitMethod::KMeansPlusPlus: return kmeans_plus_plus(comm, shard, k, rng, restart, parallel.triangle_bounds);
    case InitMethod::KMeansParallel: {
      RowMatrix<T> centres = kmeans_parallel(comm, shard_seeding_rows(comm, shard, rng), k, seed, restart, parallel);
      return centres.rows() == k ? centres : kmeans_plus_plus(comm, shard, k, rng, restart, parallel.triangle_bounds);
    }
    case InitMethod::Forgy: {
      const auto rows = weighted_random_rows(comm, shard, static_cast<std::size_t>(k), rng,
                                             stream_id(Stream::Forgy, restart));
      return rows_as_matrix(comm, shard, rows);
    }
    case InitMethod::RandomPartition:
      return random_partition(comm, shard_seeding_rows(comm, shard, rng), k, seed, restart, fixed);
    case InitMethod::Explicit: break;
  }
  throw Error("explicit initial centres must be passed to the driver");
}

template <class T>
RowMatrix<T> random_partition(const Comm& comm, const SeedingRows<T>& rows, int k, std::uint64_t seed, int restart,
                              const FixedPoint& fixed) {
  const CounterRng rng(seed);
  ClusterSums sums(k, fixed);
  const std::uint64_t stream = stream_id(Stream::RandomPartition, restart);
  rows.for_each([&](const DenseShard<T>& block, Eigen::Index) {
    for (Eigen::Index i = 0; i < block.local_rows(); ++i) {
      const double u = rng.uniform(stream, block.global_index(i));
      const std::int32_t cluster = std::min(static_cast<std::int32_t>(u * k), k - 1);
      if (sums.weighted()) sums.add_weighted(cluster, block.row(i), block.weight(i), fixed);
      else sums.add(cluster, block.row(i), fixed);
    }
  });
  sums.allreduce(comm);
  RowMatrix<T> centres = RowMatrix<T>::Zero(k, rows.features);
  sums.means(fixed, centres);
  // A partition can be empty when k is close to n: give it a random row instead.
  std::vector<Eigen::Index> empty;
  for (Eigen::Index c = 0; c < k; ++c)
    if (sums.count(c) == 0) empty.push_back(c);
  if (!empty.empty()) {
    const RowMatrix<T> drawn = rows.draw(empty.size(), stream_id(Stream::FillEmpty, restart));
    for (std::size_t e = 0; e < empty.size(); ++e) centres.row(empty[e]) = drawn.row(static_cast<Eigen::Index>(e));
  }
  return centres;
}

#define LLOYD_INSTANTIATE(T)                                                                  \
  template RowMatrix<T> random_partition(const Comm&, const SeedingRows<T>&, int, std::uint64_t, int, \
                                         const FixedPoint&);                                  \
  template RowMatrix<T> kmeans_parallel(const Comm&, const SeedingRows<T>&, int, std::uint64_t, int, \
                                        const ParallelSeeding&);                              \
  template RowMatrix<T> initial_centres(const Comm&, const DenseShard<T>&, InitMethod, int,   \
                                        std::uint64_t, int, const FixedPoint&,                \
                                        const ParallelSeeding&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
