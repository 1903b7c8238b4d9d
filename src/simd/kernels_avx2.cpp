// The kernels for CPUs with AVX2 and FMA (compiled with -mavx2 -mfma): 32-byte registers.
#include <immintrin.h>

#define LLOYD_SIMD_LEVEL_NAMESPACE avx2
#include "kernels_impl.hpp"
#include "bounds_impl.hpp"
#include "assign_impl.hpp"
#include "seeding_impl.hpp"
#include "generic_table.hpp"

namespace lloyd::simd {
namespace avx2 {
namespace {

template <class T>
struct Ymm;
template <>
struct Ymm<float> {
  using Reg = __m256;
  static constexpr int kWidth = 8;
  static Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Reg v) { _mm256_storeu_ps(p, v); }
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg broadcast(float v) { return _mm256_set1_ps(v); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
};
template <>
struct Ymm<double> {
  using Reg = __m256d;
  static constexpr int kWidth = 4;
  static Reg load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, Reg v) { _mm256_storeu_pd(p, v); }
  static Reg zero() { return _mm256_setzero_pd(); }
  static Reg broadcast(double v) { return _mm256_set1_pd(v); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_pd(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm256_add_pd(a, b); }
};

// Four consecutive values as doubles (exact).
__m256d load_doubles(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
__m256d load_doubles(const double* p) { return _mm256_loadu_pd(p); }

// Lanes 0–3 in one register, 4–7 in the other; the tail and the tree as the portable form.
template <class T>
double squared_distance(const T* x, const T* c, std::ptrdiff_t features) {
  __m256d low = _mm256_setzero_pd(), high = _mm256_setzero_pd();
  std::ptrdiff_t j = 0;
  for (; j + 8 <= features; j += 8) {
    const __m256d diff_low = _mm256_sub_pd(load_doubles(x + j), load_doubles(c + j));
    const __m256d diff_high = _mm256_sub_pd(load_doubles(x + j + 4), load_doubles(c + j + 4));
    low = _mm256_fmadd_pd(diff_low, diff_low, low);
    high = _mm256_fmadd_pd(diff_high, diff_high, high);
  }
  alignas(32) double lane[8];
  _mm256_store_pd(lane, low);
  _mm256_store_pd(lane + 4, high);
  add_squared_differences(x, c, j, features, lane);
  return lane_tree(lane);
}

template <class T>
const Kernels<T> table = generic_table<Ymm<T>, 2, 6, T>(&squared_distance<T>);

}  // namespace
}  // namespace avx2

template <class T>
const Kernels<T>& avx2_kernels() {
  return avx2::table<T>;
}
template const Kernels<float>& avx2_kernels<float>();
template const Kernels<double>& avx2_kernels<double>();

}  // namespace lloyd::simd
