#pragma once
// The assignment decisions of Kernels (row_minimum, first_minimum, direct_group_nearest,
// direct_group_distances) with AVX-512: included only by kernels_avx512.cpp, so everything
// here lives in lloyd::simd::avx512 (tests/simd/portable_instructions.sh checks).
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>

#include "avx512_ops.hpp"
#include "lloyd/simd/kernels.hpp"

namespace lloyd::simd::avx512 {

// GCC 12 reports its own _mm512_reduce_min_* and the unpack/shuffle intrinsics as reading an
// uninitialised value (a known false positive of the intrinsics' undefined-vector idiom).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// Row scans over whole registers of scores: a chunk compared in one instruction, the first
// match read from the bit mask.
template <class T>
T row_minimum(const T* score, std::ptrdiff_t padded) {
  using Ops = Zmm<T>;
  auto lowest = Ops::load(score);
  for (std::ptrdiff_t c = Ops::kWidth; c < padded; c += Ops::kWidth) lowest = Ops::min(lowest, Ops::load(score + c));
  return Ops::reduce_min(lowest);
}

template <class T>
FirstMinimum first_minimum(const T* score, std::ptrdiff_t padded, T lowest, T threshold) {
  using Ops = Zmm<T>;
  const auto low = Ops::broadcast(lowest), limit = Ops::broadcast(threshold);
  std::ptrdiff_t best = -1, close = 0;
  for (std::ptrdiff_t c = 0; c < padded; c += Ops::kWidth) {
    const auto chunk = Ops::load(score + c);
    const unsigned equal = Ops::equal(chunk, low);
    if (best < 0 && equal) best = c + __builtin_ctz(equal);
    close += __builtin_popcount(static_cast<unsigned>(Ops::less_equal(chunk, limit)));
  }
  return {best, close};
}

// The rows of Kernels::tile_nearest that one centre clearly wins, best[r] for those. All
// rows' minima first (each a reduction across lanes: independent chains the core overlaps),
// then their rounding margins (the rows' norms in registers here: a call per row through the
// table cost a tenth of a whole assignment at d = 32), then per row the scores within the
// margin of the minimum as one bit mask per 64 scores: exactly one such score means that
// centre is clearly nearest (the minimum itself always lies within its margin, so the single
// one is the first at the minimum); none (a NaN margin) or several: undecided. With `second`,
// a decided row's smallest other score too. kChunks: registers of scores per row when known at
// compile time (0: padded / kWidth at run time).
template <class T, int kChunks>
std::uint32_t tile_decisions(const T* score, std::ptrdiff_t stride, std::ptrdiff_t padded, std::ptrdiff_t centres,
                             const T* const* rows, std::ptrdiff_t features, const T* norms, double slack,
                             T largest_norm, int count, std::int32_t* best, T* second) {
  using Ops = Zmm<T>;
  constexpr int kMaxRows = 32;  // one bit per row in the result
  const std::ptrdiff_t chunks = kChunks > 0 ? kChunks : padded / Ops::kWidth;
  std::uint32_t undecided = 0;
  T threshold[kMaxRows];
  for (int r = 0; r < count; ++r) {
    const T* row_score = score + r * stride;
    auto low = Ops::load(row_score);
    unsigned nan = Ops::is_nan(low);
#pragma GCC unroll 8
    for (std::ptrdiff_t c = 1; c < chunks; ++c) {
      const auto chunk = Ops::load(row_score + c * Ops::kWidth);
      low = Ops::min(low, chunk);
      nan |= Ops::is_nan(chunk);
    }
    undecided |= static_cast<std::uint32_t>(nan != 0) << r;
    threshold[r] = Ops::reduce_min(low);
  }
  for (int r = 0; r < count; ++r) {  // as Assigner::nearest
    const T norm = norms ? norms[r] : lane_squared_norm(rows[r], features);
    const double margin = slack * (static_cast<double>(norm) + static_cast<double>(largest_norm));
    threshold[r] = static_cast<T>(static_cast<double>(threshold[r]) + margin);
  }
  constexpr int kChunksPerWord = 64 / Ops::kWidth;
  for (int r = 0; r < count; ++r) {
    const T* row_score = score + r * stride;
    const auto limit = Ops::broadcast(threshold[r]);
    // Branch-free over the words (where the minimum lies is data): each word offers its first
    // score within the margin, or a position past every centre when it has none.
    std::ptrdiff_t first = padded;
    int close = 0;
    for (std::ptrdiff_t word = 0; word < chunks; word += kChunksPerWord) {
      std::uint64_t within = 0;
#pragma GCC unroll 8
      for (int g = 0; g < kChunksPerWord; ++g) {
        if (word + g >= chunks) break;
        within |= static_cast<std::uint64_t>(Ops::less_equal(Ops::load(row_score + (word + g) * Ops::kWidth), limit))
                  << (g * Ops::kWidth);
      }
      const std::ptrdiff_t offer = word * Ops::kWidth + __builtin_ctzll(within | static_cast<std::uint64_t>(within == 0)) +
                                   static_cast<std::ptrdiff_t>(within == 0) * padded;
      first = std::min(first, offer);
      close += __builtin_popcountll(within);
    }
    if (close != 1 || first >= centres) undecided |= 1u << r;
    best[r] = static_cast<std::int32_t>(first < centres ? first : 0);
    if (second && !(undecided >> r & 1u)) {
      // The smallest score but the best centre's (its lane masked to +inf): Assigner::
      // minimum_except's, exact in any order.
      auto low = Ops::broadcast(std::numeric_limits<T>::infinity());
#pragma GCC unroll 8
      for (std::ptrdiff_t c = 0; c < chunks; ++c) {
        const auto lanes = static_cast<typename Ops::Mask>(c == first / Ops::kWidth ? 1u << (first % Ops::kWidth) : 0u);
        low = Ops::min(low, Ops::masked_set(Ops::load(row_score + c * Ops::kWidth), lanes,
                                            std::numeric_limits<T>::infinity()));
      }
      second[r] = Ops::reduce_min(low);
    }
  }
  return undecided;
}

// Kernels::tile_nearest: tile_decisions, its loops unrolled for up to one 64-score word per
// row, then the exact distances of the rows decided.
template <class T>
std::uint32_t tile_nearest(const T* score, std::ptrdiff_t stride, std::ptrdiff_t padded, std::ptrdiff_t centres,
                           const T* const* rows, const double* centre_rows, std::ptrdiff_t features, const T* norms,
                           double slack, T largest_norm, int count, std::int32_t* best, double* distance,
                           T* second) {
  constexpr std::ptrdiff_t W = Zmm<T>::kWidth;
  const auto decide = [&](auto chunks) {
    return tile_decisions<T, decltype(chunks)::value>(score, stride, padded, centres, rows, features, norms, slack,
                                                      largest_norm, count, best, second);
  };
  const std::uint32_t undecided = padded == W       ? decide(std::integral_constant<int, 1>{})
                                  : padded == 2 * W ? decide(std::integral_constant<int, 2>{})
                                  : padded == 4 * W ? decide(std::integral_constant<int, 4>{})
                                  : padded == 8 * W ? decide(std::integral_constant<int, 8>{})
                                                    : decide(std::integral_constant<int, 0>{});
  // The exact distances, four rows at a time: four independent chains of fused
  // multiply-adds instead of one dependent chain per row (undecided rows: centre 0, unused).
  int r = 0;
  for (; r + 4 <= count; r += 4) {
    const double* centre[4];
    for (int q = 0; q < 4; ++q) centre[q] = centre_rows + (undecided >> (r + q) & 1u ? 0 : best[r + q]) * features;
    squared_distances4(rows + r, centre, features, distance + r);
  }
  for (; r < count; ++r)
    if (!(undecided >> r & 1u)) distance[r] = squared_distance(rows[r], centre_rows + best[r] * features, features);
  return undecided;
}

// The D features of up to kWidth rows (row r at base + offset[r]), one row per register
// lane: x[j] holds feature j of every row. Floats are transposed in registers (gathers
// measured 7x slower here); doubles through a small buffer.
template <int D>
void rows_in_lanes(const float* base, const std::int32_t* offset, int count, __m512 (&x)[D]) {
  auto row = [&](int r) { return base + offset[r]; };
  if constexpr (D <= 8) {
    // Register m holds rows m and m + 4 (m < 4), rows 8 + m and 12 + m (m ≥ 4): the lanes
    // come out in row order.
    const auto features = static_cast<__mmask8>((1u << D) - 1);
    auto half = [&](int r) { return r < count ? _mm256_maskz_loadu_ps(features, row(r)) : _mm256_setzero_ps(); };
    __m512 pair[8], column[8];
    for (int m = 0; m < 4; ++m) {
      pair[m] = _mm512_insertf32x8(_mm512_castps256_ps512(half(m)), half(m + 4), 1);
      pair[4 + m] = _mm512_insertf32x8(_mm512_castps256_ps512(half(8 + m)), half(12 + m), 1);
    }
    transpose_lanes(pair, column);
    transpose_lanes(pair + 4, column + 4);
    for (int q = 0; q < 4; ++q) {
      if (q < D) x[q] = _mm512_shuffle_f32x4(column[q], column[4 + q], 0x88);
      if (q + 4 < D) x[q + 4] = _mm512_shuffle_f32x4(column[q], column[4 + q], 0xdd);
    }
  } else {
    const auto features = static_cast<__mmask16>((1u << D) - 1);
    __m512 rows[16];
    for (int r = 0; r < 16; ++r) rows[r] = r < count ? _mm512_maskz_loadu_ps(features, row(r)) : _mm512_setzero_ps();
    transpose16(rows, x, D);
  }
}

template <int D>
void rows_in_lanes(const double* base, const std::int32_t* offset, int count, __m512d (&x)[D]) {
  alignas(64) double lanes[D][8] = {};
  for (int r = 0; r < count; ++r)
    for (int j = 0; j < D; ++j) lanes[j][r] = base[offset[r] + j];
  for (int j = 0; j < D; ++j) x[j] = _mm512_load_pd(lanes[j]);
}

// squared_distance of the rows in x (one per lane) to centre[lane], by its arithmetic
// (feature j into lane j mod 8, fused, then the fixed tree): the same bits as row by row. The
// centres' features are picked per lane from cᵀ (features × columns), a register of centres
// at a time. Writes all kWidth lanes.
template <class T, int D, class Register, class Index>
void group_distances(const T* transpose, std::ptrdiff_t columns, const Register (&x)[D], Index centre,
                     double* distance) {
  using Ops = Zmm<T>;
  constexpr int W = Ops::kWidth;
  __m512d lane[Ops::kHalves][8];
  for (auto& half : lane)
    for (auto& l : half) l = _mm512_setzero_pd();
#pragma GCC unroll 16
  for (int j = 0; j < D; ++j) {
    Register coordinate = Ops::zero();
    for (std::ptrdiff_t c = 0; c < columns; c += W)
      coordinate = Ops::pick(coordinate, Ops::index_within(centre, static_cast<int>(c)), centre,
                             Ops::load(transpose + j * columns + c));
    for (int h = 0; h < Ops::kHalves; ++h) {
      const __m512d diff = _mm512_sub_pd(Ops::half_as_doubles(x[j], h), Ops::half_as_doubles(coordinate, h));
      lane[h][j % 8] = _mm512_fmadd_pd(diff, diff, lane[h][j % 8]);
    }
  }
  for (int h = 0; h < Ops::kHalves; ++h) {
    const __m512d* l = lane[h];
    _mm512_storeu_pd(distance + 8 * h, _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(l[0], l[4]), _mm512_add_pd(l[2], l[6])),
                                                     _mm512_add_pd(_mm512_add_pd(l[1], l[5]), _mm512_add_pd(l[3], l[7]))));
  }
}

// The rows whose second-best score lies within the rounding margin of their best:
// second[r] <= T(fma(slack, double(row_norms[r]) + double(largest_norm), double(lowest[r]))),
// one rounding for the fused operation (as std::fma) and one to T, lanes below count only.
inline std::uint32_t ambiguous_lanes(__m512 lowest, __m512 second, const float* row_norms, float largest_norm,
                                     double slack, int count) {
  using Ops = Zmm<float>;
  const auto lanes = Ops::first_lanes(count);
  __m256 threshold[2];
  for (int h = 0; h < 2; ++h) {
    const __m512d norm = load_doubles(row_norms + 8 * h, static_cast<__mmask8>(lanes >> (8 * h)));
    const __m512d margin_base = _mm512_add_pd(norm, _mm512_set1_pd(static_cast<double>(largest_norm)));
    threshold[h] = _mm512_cvtpd_ps(_mm512_fmadd_pd(_mm512_set1_pd(slack), margin_base, Ops::half_as_doubles(lowest, h)));
  }
  const __m512 limit = _mm512_insertf32x8(_mm512_castps256_ps512(threshold[0]), threshold[1], 1);
  return _mm512_mask_cmp_ps_mask(lanes, second, limit, _CMP_LE_OQ);
}
inline std::uint32_t ambiguous_lanes(__m512d lowest, __m512d second, const double* row_norms, double largest_norm,
                                     double slack, int count) {
  const auto lanes = Zmm<double>::first_lanes(count);
  const __m512d margin_base = _mm512_add_pd(_mm512_maskz_loadu_pd(lanes, row_norms), _mm512_set1_pd(largest_norm));
  const __m512d limit = _mm512_fmadd_pd(_mm512_set1_pd(slack), margin_base, lowest);
  return _mm512_mask_cmp_pd_mask(lanes, second, limit, _CMP_LE_OQ);
}

// Kernels::direct_group_nearest for D features (a template argument, so that the rows'
// features stay in registers). Every score is computed by the arithmetic of direct_scores
// (norm, then feature j into accumulator j mod 4, summed as (a0 + a1) + (a2 + a3)).
template <class T, int D>
std::uint32_t group_nearest(const T* scaled, const T* norms, const T* transpose, std::ptrdiff_t columns,
                            std::ptrdiff_t centres, const T* base, const std::int32_t* offset, int count,
                            const T* row_norms, T largest_norm, double slack, T* second_out, std::int32_t* best_out,
                            double* distance) {
  using Ops = Zmm<T>;
  using Register = typename Ops::Reg;
  Register x[D];
  rows_in_lanes<D>(base, offset, count, x);
  Register lowest = Ops::broadcast(std::numeric_limits<T>::infinity()), second = lowest;
  auto best = Ops::index_zero();
  for (int c = 0; c < static_cast<int>(centres); ++c) {
    Register a[4] = {Ops::broadcast(norms[c]), Ops::zero(), Ops::zero(), Ops::zero()};
#pragma GCC unroll 16
    for (int j = 0; j < D; ++j) a[j % 4] = Ops::fma(x[j], Ops::broadcast(scaled[j * columns + c]), a[j % 4]);
    const Register score = Ops::add(Ops::add(a[0], a[1]), Ops::add(a[2], a[3]));
    best = Ops::set_index(best, Ops::less(score, lowest), c);  // strictly: ties keep the lower index
    second = Ops::min(second, Ops::max(lowest, score));
    lowest = Ops::min(lowest, score);
  }
  Ops::store(second_out, second);
  Ops::store_index(best_out, best);
  group_distances<T, D>(transpose, columns, x, best, distance);
  return ambiguous_lanes(lowest, second, row_norms, largest_norm, slack, count);
}

// Calls call(std::integral_constant<int, d>) for d in 1 … kDirectGroupMaxFeatures.
template <int... D, class Call>
void with_features(std::integer_sequence<int, D...>, std::ptrdiff_t d, Call&& call) {
  ((d == D + 1 ? call(std::integral_constant<int, D + 1>{}) : void()), ...);
}
template <class Call>
void with_features(std::ptrdiff_t d, Call&& call) {
  with_features(std::make_integer_sequence<int, static_cast<int>(kDirectGroupMaxFeatures)>{}, d, std::forward<Call>(call));
}

template <class T>
std::uint32_t direct_group_nearest(const T* scaled, const T* norms, const T* transpose, std::ptrdiff_t columns,
                                   std::ptrdiff_t centres, std::ptrdiff_t features, const T* base,
                                   const std::int32_t* offset, int count, const T* row_norms, T largest_norm,
                                   double slack, T* second, std::int32_t* best, double* distance) {
  std::uint32_t ambiguous = 0;
  with_features(features, [&](auto D) {
    ambiguous = group_nearest<T, D>(scaled, norms, transpose, columns, centres, base, offset, count, row_norms,
                                    largest_norm, slack, second, best, distance);
  });
  return ambiguous;
}

template <class T>
void direct_group_distances(const T* transpose, std::ptrdiff_t columns, std::ptrdiff_t features, const T* base,
                            const std::int32_t* offset, int count, const std::int32_t* centre, double* distance) {
  using Ops = Zmm<T>;
  alignas(64) double lanes[Ops::kWidth];
  with_features(features, [&](auto D) {
    typename Ops::Reg x[D];
    rows_in_lanes<D>(base, offset, count, x);
    group_distances<T, D>(transpose, columns, x, Ops::load_index(centre, Ops::first_lanes(count)), lanes);
  });
  std::copy_n(lanes, count, distance);
}

#pragma GCC diagnostic pop
}  // namespace lloyd::simd::avx512
