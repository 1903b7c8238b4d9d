#pragma once
// Rules that turn a sweep over K into a recommended K. Pure functions of replicated values
// (identical on every rank), so every rank recommends the same K.
#include <cstdint>
#include <span>
#include <vector>

namespace lloyd {

/// Elbow by the kneedle rule (Satopää et al. 2011) for a decreasing curve (choose_k passes
/// log inertia): with x = (K − K_min)/(K_max − K_min) and y = (W_K − W_min)/(W_max − W_min),
/// the knee is the K that maximises (1 − y) − x, i.e. the point farthest above the chord
/// from the first to the last point. Ties go to the smaller K. Returns 0 with < 3 points.
int kneedle_elbow(std::span<const int> ks, std::span<const double> values);

/// The K with the largest (or smallest) finite value; ties go to the smaller K; 0 if none.
int best_k(std::span<const int> ks, std::span<const double> values, bool largest);

/// Tibshirani, Walther & Hastie (2001): the smallest K with Gap(K) ≥ Gap(K+1) − s_{K+1}
/// (consecutive K only); the largest K when no K qualifies. Same as R's
/// cluster::maxSE(method = "Tibs2001SEmax").
int gap_choice(std::span<const int> ks, std::span<const double> gap, std::span<const double> s);

/// The gap statistic of one K from the log inertia of the data and of B reference sets:
/// gap = mean_b log W*_b − log W, s = sd_b(log W*_b) · √(1 + 1/B), the sd with 1/(B − 1)
/// as R's cluster::clusGap computes it (the paper writes 1/B); s = 0 when B = 1.
struct GapValue {
  double gap = 0, s = 0, log_w = 0, reference_mean = 0;
};
GapValue gap_value(double log_w, std::span<const double> reference_log_w);

}  // namespace lloyd
