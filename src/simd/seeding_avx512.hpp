#pragma once
// The seeding kernels (k-means++ steps) of the avx512 level: included by kernels_avx512.cpp
// after avx512_ops.hpp and seeding_impl.hpp. The same bits as the generic ones
// (seeding_impl.hpp, and direct_scores for the distances): tests/simd/test_simd_levels.cpp.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "avx512_ops.hpp"
#include "lloyd/simd/kernels.hpp"

namespace lloyd::simd::avx512::seeding {

// (GCC 12 reports some of these intrinsics as reading an uninitialised value: a known false
// positive of the intrinsics' undefined-vector idiom.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// round(value × scale) to int64, eight lanes at a time: FixedPoint::to_fixed's arithmetic
// (the product in double, rounded to nearest even).
inline __m512i to_fixed_lanes(__m512d value, __m512d scale) {
  return _mm512_cvttpd_epi64(
      _mm512_roundscale_pd(_mm512_mul_pd(value, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// Eight candidates' distances of one row against its D² (`current`): words += min(D², d²) in
// fixed point (× factor), largest = max(largest, min).
inline void fold_lanes(__m512d distance, __m512d current, __m512d factor, __m512i& words, __m512d& largest) {
  const __m512d kept = _mm512_min_pd(distance, current);
  words = _mm512_add_epi64(words, to_fixed_lanes(kept, factor));
  largest = _mm512_max_pd(largest, kept);
}

// The lanes of candidates [t, t + 8) that are real (below `trials`).
inline __mmask8 real_lanes(int trials, std::ptrdiff_t t) {
  const std::ptrdiff_t real = std::clamp<std::ptrdiff_t>(trials - t, 0, 8);
  return static_cast<__mmask8>((1u << real) - 1);
}

// Kernels::seed_fold_row, eight candidates per register.
template <class T>
bool fold_row(const T* distance, T current, double factor, int trials, std::ptrdiff_t stride, std::int64_t* words,
              double* largest) {
  __mmask8 nearer = 0;
  const __m512d against = _mm512_set1_pd(current);
  for (std::ptrdiff_t t = 0; t < stride; t += 8) {
    const __m512d lanes = load_doubles(distance + t);  // exact: the comparison is T's
    nearer |= _mm512_mask_cmp_pd_mask(real_lanes(trials, t), lanes, against, _CMP_LT_OQ);
    __m512i sum = _mm512_loadu_si512(words + t);
    __m512d top = _mm512_loadu_pd(largest + t);
    fold_lanes(lanes, against, _mm512_set1_pd(factor), sum, top);
    _mm512_storeu_si512(words + t, sum);
    _mm512_storeu_pd(largest + t, top);
  }
  return nearer != 0;
}

// Kernels::seed_weight_sums, eight weights per register: the clamp as the generic
// fixed_weight (min_pd(w, largest) is w < largest ? w : largest; NaN fails w > 0), the same
// rounding, and the block's integer lanes summed exactly.
template <class T>
void weight_sums(const T* weights, std::ptrdiff_t count, double largest, double factor, std::ptrdiff_t block,
                 std::int64_t* sums) {
  const __m512d top = _mm512_set1_pd(largest), scale = _mm512_set1_pd(factor), zero = _mm512_setzero_pd();
  for (std::ptrdiff_t first = 0, b = 0; first < count; first += block, ++b) {
    const std::ptrdiff_t end = std::min(count, first + block);
    __m512i lanes = _mm512_setzero_si512();
    for (std::ptrdiff_t i = first; i < end; i += 8) {
      const auto mask = static_cast<__mmask8>(end - i >= 8 ? 0xff : (1u << (end - i)) - 1);
      const __m512d value = load_doubles(weights + i, mask);
      const __m512d kept = _mm512_maskz_min_pd(_mm512_cmp_pd_mask(value, zero, _CMP_GT_OQ), value, top);
      lanes = _mm512_add_epi64(lanes, to_fixed_lanes(kept, scale));
    }
    sums[b] = _mm512_reduce_add_epi64(lanes);
  }
}

// Kernels::seed_rows_as_columns / seed_columns_as_rows: avx512_ops.hpp's (a 16 × 16
// transpose in registers for float).
template <class T>
void rows_as_columns(const T* first, int count, std::ptrdiff_t features, T* columns) {
  avx512::rows_as_columns(first, count, features, columns);
}
template <class T>
void columns_as_rows(const T* columns, std::ptrdiff_t features, T* first) {
  avx512::columns_as_rows(columns, features, first);
}

// Distances of the rows in `columns` (one per lane) to candidates which[0, C), into
// distance[which[c]]: max(‖x‖² + score, 0) with direct_scores' arithmetic for the score (the
// candidate's norm, feature j into accumulator j mod 4, then (a0 + a1) + (a2 + a3)): each
// candidate's chain is its own, so the same bits whichever candidates are computed together.
// (Inlined into fold_lanes_block, as it was when both were one function: its accumulators
// stay in registers across the candidates' calls.)
// (Consecutive: which[c] = which[0] + c, the offsets known to the compiler, as without bounds.)
template <int C, bool Consecutive, class T>
[[gnu::always_inline]] inline void candidate_distances(const T* scaled, const T* norms, std::ptrdiff_t d,
                                                      const T* columns, const int* which, typename Zmm<T>::Reg norm,
                                                      T (*distance)[SeedBlock<T>::kGroupRows]) {
  using Ops = Zmm<T>;
  using Register = typename Ops::Reg;
  constexpr int W = SeedBlock<T>::kGroupRows;  // d × W: candidate t at column t
  int column[C];
  Register a[C][4];
  for (int c = 0; c < C; ++c) {
    column[c] = Consecutive ? which[0] + c : which[c];
    a[c][0] = Ops::broadcast(norms[column[c]]);
    a[c][1] = a[c][2] = a[c][3] = Ops::zero();
  }
  std::ptrdiff_t j = 0;
  for (; j + 4 <= d; j += 4) {
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      const Register x = Ops::load(columns + (j + u) * W);
#pragma GCC unroll 6
      for (int c = 0; c < C; ++c) a[c][u] = Ops::fma(x, Ops::broadcast(scaled[(j + u) * W + column[c]]), a[c][u]);
    }
  }
  for (int u = 0; j + u < d; ++u) {
    const Register x = Ops::load(columns + (j + u) * W);
    for (int c = 0; c < C; ++c) a[c][u] = Ops::fma(x, Ops::broadcast(scaled[(j + u) * W + column[c]]), a[c][u]);
  }
  for (int c = 0; c < C; ++c)
    Ops::store(distance[column[c]],
               Ops::max(Ops::add(norm, Ops::add(Ops::add(a[c][0], a[c][1]), Ops::add(a[c][2], a[c][3]))), Ops::zero()));
}

// squared_norm (kernels_impl.hpp) of the rows in `columns`, one per lane: feature j into
// accumulator j mod 8, then its fixed tree — the same fused multiply-adds and additions in the
// same order, so the same bits (rows beyond a partial group's count are zeros: 0).
template <class T>
[[gnu::always_inline]] inline typename Zmm<T>::Reg column_squared_norms(const T* columns, std::ptrdiff_t d) {
  using Ops = Zmm<T>;
  using Register = typename Ops::Reg;
  constexpr int W = SeedBlock<T>::kGroupRows;
  Register lane[8];
  for (Register& value : lane) value = Ops::zero();
  std::ptrdiff_t j = 0;
  for (; j + 8 <= d; j += 8) {
#pragma GCC unroll 8
    for (int l = 0; l < 8; ++l) {
      const Register x = Ops::load(columns + (j + l) * W);
      lane[l] = Ops::fma(x, x, lane[l]);
    }
  }
  for (int l = 0; j < d; ++j, ++l) {
    const Register x = Ops::load(columns + j * W);
    lane[l] = Ops::fma(x, x, lane[l]);
  }
  return Ops::add(Ops::add(Ops::add(lane[0], lane[4]), Ops::add(lane[2], lane[6])),
                  Ops::add(Ops::add(lane[1], lane[5]), Ops::add(lane[3], lane[7])));
}

// Kernels::seed_fold_lanes: a register's worth of rows at a time as columns (column groups,
// or transposed here for a partial group), so each feature costs one load for all those rows
// and one fused multiply-add per candidate — no lanes spent on padding candidates and no
// reduction across lanes per row (measured on P1, 6 candidates, 2 ranks: the seeding,
// compute-bound, went from 0.46 to 0.31 s). With the triangle inequality's bounds, a group
// computes only the candidates that one of its rows may come closer to, and a group that no
// candidate can change is not read at all: its terms are its D² (the potentials' base).
template <class T>
std::ptrdiff_t fold_lanes_block(const SeedBlock<T>& block) {
  using Ops = Zmm<T>;
  using Register = typename Ops::Reg;
  using Mask = typename Ops::Mask;
  constexpr int W = SeedBlock<T>::kGroupRows;
  constexpr int kHalves = Ops::kHalves;
  // The block's fields in locals: the stores below (kept rows) could alias them otherwise.
  const std::ptrdiff_t d = block.features, end = block.count, grouped_rows = block.grouped;
  const int trials = block.trials;
  const T *const rows = block.rows, *const scaled = block.scaled, *const norms = block.norms;
  const T* const closest = block.closest;
  T* const scratch = block.scratch;
  std::ptrdiff_t* const kept_rows = block.kept;
  T* const kept_distances = block.kept_distances;
  const std::int32_t* const labels = block.labels;
  const T *const bounds = block.bounds, *const any_bound = block.any_bound;
  const std::ptrdiff_t bound_stride = block.bound_stride;
  // Σ min(D², d²) = Σ D² − Σ over the rows a candidate comes closer to of (D² − d²), each
  // term in fixed point: the same integers as fold_row's, but the work per row and
  // candidate is a comparison, and only the closer rows (a few percent) are converted.
  __m512i base = _mm512_setzero_si512(), reduction[8];
  Register largest[8];
  for (int t = 0; t < 8; ++t) {
    reduction[t] = _mm512_setzero_si512();
    largest[t] = Ops::zero();
  }
  const __m512d scale = _mm512_set1_pd(block.factor);
  auto to_fixed = [&](Register value, int h) { return to_fixed_lanes(Ops::half_as_doubles(value, h), scale); };
  // The rows of each group that some candidate may come closer to (all without bounds).
  constexpr std::ptrdiff_t kMaxGroups = 1024 / W;
  Mask live[kMaxGroups];
  const std::ptrdiff_t groups = (end + W - 1) / W;
  for (std::ptrdiff_t g = 0; g < groups; ++g) {
    const std::ptrdiff_t i = g * W;
    const auto lanes = Ops::first_lanes(static_cast<int>(std::min<std::ptrdiff_t>(W, end - i)));
    live[g] = lanes;
    if (labels)
      live[g] &= static_cast<Mask>(~Ops::less_equal(Ops::masked_load(closest + i, lanes),
                                                    Ops::gather(any_bound, Ops::load_index(labels + i, lanes), lanes)));
  }
  alignas(64) T distance[8][W];
  std::ptrdiff_t kept = 0;
  constexpr std::ptrdiff_t kAhead = 2;
  for (std::ptrdiff_t g = 0; g < groups; ++g) {
    const std::ptrdiff_t i = g * W;
    const int count = static_cast<int>(std::min<std::ptrdiff_t>(W, end - i));
    const auto lanes = Ops::first_lanes(count);
    const Register current = Ops::masked_load(closest + i, lanes);  // 0 beyond count
    __m512i current_fixed[kHalves];
    for (int h = 0; h < kHalves; ++h) {
      current_fixed[h] = to_fixed(current, h);
      base = _mm512_add_epi64(base, current_fixed[h]);
    }
    if (live[g] == 0) {  // every term is D²: nothing to read
      for (int t = 0; t < trials; ++t) largest[t] = Ops::max(largest[t], current);
      continue;
    }
    // The rows two live groups ahead (a group's work is long enough for the out-of-order core
    // to stop running ahead into the next group's loads: measured 2x slower without).
    if (g + kAhead < groups && (g + kAhead + 1) * W <= end && live[g + kAhead] != 0) {
      const char* ahead = reinterpret_cast<const char*>(rows + (i + kAhead * W) * d);
      for (std::size_t byte = 0; byte < static_cast<std::size_t>(W * d) * sizeof(T); byte += 64)
        __builtin_prefetch(ahead + byte);
    }
    // The candidates some live row may come closer to; the others' distances are taken as D²
    // (proven no smaller), which is what their terms and comparisons then see.
    int which[8], computed = 0;
    if (labels) {
      const auto label = Ops::load_index(labels + i, lanes);
      for (int t = 0; t < trials; ++t) {
        const Mask near = live[g] & static_cast<Mask>(~Ops::less_equal(
                                        current, Ops::gather(bounds + t * bound_stride, label, live[g])));
        if (near) which[computed++] = t;
        else Ops::store(distance[t], current);
      }
    } else {
      for (int t = 0; t < trials; ++t) which[computed++] = t;
    }
    const bool grouped = i + W <= grouped_rows;
    if (!grouped) avx512::rows_as_columns(rows + i * d, count, d, scratch);
    const T* columns = grouped ? rows + i * d : scratch;
    const Register norm = column_squared_norms(columns, d);  // (not kept per row: computed where read)
    // Six candidates at a time, at most; `consecutive` is std::true_type when no candidate
    // was skipped (which[c] = c: candidate_distances' Consecutive).
    auto score_candidates = [&](auto consecutive) {
      constexpr bool kConsecutive = decltype(consecutive)::value;
      for (int c = 0; c < computed; c += 6) {
        switch (std::min(6, computed - c)) {
          case 1: candidate_distances<1, kConsecutive>(scaled, norms, d, columns, which + c, norm, distance); break;
          case 2: candidate_distances<2, kConsecutive>(scaled, norms, d, columns, which + c, norm, distance); break;
          case 3: candidate_distances<3, kConsecutive>(scaled, norms, d, columns, which + c, norm, distance); break;
          case 4: candidate_distances<4, kConsecutive>(scaled, norms, d, columns, which + c, norm, distance); break;
          case 5: candidate_distances<5, kConsecutive>(scaled, norms, d, columns, which + c, norm, distance); break;
          default: candidate_distances<6, kConsecutive>(scaled, norms, d, columns, which + c, norm, distance); break;
        }
      }
    };
    if (computed == trials) score_candidates(std::true_type{});
    else score_candidates(std::false_type{});
    // Padding candidates: ‖x‖², as direct scores give them.
    for (int t = trials; t < 8; ++t) Ops::store(distance[t], Ops::max(norm, Ops::zero()));
    Mask nearer = 0;
    for (int t = 0; t < trials; ++t) {
      const Register value = Ops::load(distance[t]);
      const auto closer = static_cast<Mask>(Ops::less(value, current) & lanes);
      largest[t] = Ops::max(largest[t], Ops::min(value, current));
      if (!closer) continue;
      nearer |= closer;
      for (int h = 0; h < kHalves; ++h) {
        const auto in_half = static_cast<__mmask8>(static_cast<unsigned>(closer) >> (8 * h));
        reduction[t] = _mm512_mask_add_epi64(reduction[t], in_half, reduction[t],
                                             _mm512_sub_epi64(current_fixed[h], to_fixed(value, h)));
      }
    }
    for (auto rows = static_cast<unsigned>(nearer); rows != 0; rows &= rows - 1) {
      const int r = __builtin_ctz(rows);
      kept_rows[kept] = i + r;
      for (int t = 0; t < 8; ++t) kept_distances[kept * 8 + t] = distance[t][r];
      ++kept;
    }
  }
  // Below 2^11 rows of terms below 2^52 each: the int64 sums cannot overflow.
  alignas(64) std::int64_t lanes_of[8];
  _mm512_store_si512(lanes_of, base);
  std::int64_t total = 0;
  for (const std::int64_t value : lanes_of) total += value;
  for (int t = 0; t < trials; ++t) {
    _mm512_store_si512(lanes_of, reduction[t]);
    std::int64_t reduced = 0;
    for (const std::int64_t value : lanes_of) reduced += value;
    block.potential[t] = total - reduced;
    alignas(64) T top[W];
    Ops::store(top, largest[t]);
    for (const T value : top) block.largest[t] = std::max(block.largest[t], static_cast<double>(value));
  }
  return kept;
}

#pragma GCC diagnostic pop
}  // namespace lloyd::simd::avx512::seeding
