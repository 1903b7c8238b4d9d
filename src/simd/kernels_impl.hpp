#pragma once
// The kernels of include/lloyd/simd/kernels.hpp written once over a vector type V, included
// by each level's translation unit (kernels_<level>.cpp, compiled with that level's target
// flags) inside its own namespace, so no code compiled for one level is shared with another.
//
// V provides, for one element type T: Reg, kWidth (values per Reg), load, store, zero,
// broadcast, fma (a fused multiply-add: one rounding) and add. The order of operations per
// score is fixed here and does not depend on kWidth, so every level computes the same bits.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "lloyd/simd/kernels.hpp"

namespace lloyd::simd::LLOYD_SIMD_LEVEL_NAMESPACE {

// Σ x_j² in T: feature j into lane j mod 8, the fixed tree. Runs once per row and centre, not
// per score: written for clarity (the compiler vectorises the lanes where it can).
template <class T>
T squared_norm(const T* x, std::ptrdiff_t features) {
  constexpr int kLanes = 8;
  T lane[kLanes] = {};
  std::ptrdiff_t j = 0;
  for (; j + kLanes <= features; j += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] = std::fma(x[j + l], x[j + l], lane[l]);
  for (int l = 0; j < features; ++j, ++l) lane[l] = std::fma(x[j], x[j], lane[l]);
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

// The scalar form of squared_distance's lanes: the tail of the vector levels, all of the
// portable one.
template <class T, class U>
void add_squared_differences(const T* x, const U* c, std::ptrdiff_t j, std::ptrdiff_t features, double* lane) {
  for (; j + 8 <= features; j += 8)
    for (int l = 0; l < 8; ++l) {
      const double diff = static_cast<double>(x[j + l]) - static_cast<double>(c[j + l]);
      lane[l] = std::fma(diff, diff, lane[l]);
    }
  for (int l = 0; j < features; ++j, ++l) {
    const double diff = static_cast<double>(x[j]) - static_cast<double>(c[j]);
    lane[l] = std::fma(diff, diff, lane[l]);
  }
}
inline double lane_tree(const double* lane) {
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

// Kernels::squared_distance (the portable level's) and squared_distance_to_double (every
// level's): the scalar lanes (the compiler vectorises them where the level allows; each term
// one fused multiply-add either way).
template <class T, class U>
double lane_squared_distance(const T* x, const U* c, std::ptrdiff_t features) {
  double lane[8] = {};
  add_squared_differences(x, c, 0, features, lane);
  return lane_tree(lane);
}

// Kernels::add_fixed_row for features [j, features), one at a time.
template <int Sign, class T>
void add_fixed_features(std::int64_t* sum, const T* row, const double* scale, const double* second, bool two_step,
                        int limbs, std::ptrdiff_t j, std::ptrdiff_t features) {
  if (limbs == 1 && !two_step) {
    for (; j < features; ++j)
      sum[j] += Sign * static_cast<std::int64_t>(std::nearbyint(static_cast<double>(row[j]) * scale[j]));
    return;
  }
  for (; j < features; ++j) {
    double f = static_cast<double>(row[j]) * scale[j];
    if (two_step) f *= second[j];
    std::int64_t* limb = sum + j;
    for (int l = 0; l + 1 < limbs; ++l, limb += features) {
      const double whole = std::nearbyint(f);
      *limb += Sign * static_cast<std::int64_t>(whole);
      f = (f - whole) * 0x1p52;
    }
    *limb += Sign * static_cast<std::int64_t>(std::nearbyint(f));
  }
}
// One row's fixed-point limbs, feature by feature (RowSums of add_fixed_rows).
struct ScalarRowSums {
  template <int Sign, class T>
  static void add(std::int64_t* sum, const T* row, const double* scale, const double* second, bool two_step,
                  int limbs, std::ptrdiff_t features) {
    add_fixed_features<Sign>(sum, row, scale, second, two_step, limbs, 0, features);
  }
};
// Kernels::add_fixed_rows, a row at a time by RowSums::add<Sign>.
template <class RowSums, class T>
void add_fixed_rows(std::int64_t* sum, std::ptrdiff_t cluster_stride, const std::int32_t* clusters, const T* rows,
                    int count, const double* scale, const double* second, bool two_step, int limbs,
                    std::ptrdiff_t features, int sign) {
  for (int r = 0; r < count; ++r) {
    std::int64_t* target = sum + clusters[r] * cluster_stride;
    const T* row = rows + r * features;
    if (sign > 0) RowSums::template add<1>(target, row, scale, second, two_step, limbs, features);
    else RowSums::template add<-1>(target, row, scale, second, two_step, limbs, features);
  }
}

// score[c] for c < columns: norms[c], then feature j into accumulator j mod 4, summed as
// (a0 + a1) + (a2 + a3).
template <class V, class T>
void direct_scores(const T* scaled, const T* norms, std::ptrdiff_t columns, std::ptrdiff_t d, const T* x,
                   T* score) {
  for (std::ptrdiff_t c = 0; c < columns; c += V::kWidth) {
    auto feature = [&](std::ptrdiff_t j) { return V::load(scaled + j * columns + c); };
    auto a0 = V::load(norms + c), a1 = V::zero(), a2 = V::zero(), a3 = V::zero();
    std::ptrdiff_t j = 0;
    for (; j + 4 <= d; j += 4) {
      a0 = V::fma(V::broadcast(x[j]), feature(j), a0);
      a1 = V::fma(V::broadcast(x[j + 1]), feature(j + 1), a1);
      a2 = V::fma(V::broadcast(x[j + 2]), feature(j + 2), a2);
      a3 = V::fma(V::broadcast(x[j + 3]), feature(j + 3), a3);
    }
    if (j < d) a0 = V::fma(V::broadcast(x[j]), feature(j), a0);
    if (j + 1 < d) a1 = V::fma(V::broadcast(x[j + 1]), feature(j + 1), a1);
    if (j + 2 < d) a2 = V::fma(V::broadcast(x[j + 2]), feature(j + 2), a2);
    V::store(score + c, V::add(V::add(a0, a1), V::add(a2, a3)));
  }
}

// ScoreTiles: a tile of kRows rows against each panel of kPanel centres, kGroup rows × kRegs
// registers of accumulators at a time (as many as the level's register file holds), every
// score one chain: its centre's norm, then x_j · (−2c_j) for j = 0, 1, …, d − 1.
template <class V, int kRegs, int kGroup, class T>
void tile_scores(const T* packed, const T* norms, std::ptrdiff_t panels, std::ptrdiff_t d, const T* const* rows,
                 int count, T* score, std::ptrdiff_t stride, T* tile) {
  using Shape = TileShape<T>;
  constexpr int kRows = Shape::kRows, kSlice = Shape::kSlice, kPanel = Shape::kPanel;
  constexpr int kPart = kRegs * V::kWidth;  // centres per pass over the features
  static_assert(kPanel % kPart == 0 && kRows % kGroup == 0 && kSlice % V::kWidth == 0);
  using Reg = typename V::Reg;
  const std::ptrdiff_t full = d / kSlice;
  // Slice s of tile row r at tile[(s·kRows + r)·kSlice]; rows beyond count and features
  // beyond d stay zero from the last fill (their scores are never stored).
  for (int r = 0; r < kRows; ++r) {
    // Register copies (a library copy call per 64 bytes cost a tenth of the time).
    for (std::ptrdiff_t s = 0; s < full; ++s) {
      T* slice = tile + (s * kRows + r) * kSlice;
      for (int v = 0; v < kSlice; v += V::kWidth)
        V::store(slice + v, r < count ? V::load(rows[r] + s * kSlice + v) : V::zero());
    }
    T* tail = tile + (full * kRows + r) * kSlice;
    for (std::ptrdiff_t j = full * kSlice; j < d; ++j) tail[j - full * kSlice] = r < count ? rows[r][j] : T(0);
  }
  for (std::ptrdiff_t panel = 0; panel < panels; ++panel) {
    const T* centre = packed + panel * kPanel * d;
    for (int part = 0; part < kPanel / kPart; ++part) {
      const std::ptrdiff_t first_centre = panel * kPanel + part * kPart;
      for (int group = 0; group < kRows / kGroup && group * kGroup < count; ++group) {
        const T* group_rows = tile + group * kGroup * kSlice;
        Reg acc[kGroup][kRegs];
#pragma GCC unroll 16
        for (int r = 0; r < kGroup; ++r)
#pragma GCC unroll 4
          for (int v = 0; v < kRegs; ++v) acc[r][v] = V::load(norms + first_centre + v * V::kWidth);
        auto feature = [&](const T* column, const T* values) {
          Reg c[kRegs];
#pragma GCC unroll 4
          for (int v = 0; v < kRegs; ++v) c[v] = V::load(column + part * kPart + v * V::kWidth);
#pragma GCC unroll 16
          for (int r = 0; r < kGroup; ++r) {
            const Reg x = V::broadcast(values[r * kSlice]);
#pragma GCC unroll 4
            for (int v = 0; v < kRegs; ++v) acc[r][v] = V::fma(x, c[v], acc[r][v]);
          }
        };
        std::ptrdiff_t s = 0;
        for (; s < full; ++s) {
          const T* values = group_rows + s * kRows * kSlice;
          const T* column = centre + s * kSlice * kPanel;
#pragma GCC unroll 16
          for (int j = 0; j < kSlice; ++j) feature(column + j * kPanel, values + j);
        }
        for (std::ptrdiff_t j = full * kSlice; j < d; ++j)
          feature(centre + j * kPanel, group_rows + full * kRows * kSlice + (j - full * kSlice));
#pragma GCC unroll 16
        for (int r = 0; r < kGroup; ++r) {  // constant indices keep the accumulators in registers
          if (group * kGroup + r >= count) break;
#pragma GCC unroll 4
          for (int v = 0; v < kRegs; ++v)
            V::store(score + (group * kGroup + r) * stride + first_centre + v * V::kWidth, acc[r][v]);
        }
      }
    }
  }
}

// Kernels::sparse_scores: the centres' loop vectorises (the chains run side by side, each in
// e's order).
template <class T>
void sparse_scores(const T* values, const std::int32_t* indices, std::ptrdiff_t count, const T* columns,
                   std::ptrdiff_t stride, std::ptrdiff_t k, T* __restrict score) {
  std::fill(score, score + k, T{0});
  for (std::ptrdiff_t e = 0; e < count; ++e) {
    const T value = values[e];
    const T* __restrict column = columns + static_cast<std::ptrdiff_t>(indices[e]) * stride;
    for (std::ptrdiff_t c = 0; c < k; ++c) score[c] = std::fma(value, column[c], score[c]);
  }
}

// Kernels::sparse_dot
template <class T>
T sparse_dot(const T* values, const std::int32_t* indices, std::ptrdiff_t count, const T* dense) {
  T dot = 0;
  for (std::ptrdiff_t e = 0; e < count; ++e) dot = std::fma(values[e], dense[indices[e]], dot);
  return dot;
}

}  // namespace lloyd::simd::LLOYD_SIMD_LEVEL_NAMESPACE
