// The kernels for any x86-64 CPU (compiled for baseline x86-64: SSE2, no FMA instructions).
// Fused multiply-adds are std::fma, one rounding as on the vector levels (a library call
// here, which uses the FMA instruction where the CPU has one): the same bits, more slowly.
#define LLOYD_SIMD_LEVEL_NAMESPACE portable
#include "kernels_impl.hpp"
#include "bounds_impl.hpp"
#include "assign_impl.hpp"
#include "seeding_impl.hpp"
#include "generic_table.hpp"

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
const Kernels<T> table = generic_table<Scalar<T>, 4, 3, T>(&lane_squared_distance<T, T>);

}  // namespace
}  // namespace portable

template <class T>
const Kernels<T>& portable_kernels() {
  return portable::table<T>;
}
template const Kernels<float>& portable_kernels<float>();
template const Kernels<double>& portable_kernels<double>();

}  // namespace lloyd::simd
