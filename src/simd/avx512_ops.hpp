#pragma once
// The AVX-512 operations the kernels of this level share, by element type. Included only by
// translation units compiled with the AVX-512 flags (src/simd/*_avx512.cpp): everything here
// lives in lloyd::simd::avx512, so no copy compiled for AVX-512 can stand in for code of
// another level at link time (tests/simd/portable_instructions.sh checks).
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace lloyd::simd::avx512 {

// Eight consecutive values as doubles (exact), the first `count` of them when masked.
inline __m512d load_doubles(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
inline __m512d load_doubles(const double* p) { return _mm512_loadu_pd(p); }
inline __m512d load_doubles(const float* p, __mmask8 mask) {
  return _mm512_cvtps_pd(_mm256_maskz_loadu_ps(mask, p));
}
inline __m512d load_doubles(const double* p, __mmask8 mask) { return _mm512_maskz_loadu_pd(mask, p); }

// (GCC 12 reports some of the intrinsics below (reductions, extracts) as reading an
// uninitialised value: a known false positive of the intrinsics' undefined-vector idiom.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// Eight values of T in one register (a ymm of floats, a zmm of doubles), the first `mask`
// lanes when masked (the rest 0), and their fused multiply-add.
inline __m256 load_eight(const float* p) { return _mm256_loadu_ps(p); }
inline __m512d load_eight(const double* p) { return _mm512_loadu_pd(p); }
inline __m256 load_eight(const float* p, __mmask8 mask) { return _mm256_maskz_loadu_ps(mask, p); }
inline __m512d load_eight(const double* p, __mmask8 mask) { return _mm512_maskz_loadu_pd(mask, p); }
inline __m256 fma_eight(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
inline __m512d fma_eight(__m512d a, __m512d b, __m512d c) { return _mm512_fmadd_pd(a, b, c); }
// The fixed tree ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) of eight lanes, in
// registers (the lanes' additions commute: the same bits as the scalar tree).
inline float lane_tree(__m256 lanes) {
  const __m128 halves = _mm_add_ps(_mm256_castps256_ps128(lanes), _mm256_extractf128_ps(lanes, 1));
  const __m128 pairs = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
  return _mm_cvtss_f32(_mm_add_ss(pairs, _mm_movehdup_ps(pairs)));
}
inline double lane_tree(__m512d lanes) {
  const __m256d halves = _mm256_add_pd(_mm512_castpd512_pd256(lanes), _mm512_extractf64x4_pd(lanes, 1));
  const __m128d pairs = _mm_add_pd(_mm256_castpd256_pd128(halves), _mm256_extractf128_pd(halves, 1));
  return _mm_cvtsd_f64(pairs) + _mm_cvtsd_f64(_mm_unpackhi_pd(pairs, pairs));
}
// Kernels::squared_norm (kernels_impl.hpp) by its arithmetic, in registers: feature j into
// lane j mod 8 in T (fused; a missing tail lane adds 0² exactly), then lane_tree.
template <class T>
T lane_squared_norm(const T* x, std::ptrdiff_t features) {
  decltype(load_eight(x)) lanes{};
  std::ptrdiff_t j = 0;
  for (; j + 8 <= features; j += 8) {
    const auto v = load_eight(x + j);
    lanes = fma_eight(v, v, lanes);
  }
  if (j < features) {
    const auto v = load_eight(x + j, static_cast<__mmask8>((1u << (features - j)) - 1));
    lanes = fma_eight(v, v, lanes);
  }
  return lane_tree(lanes);
}

// One 64-byte register of T: the few operations the direct scores need, by element type.
// Kernels::squared_distance: the eight lanes in one register, the tail masked (its missing
// lanes add 0² exactly). The centre may be given in T or already in double (exact
// conversions: the same bits).
template <class T, class U>
double squared_distance(const T* x, const U* c, std::ptrdiff_t features) {
  __m512d lanes = _mm512_setzero_pd();
  std::ptrdiff_t j = 0;
  for (; j + 8 <= features; j += 8) {
    const __m512d diff = _mm512_sub_pd(load_doubles(x + j), load_doubles(c + j));
    lanes = _mm512_fmadd_pd(diff, diff, lanes);
  }
  if (j < features) {
    const auto mask = static_cast<__mmask8>((1u << (features - j)) - 1);
    const __m512d diff = _mm512_sub_pd(load_doubles(x + j, mask), load_doubles(c + j, mask));
    lanes = _mm512_fmadd_pd(diff, diff, lanes);
  }
  return lane_tree(lanes);
}

// squared_distance of four rows to four centres (in double), each by its arithmetic: the
// same bits, four independent chains at once.
template <class T>
void squared_distances4(const T* const* x, const double* const* c, std::ptrdiff_t features, double* out) {
  __m512d lanes[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd()};
  std::ptrdiff_t j = 0;
  for (; j + 8 <= features; j += 8)
    for (int q = 0; q < 4; ++q) {
      const __m512d diff = _mm512_sub_pd(load_doubles(x[q] + j), load_doubles(c[q] + j));
      lanes[q] = _mm512_fmadd_pd(diff, diff, lanes[q]);
    }
  if (j < features) {
    const auto mask = static_cast<__mmask8>((1u << (features - j)) - 1);
    for (int q = 0; q < 4; ++q) {
      const __m512d diff = _mm512_sub_pd(load_doubles(x[q] + j, mask), load_doubles(c[q] + j, mask));
      lanes[q] = _mm512_fmadd_pd(diff, diff, lanes[q]);
    }
  }
  for (int q = 0; q < 4; ++q) out[q] = lane_tree(lanes[q]);
}

template <class T>
struct Zmm;
template <>
struct Zmm<float> {
  using Reg = __m512;
  static constexpr int kWidth = 16;
  static __m512 load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
  static __m512 zero() { return _mm512_setzero_ps(); }
  static __m512 broadcast(float v) { return _mm512_set1_ps(v); }
  static __m512 fma(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
  static __m512 add(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
  static __m512 min(__m512 a, __m512 b) { return _mm512_min_ps(a, b); }
  // One row per lane: gathered values, lane masks and a register of int32 (centre indices).
  using Mask = __mmask16;
  using Index = __m512i;
  static Mask first_lanes(int count) { return static_cast<Mask>((1u << count) - 1); }
  static __m512 masked_set(__m512 a, Mask lanes, float value) { return _mm512_mask_mov_ps(a, lanes, _mm512_set1_ps(value)); }
  static __m512 max(__m512 a, __m512 b) { return _mm512_max_ps(a, b); }
  static __m512 masked_load(const float* p, Mask lanes) { return _mm512_maskz_loadu_ps(lanes, p); }
  static Mask less(__m512 a, __m512 b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static Mask equal(__m512 a, __m512 b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static Mask less_equal(__m512 a, __m512 b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
  static Mask is_nan(__m512 a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  static float reduce_min(__m512 v) { return _mm512_reduce_min_ps(v); }
  static Index load_index(const std::int32_t* p, Mask lanes) { return _mm512_maskz_loadu_epi32(lanes, p); }
  static __m512 gather(const float* base, Index offset, Mask lanes) {
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, offset, base, 4);
  }
  static Index index_zero() { return _mm512_setzero_si512(); }
  static Index set_index(Index a, Mask lanes, int value) { return _mm512_mask_mov_epi32(a, lanes, _mm512_set1_epi32(value)); }
  static void store_index(std::int32_t* p, Index v) { _mm512_storeu_si512(p, v); }
  // Of `lanes`, those where index lies in [low, low + 16) (one unsigned comparison), and
  // table[index mod 16] there (else a): a per-lane lookup in a table a register at a time.
  static Mask index_within(Index index, int low, Mask lanes = 0xffff) {
    return _mm512_mask_cmplt_epu32_mask(lanes, _mm512_sub_epi32(index, _mm512_set1_epi32(low)), _mm512_set1_epi32(16));
  }
  static __m512 pick(__m512 a, Mask lanes, Index index, __m512 table) { return _mm512_mask_permutexvar_ps(a, lanes, index, table); }
  // Half h of the lanes (8 of them) as doubles, exactly.
  static constexpr int kHalves = 2;
  static __m512d half_as_doubles(__m512 v, int h) {
    return _mm512_cvtps_pd(h == 0 ? _mm512_castps512_ps256(v) : _mm512_extractf32x8_ps(v, 1));
  }
};
template <>
struct Zmm<double> {
  using Reg = __m512d;
  static constexpr int kWidth = 8;
  static __m512d load(const double* p) { return _mm512_loadu_pd(p); }
  static void store(double* p, __m512d v) { _mm512_storeu_pd(p, v); }
  static __m512d zero() { return _mm512_setzero_pd(); }
  static __m512d broadcast(double v) { return _mm512_set1_pd(v); }
  static __m512d fma(__m512d a, __m512d b, __m512d c) { return _mm512_fmadd_pd(a, b, c); }
  static __m512d add(__m512d a, __m512d b) { return _mm512_add_pd(a, b); }
  static __m512d min(__m512d a, __m512d b) { return _mm512_min_pd(a, b); }
  using Mask = __mmask8;
  using Index = __m256i;
  static Mask first_lanes(int count) { return static_cast<Mask>((1u << count) - 1); }
  static __m512d masked_set(__m512d a, Mask lanes, double value) { return _mm512_mask_mov_pd(a, lanes, _mm512_set1_pd(value)); }
  static __m512d max(__m512d a, __m512d b) { return _mm512_max_pd(a, b); }
  static __m512d masked_load(const double* p, Mask lanes) { return _mm512_maskz_loadu_pd(lanes, p); }
  static Mask less(__m512d a, __m512d b) { return _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ); }
  static Mask equal(__m512d a, __m512d b) { return _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ); }
  static Mask less_equal(__m512d a, __m512d b) { return _mm512_cmp_pd_mask(a, b, _CMP_LE_OQ); }
  static Mask is_nan(__m512d a) { return _mm512_cmp_pd_mask(a, a, _CMP_UNORD_Q); }
  static double reduce_min(__m512d v) { return _mm512_reduce_min_pd(v); }
  static Index load_index(const std::int32_t* p, Mask lanes) { return _mm256_maskz_loadu_epi32(lanes, p); }
  static __m512d gather(const double* base, Index offset, Mask lanes) {
    return _mm512_mask_i32gather_pd(_mm512_setzero_pd(), lanes, offset, base, 8);
  }
  static Index index_zero() { return _mm256_setzero_si256(); }
  static Index set_index(Index a, Mask lanes, int value) { return _mm256_mask_mov_epi32(a, lanes, _mm256_set1_epi32(value)); }
  static void store_index(std::int32_t* p, Index v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static Mask index_within(Index index, int low, Mask lanes = 0xff) {
    return _mm256_mask_cmplt_epu32_mask(lanes, _mm256_sub_epi32(index, _mm256_set1_epi32(low)), _mm256_set1_epi32(8));
  }
  static __m512d pick(__m512d a, Mask lanes, Index index, __m512d table) {
    return _mm512_mask_permutexvar_pd(a, lanes, _mm512_cvtepi32_epi64(index), table);
  }
  static constexpr int kHalves = 1;
  static __m512d half_as_doubles(__m512d v, int) { return v; }
};

// Within each 128-bit lane of four registers p[0..3], the 4 × 4 block transposed: out[q]
// lane L holds element q of lane L of p[0], p[1], p[2], p[3].
inline void transpose_lanes(const __m512* p, __m512* out) {
  const __m512 t0 = _mm512_unpacklo_ps(p[0], p[1]), t1 = _mm512_unpackhi_ps(p[0], p[1]),
               t2 = _mm512_unpacklo_ps(p[2], p[3]), t3 = _mm512_unpackhi_ps(p[2], p[3]);
  auto low = [](__m512 a, __m512 b) { return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b))); };
  auto high = [](__m512 a, __m512 b) { return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b))); };
  out[0] = low(t0, t2);
  out[1] = high(t0, t2);
  out[2] = low(t1, t3);
  out[3] = high(t1, t3);
}

// 16 × 16 floats transposed in registers: row[r] holds row r; column[j] gets feature j of
// rows 0 … 15 (only the first `columns` of them are written).
inline void transpose16(const __m512 (&row)[16], __m512* column, int columns = 16) {
  __m512 block[16];
  for (int g = 0; g < 4; ++g) transpose_lanes(row + 4 * g, block + 4 * g);
  for (int q = 0; q < 4; ++q) {
    const __m512 low01 = _mm512_shuffle_f32x4(block[q], block[4 + q], 0x44),
                 high01 = _mm512_shuffle_f32x4(block[q], block[4 + q], 0xee),
                 low23 = _mm512_shuffle_f32x4(block[8 + q], block[12 + q], 0x44),
                 high23 = _mm512_shuffle_f32x4(block[8 + q], block[12 + q], 0xee);
    if (q < columns) column[q] = _mm512_shuffle_f32x4(low01, low23, 0x88);
    if (q + 4 < columns) column[q + 4] = _mm512_shuffle_f32x4(low01, low23, 0xdd);
    if (q + 8 < columns) column[q + 8] = _mm512_shuffle_f32x4(high01, high23, 0x88);
    if (q + 12 < columns) column[q + 12] = _mm512_shuffle_f32x4(high01, high23, 0xdd);
  }
}

// Rows first … first + count − 1 (count ≤ the register width, each `features` long,
// consecutive) as columns: column[j · width + r] = row r's feature j; lanes beyond count 0.
inline void rows_as_columns(const float* first, int count, std::ptrdiff_t features, float* column) {
  for (std::ptrdiff_t j = 0; j < features; j += 16) {
    const int width = static_cast<int>(std::min<std::ptrdiff_t>(16, features - j));
    const auto mask = static_cast<__mmask16>((1u << width) - 1);
    __m512 row[16], out[16];
    for (int r = 0; r < 16; ++r) row[r] = r < count ? _mm512_maskz_loadu_ps(mask, first + r * features + j) : _mm512_setzero_ps();
    transpose16(row, out, width);
    for (int q = 0; q < width; ++q) _mm512_storeu_ps(column + (j + q) * 16, out[q]);
  }
}
inline void rows_as_columns(const double* first, int count, std::ptrdiff_t features, double* column) {
  for (std::ptrdiff_t j = 0; j < features; ++j)
    for (int r = 0; r < 8; ++r) column[j * 8 + r] = r < count ? first[r * features + j] : 0.0;
}

// The inverse for a whole register's worth of rows: rows_as_columns' output back to rows.
inline void columns_as_rows(const float* column, std::ptrdiff_t features, float* first) {
  for (std::ptrdiff_t j = 0; j < features; j += 16) {
    const int width = static_cast<int>(std::min<std::ptrdiff_t>(16, features - j));
    const auto mask = static_cast<__mmask16>((1u << width) - 1);
    __m512 in[16], out[16];
    for (int q = 0; q < 16; ++q) in[q] = q < width ? _mm512_loadu_ps(column + (j + q) * 16) : _mm512_setzero_ps();
    transpose16(in, out);
    for (int r = 0; r < 16; ++r) _mm512_mask_storeu_ps(first + r * features + j, mask, out[r]);
  }
}
inline void columns_as_rows(const double* column, std::ptrdiff_t features, double* first) {
  for (std::ptrdiff_t j = 0; j < features; ++j)
    for (int r = 0; r < 8; ++r) first[r * features + j] = column[j * 8 + r];
}
#pragma GCC diagnostic pop
}  // namespace lloyd::simd::avx512
