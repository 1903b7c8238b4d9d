#pragma once
#include <chrono>

namespace lloyd {

/// Wall-clock seconds of a scope, added to a phase counter (PhaseTimes).
class PhaseClock {
 public:
  explicit PhaseClock(double& total) : total_(total), start_(Clock::now()) {}
  ~PhaseClock() { total_ += std::chrono::duration<double>(Clock::now() - start_).count(); }
  PhaseClock(const PhaseClock&) = delete;
  PhaseClock& operator=(const PhaseClock&) = delete;

 private:
  using Clock = std::chrono::steady_clock;
  double& total_;
  Clock::time_point start_;
};

}  // namespace lloyd
