// The kernels for CPUs with AVX-512 F, DQ, BW and VL (compiled with those flags): 64-byte
// registers, masked loads for the tails.
#include <type_traits>

#include "avx512_ops.hpp"
#include "assign_avx512.hpp"

#define LLOYD_SIMD_LEVEL_NAMESPACE avx512
#include "kernels_impl.hpp"
#include "bounds_avx512.hpp"
#include "seeding_avx512.hpp"

namespace lloyd::simd {
namespace avx512 {
namespace {

// (GCC 12 reports some of these intrinsics as reading an uninitialised value: a known false
// positive of the intrinsics' undefined-vector idiom.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// Kernels::add_fixed_row eight features per step (measured: the scalar loop was a quarter
// of a full assignment at d = 8): the same products, roundings to nearest even and integer
// sums as add_fixed_features.
template <int Sign, class T>
void add_fixed_lanes(std::int64_t* sum, const T* row, const double* scale, const double* second, bool two_step,
                     int limbs, std::ptrdiff_t d) {
  const __m512d unit = _mm512_set1_pd(0x1p52);
  // Features j … j + 7, masked only in the tail: a masked store does not forward to a later
  // load of the same sums (the next row of the same cluster), and whole registers measured
  // 10% faster on a whole assignment at d = 32.
  auto features = [&](std::ptrdiff_t j, auto masked) {
    constexpr bool kMasked = decltype(masked)::value;
    const auto mask = static_cast<__mmask8>(kMasked ? (1u << (d - j)) - 1 : 0xff);
    auto load = [&](const double* p) { return kMasked ? _mm512_maskz_loadu_pd(mask, p) : _mm512_loadu_pd(p); };
    __m512d f = _mm512_mul_pd(kMasked ? load_doubles(row + j, mask) : load_doubles(row + j), load(scale + j));
    if (two_step) f = _mm512_mul_pd(f, load(second + j));
    std::int64_t* target = sum + j;
    auto accumulate = [&](__m512i limb) {
      const __m512i old = kMasked ? _mm512_maskz_loadu_epi64(mask, target) : _mm512_loadu_si512(target);
      const __m512i updated = Sign > 0 ? _mm512_add_epi64(old, limb) : _mm512_sub_epi64(old, limb);
      if constexpr (kMasked) _mm512_mask_storeu_epi64(target, mask, updated);
      else _mm512_storeu_si512(target, updated);
      target += d;
    };
    for (int l = 0; l + 1 < limbs; ++l) {
      const __m512d whole = _mm512_roundscale_pd(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      accumulate(_mm512_cvttpd_epi64(whole));
      f = _mm512_mul_pd(_mm512_sub_pd(f, whole), unit);
    }
    // The last limb: an integer by now in the exact form; rounded otherwise, in the current
    // rounding mode as std::nearbyint (one conversion: |f| < 2^52, so no overflow).
    accumulate(_mm512_cvtpd_epi64(f));
  };
  std::ptrdiff_t j = 0;
  for (; j + 8 <= d; j += 8) features(j, std::false_type{});
  if (j < d) features(j, std::true_type{});
}
struct LaneRowSums {
  template <int Sign, class T>
  static void add(std::int64_t* sum, const T* row, const double* scale, const double* second, bool two_step,
                  int limbs, std::ptrdiff_t features) {
    add_fixed_lanes<Sign>(sum, row, scale, second, two_step, limbs, features);
  }
};
#pragma GCC diagnostic pop

// Tiles: 12 rows × 2 registers of accumulators, the panel's two registers and a broadcast
// fit the 32 vector registers without spilling.
template <class T>
const Kernels<T> table{
    .squared_distance = &squared_distance<T, T>,
    .squared_distance_to_double = &lane_squared_distance<T, double>,
    .squared_norm = &lane_squared_norm<T>,
    .direct_scores = &direct_scores<Zmm<T>, T>,
    .tile_scores = &tile_scores<Zmm<T>, 2, 12, T>,
    .add_fixed_rows = &add_fixed_rows<LaneRowSums, T>,
    // Bounds and the data range (bounds_impl.hpp, bounds_avx512.hpp).
    .round_bounds = &round_bounds_lanes,
    .hamerly_sweep = &hamerly_sweep_lanes,
    .feature_range_rows = &feature_range_lanes<T>,
    // Assignment decisions (assign_avx512.hpp).
    .row_minimum = &row_minimum<T>,
    .first_minimum = &first_minimum<T>,
    .tile_nearest = &tile_nearest<T>,
    .direct_group_nearest = &direct_group_nearest<T>,
    .direct_group_distances = &direct_group_distances<T>,
    // seeding
    .seed_fold_row = &seeding::fold_row<T>,
    .seed_rows_as_columns = &seeding::rows_as_columns<T>,
    .seed_columns_as_rows = &seeding::columns_as_rows<T>,
    .seed_fold_lanes = &seeding::fold_lanes_block<T>,
    .seed_weight_sums = &seeding::weight_sums<T>,
    // sparse rows (kernels_impl.hpp)
    .sparse_scores = &sparse_scores<T>,
    .sparse_dot = &sparse_dot<T>,
};

}  // namespace
}  // namespace avx512

template <class T>
const Kernels<T>& avx512_kernels() {
  return avx512::table<T>;
}
template const Kernels<float>& avx512_kernels<float>();
template const Kernels<double>& avx512_kernels<double>();

}  // namespace lloyd::simd
