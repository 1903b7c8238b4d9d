#include "lloyd/select/criteria.hpp"

#include <cmath>

namespace lloyd {

int kneedle_elbow(std::span<const int> ks, std::span<const double> values) {
  if (ks.size() < 3) return 0;
  double lo = values[0], hi = values[0];
  for (const double v : values) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const double x_span = static_cast<double>(ks.back() - ks.front());
  if (hi == lo || x_span <= 0) return 0;
  int knee = 0;
  double best = -1;
  for (std::size_t i = 0; i < ks.size(); ++i) {
    const double x = static_cast<double>(ks[i] - ks.front()) / x_span;
    const double y = (values[i] - lo) / (hi - lo);
    const double difference = (1 - y) - x;
    if (difference > best) {
      best = difference;
      knee = ks[i];
    }
  }
  return knee;
}

int best_k(std::span<const int> ks, std::span<const double> values, bool largest) {
  int choice = 0;
  double best = 0;
  for (std::size_t i = 0; i < ks.size(); ++i) {
    if (!std::isfinite(values[i])) continue;
    if (choice == 0 || (largest ? values[i] > best : values[i] < best)) {
      best = values[i];
      choice = ks[i];
    }
  }
  return choice;
}

int gap_choice(std::span<const int> ks, std::span<const double> gap, std::span<const double> s) {
  if (ks.empty()) return 0;
  for (std::size_t i = 0; i + 1 < ks.size(); ++i)
    if (ks[i + 1] == ks[i] + 1 && gap[i] >= gap[i + 1] - s[i + 1]) return ks[i];
  return ks.back();
}

GapValue gap_value(double log_w, std::span<const double> reference_log_w) {
  GapValue value;
  value.log_w = log_w;
  const double b = static_cast<double>(reference_log_w.size());
  if (reference_log_w.empty()) return value;
  double mean = 0;
  for (const double r : reference_log_w) mean += r;
  mean /= b;
  double squares = 0;
  for (const double r : reference_log_w) squares += (r - mean) * (r - mean);
  value.reference_mean = mean;
  value.gap = mean - log_w;
  value.s = b > 1 ? std::sqrt(squares / (b - 1)) * std::sqrt(1 + 1 / b) : 0.0;
  return value;
}

}  // namespace lloyd
