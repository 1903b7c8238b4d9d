#include "lloyd/value_range.hpp"

#include "lloyd/error.hpp"

#include <algorithm>
#include <cstdio>

namespace lloyd {

template <class T>
std::size_t first_refused_value(const T* values, std::size_t count, double limit) {
  // Whole chunks are tested with a count the compiler vectorises; only a chunk holding a
  // refused value is searched value by value.
  constexpr std::size_t kChunk = 1024;
  const auto bound = static_cast<T>(std::min(limit, static_cast<double>(std::numeric_limits<T>::max())));
  for (std::size_t begin = 0; begin < count; begin += kChunk) {
    const std::size_t end = std::min(count, begin + kChunk);
    std::size_t refused = 0;
    for (std::size_t i = begin; i < end; ++i) refused += !(std::abs(values[i]) <= bound);
    if (refused == 0) continue;
    for (std::size_t i = begin; i < end; ++i)
      if (!accepted_value(values[i], limit)) return i;
  }
  return count;
}

template <class T>
std::string refused_value_message(const std::string& where, std::uint64_t row, std::uint64_t column,
                                  T value, std::uint64_t features) {
  if (std::isnan(value) || std::isinf(value))
    return where + ": row " + std::to_string(row) + " contains " + (std::isnan(value) ? "NaN" : "Inf") +
           " (column " + std::to_string(column) + ")";
  return where + ": row " + std::to_string(row) + " column " + std::to_string(column) + " holds " +
         refused_value_reason(value, features);
}

template <class T>
std::string refused_value_reason(T value, std::uint64_t features) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return "Inf";
  char text[200];
  std::snprintf(text, sizeof text,
                "%g: beyond %.3g, the largest magnitude whose squared distances lloyd can sum "
                "without overflow in float%d data of %llu feature%s",
                static_cast<double>(value), largest_accepted_magnitude<T>(features), static_cast<int>(8 * sizeof(T)),
                static_cast<unsigned long long>(features), features == 1 ? "" : "s");
  return text;
}

template <class T>
void check_accepted_values(const T* values, std::uint64_t rows, std::uint64_t features, std::uint64_t first_row,
                           const std::string& where) {
  const auto count = static_cast<std::size_t>(rows * features);
  const std::size_t at = first_refused_value(values, count, largest_accepted_magnitude<T>(features));
  if (at < count) throw Error(refused_value_message(where, first_row + at / features, at % features, values[at], features));
}

template void check_accepted_values(const float*, std::uint64_t, std::uint64_t, std::uint64_t, const std::string&);
template void check_accepted_values(const double*, std::uint64_t, std::uint64_t, std::uint64_t, const std::string&);
template std::size_t first_refused_value(const float*, std::size_t, double);
template std::size_t first_refused_value(const double*, std::size_t, double);
template std::string refused_value_message(const std::string&, std::uint64_t, std::uint64_t, float, std::uint64_t);
template std::string refused_value_message(const std::string&, std::uint64_t, std::uint64_t, double, std::uint64_t);
template std::string refused_value_reason(float, std::uint64_t);
template std::string refused_value_reason(double, std::uint64_t);

}  // namespace lloyd
