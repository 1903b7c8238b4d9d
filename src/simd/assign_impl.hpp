#pragma once
// Kernels::row_minimum and Kernels::first_minimum written once for the levels without a
// version of their own (avx2, portable), included by their translation units after
// kernels_impl.hpp (LLOYD_SIMD_LEVEL_NAMESPACE names the level). A chunk of 64 bytes at a
// time, lane by lane, so that the compiler vectorises them with the level's registers. The
// minimum and the comparisons are exact, so any order gives the AVX-512 version's results
// for scores that are not NaN.
#include <cstddef>

#include "lloyd/simd/kernels.hpp"

namespace lloyd::simd::LLOYD_SIMD_LEVEL_NAMESPACE {

template <class T>
T row_minimum(const T* score, std::ptrdiff_t padded) {
  constexpr int kLanes = 64 / sizeof(T);
  T lane[kLanes];
  for (int l = 0; l < kLanes; ++l) lane[l] = score[l];
  for (std::ptrdiff_t c = kLanes; c < padded; c += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] = lane[l] < score[c + l] ? lane[l] : score[c + l];  // as minps
  T lowest = lane[0];
  for (int l = 1; l < kLanes; ++l) lowest = lowest < lane[l] ? lowest : lane[l];
  return lowest;
}

template <class T>
FirstMinimum first_minimum(const T* score, std::ptrdiff_t padded, T lowest, T threshold) {
  constexpr int kLanes = 64 / sizeof(T);
  std::ptrdiff_t best = -1, close = 0;
  for (std::ptrdiff_t c = 0; c < padded; c += kLanes) {
    int equal = 0, within = 0;
    for (int l = 0; l < kLanes; ++l) {
      equal |= score[c + l] == lowest;
      within += score[c + l] <= threshold;
    }
    if (best < 0 && equal) {
      best = c;
      while (score[best] != lowest) ++best;
    }
    close += within;
  }
  return {best, close};
}

}  // namespace lloyd::simd::LLOYD_SIMD_LEVEL_NAMESPACE
