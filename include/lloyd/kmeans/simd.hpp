#pragma once
// The few AVX-512 operations the assignment kernels share, by element type.
#include <cstdint>
#include <limits>

#if defined(__AVX512F__)
#include <immintrin.h>

namespace lloyd {
namespace detail {
// Eight consecutive values as doubles (exact), the first `count` of them when masked.
inline __m512d load_doubles(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
inline __m512d load_doubles(const double* p) { return _mm512_loadu_pd(p); }
inline __m512d load_doubles(const float* p, __mmask8 mask) {
  return _mm512_cvtps_pd(_mm256_maskz_loadu_ps(mask, p));
}
inline __m512d load_doubles(const double* p, __mmask8 mask) { return _mm512_maskz_loadu_pd(mask, p); }

// One 64-byte register of T: the few operations the direct scores need, by element type.
// (GCC 12 reports its own _mm512_reduce_min_* as reading an uninitialised value: a known
// false positive of the intrinsics' undefined-vector idiom.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
template <class T>
struct Zmm;
template <>
struct Zmm<float> {
  static __m512 load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
  static __m512 zero() { return _mm512_setzero_ps(); }
  static __m512 broadcast(float v) { return _mm512_set1_ps(v); }
  static __m512 fma(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
  static __m512 add(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
  static __m512 min(__m512 a, __m512 b) { return _mm512_min_ps(a, b); }
  static float reduce_min(__m512 a) { return _mm512_reduce_min_ps(a); }
  static __mmask16 equal(__m512 a, float b) { return _mm512_cmp_ps_mask(a, _mm512_set1_ps(b), _CMP_EQ_OQ); }
  static __mmask16 at_most(__m512 a, float b) { return _mm512_cmp_ps_mask(a, _mm512_set1_ps(b), _CMP_LE_OQ); }
  static __m512 mask_infinity(__m512 a, int lane) {
    return _mm512_mask_mov_ps(a, static_cast<__mmask16>(1u << lane), _mm512_set1_ps(std::numeric_limits<float>::infinity()));
  }
  // One row per lane: gathered values, lane masks and a register of int32 (centre indices).
  using Mask = __mmask16;
  using Index = __m512i;
  static Mask first_lanes(int count) { return static_cast<Mask>((1u << count) - 1); }
  static __m512 max(__m512 a, __m512 b) { return _mm512_max_ps(a, b); }
  static Mask less(__m512 a, __m512 b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static Index load_index(const std::int32_t* p, Mask lanes) { return _mm512_maskz_loadu_epi32(lanes, p); }
  static __m512 gather(const float* base, Index offset, Mask lanes) {
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, offset, base, 4);
  }
  static Index index_zero() { return _mm512_setzero_si512(); }
  static Index set_index(Index a, Mask lanes, int value) { return _mm512_mask_mov_epi32(a, lanes, _mm512_set1_epi32(value)); }
  static void store_index(std::int32_t* p, Index v) { _mm512_storeu_si512(p, v); }
  // Lanes where index lies in [low, low + 16), and table[index mod 16] there (else a).
  static Mask index_within(Index index, int low) {
    return _mm512_cmpge_epi32_mask(index, _mm512_set1_epi32(low)) & _mm512_cmplt_epi32_mask(index, _mm512_set1_epi32(low + 16));
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
  static __m512d load(const double* p) { return _mm512_loadu_pd(p); }
  static void store(double* p, __m512d v) { _mm512_storeu_pd(p, v); }
  static __m512d zero() { return _mm512_setzero_pd(); }
  static __m512d broadcast(double v) { return _mm512_set1_pd(v); }
  static __m512d fma(__m512d a, __m512d b, __m512d c) { return _mm512_fmadd_pd(a, b, c); }
  static __m512d add(__m512d a, __m512d b) { return _mm512_add_pd(a, b); }
  static __m512d min(__m512d a, __m512d b) { return _mm512_min_pd(a, b); }
  static double reduce_min(__m512d a) { return _mm512_reduce_min_pd(a); }
  static __mmask8 equal(__m512d a, double b) { return _mm512_cmp_pd_mask(a, _mm512_set1_pd(b), _CMP_EQ_OQ); }
  static __mmask8 at_most(__m512d a, double b) { return _mm512_cmp_pd_mask(a, _mm512_set1_pd(b), _CMP_LE_OQ); }
  static __m512d mask_infinity(__m512d a, int lane) {
    return _mm512_mask_mov_pd(a, static_cast<__mmask8>(1u << lane), _mm512_set1_pd(std::numeric_limits<double>::infinity()));
  }
  using Mask = __mmask8;
  using Index = __m256i;
  static Mask first_lanes(int count) { return static_cast<Mask>((1u << count) - 1); }
  static __m512d max(__m512d a, __m512d b) { return _mm512_max_pd(a, b); }
  static Mask less(__m512d a, __m512d b) { return _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ); }
  static Index load_index(const std::int32_t* p, Mask lanes) { return _mm256_maskz_loadu_epi32(lanes, p); }
  static __m512d gather(const double* base, Index offset, Mask lanes) {
    return _mm512_mask_i32gather_pd(_mm512_setzero_pd(), lanes, offset, base, 8);
  }
  static Index index_zero() { return _mm256_setzero_si256(); }
  static Index set_index(Index a, Mask lanes, int value) { return _mm256_mask_mov_epi32(a, lanes, _mm256_set1_epi32(value)); }
  static void store_index(std::int32_t* p, Index v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static Mask index_within(Index index, int low) {
    return _mm256_cmpge_epi32_mask(index, _mm256_set1_epi32(low)) & _mm256_cmplt_epi32_mask(index, _mm256_set1_epi32(low + 8));
  }
  static __m512d pick(__m512d a, Mask lanes, Index index, __m512d table) {
    return _mm512_mask_permutexvar_pd(a, lanes, _mm512_cvtepi32_epi64(index), table);
  }
  static constexpr int kHalves = 1;
  static __m512d half_as_doubles(__m512d v, int) { return v; }
};
#pragma GCC diagnostic pop
}  // namespace detail
}  // namespace lloyd
#endif
