// squared_distance is "the" distance (labels, ties, inertia): whatever instructions compute
// it, the result must be the documented arithmetic, bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "lloyd/core/distance.hpp"
#include "lloyd/kmeans/assign.hpp"

namespace lloyd {
namespace {

// The definition: lane j mod 8 accumulates fma(diff, diff, lane); a fixed tree at the end.
template <class T, class U>
double reference_distance(const T* x, const U* c, Eigen::Index d) {
  double lane[8] = {};
  for (Eigen::Index j = 0; j < d; ++j) {
    const double diff = static_cast<double>(x[j]) - static_cast<double>(c[j]);
    lane[j % 8] = std::fma(diff, diff, lane[j % 8]);
  }
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

template <class T, class U>
void expect_bit_identical() {
  std::mt19937_64 generator(7);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (Eigen::Index d : {1, 3, 7, 8, 9, 15, 16, 32, 33, 100, 256}) {
    for (int trial = 0; trial < 50; ++trial) {
      std::vector<T> x(static_cast<std::size_t>(d));
      std::vector<U> c(static_cast<std::size_t>(d));
      // Values of very different magnitudes, so that the summation order shows in the bits.
      for (Eigen::Index j = 0; j < d; ++j) {
        x[j] = static_cast<T>(normal(generator) * std::pow(10.0, trial % 7 - 3));
        c[j] = static_cast<U>(normal(generator) * std::pow(10.0, (trial + j) % 5 - 2));
      }
      const double fast = squared_distance(x.data(), c.data(), d);
      const double reference = reference_distance(x.data(), c.data(), d);
      ASSERT_EQ(std::memcmp(&fast, &reference, sizeof(double)), 0)
          << "d = " << d << ": " << fast << " vs " << reference;
      // K-medoids' and predict's Euclidean row_distance: the square root of the same lanes.
      const double row = row_distance(Distance::Euclidean, x.data(), c.data(), d);
      const double root = std::sqrt(reference);
      ASSERT_EQ(std::memcmp(&row, &root, sizeof(double)), 0) << "row_distance, d = " << d;
    }
  }
}

TEST(SquaredDistance, FloatFloatIsTheDocumentedArithmetic) { expect_bit_identical<float, float>(); }
TEST(SquaredDistance, FloatDoubleIsTheDocumentedArithmetic) { expect_bit_identical<float, double>(); }
TEST(SquaredDistance, DoubleDoubleIsTheDocumentedArithmetic) { expect_bit_identical<double, double>(); }

}  // namespace
}  // namespace lloyd
