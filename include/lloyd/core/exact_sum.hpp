#pragma once
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/simd/kernels.hpp"
#include "lloyd/simd/float_bits.hpp"

namespace lloyd {

/// An exact accumulator for sums of doubles (a small Kulisch-style superaccumulator):
/// every finite double is added without rounding into 32-bit digits held in int64 words, so
/// the sum does not depend on the order of the additions or on how rows are split between
/// ranks. The only rounding happens once, in value(), which rounds to nearest.
class ExactSum {
 public:
  /// Enough digits for every finite double (2^-1074 .. 2^1024) plus carry room.
  static constexpr int kDigits = 68;

  void add(double value) {
    if (value == 0.0) return;
    add_nonzero(value);
  }
  /// Adds many finite values: the same sum as adding them one by one, in about a third of
  /// the operations (values of one binary exponent are summed as integers first).
  void add(std::span<const double> values);
  /// Adds Σ weights[i] · values[i] exactly (each term as weighted_product); add(values) when
  /// `weights` is empty (no sample weights).
  void add(std::span<const double> values, std::span<const double> weights);
  /// Collective over comm: replaces the local sum with the sum over all ranks.
  void allreduce(const Comm& comm);
  /// Collective over comm: the same for many accumulators in one message.
  static void allreduce(std::span<ExactSum> sums, const Comm& comm);
  /// Adds value · 2^exponent exactly. Precondition: it is a multiple of 2^−1074 (as every
  /// sum of doubles is) and below 2^1100 in magnitude.
  void add_integer(Int128 value, int exponent);
  /// The sum, correctly rounded to the nearest double.
  double value() const;

 private:
  void add_nonzero(double value);
  // Adds significand · 2^(offset − 1074) exactly (|significand| < 2^63).
  void add_scaled(std::int64_t significand, int offset);
  void normalize();
  std::array<std::int64_t, kDigits> digits_{};
  std::uint32_t pending_ = 0;  ///< additions since the last carry propagation
};

/// Collective over comm: the sum of every rank's `values`, exactly, rounded once: the same
/// bits for any number of ranks and any order.
double exact_total(const Comm& comm, std::span<const double> values);
/// Collective over comm: Σ weights[i] · values[i] over every rank's rows, exactly (each term
/// as weighted_product), rounded once; exact_total(values) when `weights` is empty on every
/// rank (no sample weights: rank-agreed, as DenseShard::has_weights).
double exact_total(const Comm& comm, std::span<const double> values, std::span<const double> weights);

/// Per feature, what an exact fixed-point sum of its values must hold: the largest
/// magnitude (its binary exponent sets the scale) and the lowest set bit of any value (how
/// far below that the values reach). Made in the data summary pass, then reduced.
class FeatureRange {
 public:
  /// lowest_bit() of a feature with no nonzero value.
  static constexpr int kNoBit = simd::kNoLowestBit;
  explicit FeatureRange(std::size_t features = 0)
      : max_abs_(features, 0.0), lowest_bit_(features, kNoBit) {}

  std::size_t features() const { return max_abs_.size(); }
  /// Takes every feature of `count` dense rows (row-major, features() values each): the
  /// kernel of the SIMD level in use (Kernels::feature_range_rows).
  template <class T>
  void add_rows(const T* rows, std::size_t count);
  /// Takes every feature of a dense row.
  template <class T>
  void add_row(const T* row) {
    for (std::size_t j = 0; j < max_abs_.size(); ++j) add(j, row[j]);
  }
  /// Takes one value of a feature (sparse rows).
  template <class T>
  void add(std::size_t feature, T value) {
    max_abs_[feature] = std::max(max_abs_[feature], std::abs(static_cast<double>(value)));
    lowest_bit_[feature] = std::min(lowest_bit_[feature], lowest_bit_of(static_cast<double>(value)));
  }
  /// Collective over comm: the range over all ranks' values (one message).
  void allreduce(const Comm& comm);

  /// The largest |x_j|.
  double max_abs(std::size_t feature) const { return max_abs_[feature]; }
  std::span<const double> max_abs() const { return max_abs_; }
  /// The exponent of the lowest set bit of any x_j (x_j is a multiple of 2^that), kNoBit if
  /// every x_j is 0.
  int lowest_bit(std::size_t feature) const { return static_cast<int>(lowest_bit_[feature]); }

  /// The exponent of value's lowest set bit (kNoBit for 0): lloyd/simd/float_bits.hpp.
  static std::int64_t lowest_bit_of(double value) { return simd::lowest_bit_of(value); }

 private:
  std::vector<double> max_abs_;
  std::vector<std::int64_t> lowest_bit_;
};

/// Per-feature fixed-point representation used for the centroid sums, exact for every
/// finite value: integer addition is associative, so the sums are identical for every
/// split of the rows, and each centroid coordinate is its rows' exact sum rounded once.
///
/// Feature j is scaled by 2^shift_j, shift_j = 52 − e_j where 2^(e_j − 1) ≤ max|x_j| < 2^e_j,
/// so that |x · 2^shift_j| < 2^52, and split into `limbs()` integers,
/// x · 2^shift_j = Σ_l limb_l · 2^(−52·l), each at most 2^52 in magnitude (each limb is the
/// nearest integer of what the ones before leave, times 2^52: exact double arithmetic, no
/// rounding, and the last one is an integer by then). Each limb is summed in an Int128 (2^75
/// rows before an overflow could happen). The number of limbs is the smallest that holds every value's
/// lowest bit (FeatureRange), taken over all features so that the limbs of all features are
/// laid out alike (the same on every rank: it comes from reduced values):
///   - one limb (the common case, e.g. float32 data spanning less than 2^52 between the
///     largest value and the lowest bit of the smallest): one int64 per value, summed in
///     vector registers (add_row), exactly as before;
///   - more limbs where the data need them (float64 data usually need two: a normal value
///     has 53 significant bits below its own exponent), summed the same way per limb.
/// Data so small that 2^shift is not a double (below about 2^−970) are scaled in two exact
/// steps. A FixedPoint made from max_abs alone (k-means++ weights) has one limb and rounds
/// each value to nearest: its error is below 2^−53 of the feature's largest magnitude.
class FixedPoint {
 public:
  static constexpr int kValueBits = 52;  ///< |limb| < 2^kValueBits
  FixedPoint() = default;
  /// Rounding form, one limb: `max_abs[j]` is the global maximum of |x_j| (identical on
  /// every rank).
  explicit FixedPoint(std::span<const double> max_abs);
  /// Exact form: from the reduced range of the data (identical on every rank).
  explicit FixedPoint(const FeatureRange& range);

  std::size_t features() const { return scale_.size(); }
  /// Limbs per value (the same for every feature).
  int limbs() const { return limbs_; }
  /// One limb, and every scale a double: the one-int64-per-value path (add_row, to_fixed,
  /// to_double).
  bool single() const { return !general_; }

  /// round(value × 2^shift) (single() only).
  std::int64_t to_fixed(double value, std::size_t feature) const {
    return static_cast<std::int64_t>(std::nearbyint(value * scale_[feature]));
  }
  /// The limbs of `value` of `feature`, limb l at limbs[l · stride]; with Sign = −1 they
  /// are subtracted. Any FixedPoint.
  template <int Sign = 1, class Word>
  void add_limbs(double value, std::size_t feature, Word* limbs, std::size_t stride) const {
    if (!general_) {
      limbs[0] += Sign * to_fixed(value, feature);
      return;
    }
    double f = value * scale_[feature] * second_scale_[feature];
    for (int l = 0; l + 1 < limbs_; ++l) {
      const double whole = std::nearbyint(f);
      limbs[static_cast<std::size_t>(l) * stride] += Sign * static_cast<std::int64_t>(whole);
      f = (f - whole) * 0x1p52;
    }
    // The last limb: an integer by now (exact form); rounded like to_fixed otherwise.
    limbs[static_cast<std::size_t>(limbs_ - 1) * stride] += Sign * static_cast<std::int64_t>(std::nearbyint(f));
  }
  /// Adds the fixed-point limbs of every feature of `row` to `sum` (limb l of feature j at
  /// sum[l · features() + j]); with Sign = −1 the row is subtracted instead. The
  /// vectorisable form of add_limbs for whole rows.
  template <int Sign = 1, class T>
  void add_row(std::int64_t* sum, const T* row) const {
    const std::int32_t first = 0;
    add_rows<Sign>(sum, 0, &first, row, 1);
  }
  /// add_row for `count` consecutive rows (row r at rows + r · features()), row r into the
  /// sums at sum + clusters[r] · cluster_stride: one kernel call for a group of rows.
  template <int Sign = 1, class T>
  void add_rows(std::int64_t* sum, std::ptrdiff_t cluster_stride, const std::int32_t* clusters, const T* rows,
                int count) const {
    // The kernel of the SIMD level in use (measured: the scalar loop was a quarter of a full
    // assignment at d = 8); every level adds the same integers.
    simd::kernels<T>().add_fixed_rows(sum, cluster_stride, clusters, rows, count, scale_.data(),
                                      second_scale_.data(), two_step_, limbs_,
                                      static_cast<std::ptrdiff_t>(scale_.size()), Sign);
  }
  /// The value of a single-limb sum, rounded once (single() only).
  double to_double(Int128 sum, std::size_t feature) const {
    return static_cast<double>(sum) * inverse_scale_[feature];
  }
  /// The value of the limb sums of `feature` (limb l at limbs[l · stride]), rounded once to
  /// the nearest double. Any FixedPoint.
  double to_double(const Int128* limbs, std::size_t stride, std::size_t feature) const;
  /// (the sum) − count · offset, exactly, rounded once: the sum centred on `offset`.
  double centred_to_double(const Int128* limbs, std::size_t stride, std::size_t feature,
                           std::int64_t count, double offset) const;
  /// The limbs (limb l at limbs[l · stride]) as one integer in units of the last limb,
  /// where there are at most two and that fits 127 bits.
  std::optional<Int128> in_last_limb_units(const Int128* limbs, std::size_t stride) const;
  /// The limbs' value, exactly (the general route of to_double and centred_to_double).
  ExactSum limb_sum(const Int128* limbs, std::size_t stride, std::size_t feature) const;

  /// Sample weights: a FixedPoint of a weighted fit is the grid of the products w·x (both
  /// halves of each, see weighted_product) and carries the grid of the weights themselves
  /// (one feature), so that every ClusterSums laid out for it sums Σ w·x and Σ w exactly.
  void set_weight_grid(const FixedPoint& weights) { weight_grid_ = std::make_shared<const FixedPoint>(weights); }
  /// The weights' grid, or null: an unweighted fit.
  const FixedPoint* weight_grid() const { return weight_grid_.get(); }
  const std::shared_ptr<const FixedPoint>& shared_weight_grid() const { return weight_grid_; }

 private:
  // value · 2^shift = value · scale_ · second_scale_ (second_scale_ is 1 unless 2^shift is
  // not a double); top_[j] = e_j, limb l of feature j counts units of 2^(e_j − 52(l + 1)).
  std::vector<double> scale_, second_scale_, inverse_scale_;
  std::vector<int> top_;
  int limbs_ = 1;
  bool two_step_ = false;  ///< some second_scale_ is not 1
  bool general_ = false;   ///< more than one limb, or two-step scales
  std::shared_ptr<const FixedPoint> weight_grid_;
};

/// Collective over comm: sample weights as integers, each rounded once to the one-limb grid
/// of the largest weight over all ranks (FixedPoint from max_abs: units below 2^52), so sums
/// of weights (or of weights times integers) are exact and layout-independent; integer
/// weights below 2^52 become the same power of two times themselves, so every comparison of
/// such sums is that of the rows repeated as often (weighted K-medians and K-medoids).
std::vector<std::int64_t> fixed_point_weights(const Comm& comm, std::span<const double> weights);

/// w·x as the rounded product and its exact error, p + e = w·x exactly (a fused
/// multiply-add): both halves are summed exactly, so Σ w·x is exact and integer weights give
/// the sums of repeated rows.
struct WeightedProduct {
  double product, error;
};
inline WeightedProduct weighted_product(double weight, double value) {
  const double product = weight * value;
  return {product, std::fma(weight, value, -product)};
}

}  // namespace lloyd
