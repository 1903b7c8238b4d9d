// The kernels for any x86-64 CPU (compiled for baseline x86-64: SSE2, no FMA instructions).
// Fused multiply-adds are std::fma, one rounding as on the vector levels (a library call
// here, which uses the FMA instruction where the CPU has one): the same bits, more slowly.
#define LLOYD_SIMD_LEVEL_NAMESPACE portable
#include "kernels_impl.hpp"
#include "bounds_impl.hpp"
#include "assign_impl.hpp"
#include "seeding_impl.hpp"

namespace lloyd::simd {
namespace portable {
namespace {

// One value per "register".
template <class T>
struct Scalar {
  using Reg = T;
  static constexpr int kWidth = 1;
  static T load(const T* p) { return *p; }
  static void store(T* p, T v) { *p = v; }
  static T zero() { return T(0); }
  static T broadcast(T v) { return v; }
  static T fma(T a, T b, T c) { return std::fma(a, b, c); }
  static T add(T a, T b) { return a + b; }
};

template <class T>
double squared_distance(const T* x, const T* c, std::ptrdiff_t features) {
  double lane[8] = {};
  add_squared_differences(x, c, 0, features, lane);
  return lane_tree(lane);
}

template <class T>
const Kernels<T> table{
    .squared_distance = &squared_distance<T>,
    .squared_distance_to_double = &squared_distance_to_double<T>,
    .squared_norm = &squared_norm<T>,
    .direct_scores = &direct_scores<Scalar<T>, T>,
    .tile_scores = &tile_scores<Scalar<T>, 4, 3, T>,
    .add_fixed_rows = &add_fixed_rows<ScalarRowSums, T>,
    // Bounds and the data range (bounds_impl.hpp).
    .round_bounds = &round_bounds,
    .hamerly_sweep = &hamerly_sweep,
    .feature_range_rows = &feature_range_rows<T>,
    // Assignment decisions (assign_impl.hpp); no grouped decisions at this level.
    .row_minimum = &row_minimum<T>,
    .first_minimum = &first_minimum<T>,
    .direct_group_nearest = nullptr,
    .direct_group_distances = nullptr,
    // seeding
    .seed_fold_row = &seeding::fold_row<T>,
    .seed_rows_as_columns = &seeding::rows_as_columns<T>,
    .seed_columns_as_rows = &seeding::columns_as_rows<T>,
    .seed_fold_lanes = nullptr,  // rows in lanes only at avx512: the caller goes row by row
    .seed_weight_sums = &seeding::weight_sums<T>,
};

}  // namespace
}  // namespace portable

template <class T>
const Kernels<T>& portable_kernels() {
  return portable::table<T>;
}
template const Kernels<float>& portable_kernels<float>();
template const Kernels<double>& portable_kernels<double>();

}  // namespace lloyd::simd
