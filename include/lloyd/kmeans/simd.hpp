#pragma once
// The few AVX-512 operations the assignment kernels share, by element type.
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
};
#pragma GCC diagnostic pop
}  // namespace detail
}  // namespace lloyd
#endif
