#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

namespace lloyd {

/// The largest |value| lloyd accepts in data, initial centres or a model's centroids of
/// element type T with `features` columns: larger values (and NaN, ±Inf) are refused where
/// they are read (io/hdf5 read_shard / read_matrix / RowReader::read_block, io/csr), so
/// that no kernel ever sees a value whose arithmetic overflows.
///
/// Why this bound. Let M be the largest |x_j| of the data and the centres (a centre is a
/// row or a mean of rows, so its coordinates are within M too) and d the number of
/// features. Then, in T:
///   - ‖x‖², ‖c‖² ≤ d·M²; a coordinate difference is at most 2M, so ‖x − c‖² ≤ 4d·M²;
///   - the GEMM form ‖x‖² − 2x·c + ‖c‖² and its score ‖c‖² − 2x·c have partial sums of at
///     most 4d·M² (products of magnitude ≤ M² summed d at a time);
///   - a k-means++ weight is such a distance; its fixed-point form is scaled to < 2^52.
/// In double, summed over the n < 2^63 rows (inertia, k-means|| ψ, spreads and the
/// sums-of-clusters form of the inertia, which adds three such totals): ≤ 3 · 2^63 · 4d·M².
/// The fixed-point and exact sums of coordinates are integers that cannot overflow for any
/// finite value (FixedPoint, ExactSum). So it suffices that
///   float:  16 · 4d·M² ≤ 2^127 (a factor 16 of headroom for rounding and the score's
///           intermediate terms), i.e. M² ≤ 2^(121 − ⌈log2 d⌉);
///   double: 16 · 2^63 · 4d·M² ≤ 2^1023, i.e. M² ≤ 2^(954 − ⌈log2 d⌉);
/// and M is taken as the power of two 2^⌊that exponent / 2⌋. For d = 32 that is about
/// 2.9e17 in float32 and 4.9e142 in float64 data.
template <class T>
double largest_accepted_magnitude(std::uint64_t features) {
  static_assert(std::numeric_limits<T>::max_exponent == 128 || std::numeric_limits<T>::max_exponent == 1024);
  int log2_features = 0;  // ⌈log2 d⌉
  while (log2_features < 64 && (std::uint64_t{1} << log2_features) < features) ++log2_features;
  const int squared = std::numeric_limits<T>::max_exponent == 128 ? 121 - log2_features : 954 - log2_features;
  return std::ldexp(1.0, squared / 2);
}

/// Whether lloyd accepts `value` in data with this limit: finite and |value| ≤ limit
/// (false for NaN).
template <class T>
bool accepted_value(T value, double limit) {
  return std::abs(static_cast<double>(value)) <= limit;
}

/// The index of the first of `count` values that lloyd refuses (see accepted_value), or
/// `count` when every one is accepted. Scans without a branch per value (vectorised).
template <class T>
std::size_t first_refused_value(const T* values, std::size_t count, double limit);

/// The one line naming a refused value: "<where>: row R contains NaN (column J)", the same
/// for Inf, or "<where>: row R column J holds V: beyond L, the largest magnitude whose
/// squared distances lloyd can sum without overflow in floatN data of d features".
template <class T>
std::string refused_value_message(const std::string& where, std::uint64_t row, std::uint64_t column,
                                  T value, std::uint64_t features);

/// Why lloyd refuses `value` in data of `features` columns: "NaN", "Inf", or "V: beyond L, the
/// largest magnitude whose squared distances lloyd can sum without overflow in floatN data of
/// d features" (the tail of refused_value_message).
template <class T>
std::string refused_value_reason(T value, std::uint64_t features);

/// Throws an Error (refused_value_message, `where` naming the data) at the first value lloyd
/// refuses among `rows` row-major rows of `features` values, the first of them global row
/// `first_row`. Every dense matrix lloyd reads or is handed passes here, so that no kernel
/// sees such a value.
template <class T>
void check_accepted_values(const T* values, std::uint64_t rows, std::uint64_t features, std::uint64_t first_row,
                           const std::string& where);

}  // namespace lloyd
