#include "lloyd/simd/level.hpp"

#include <cstdlib>
#include <string>

#include "lloyd/error.hpp"
#include "lloyd/simd/kernels.hpp"

namespace lloyd::simd {

namespace detail {
const Kernels<float>* active_float = nullptr;
const Kernels<double>* active_double = nullptr;
}  // namespace detail

namespace {

Level current = Level::Portable;
bool chosen = false;

std::string supported_list() {
  std::string list;
  for (const Level candidate : kLevels)
    if (supported(candidate)) list = std::string(to_string(candidate)) + (list.empty() ? "" : ", ") + list;
  return list;
}

}  // namespace

const char* to_string(Level level) {
  switch (level) {
    case Level::Portable: return "portable";
    case Level::Avx2: return "avx2";
    case Level::Avx512: return "avx512";
  }
  return "?";
}

bool supported(Level level) {
  switch (level) {
    case Level::Portable: return true;
    case Level::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Level::Avx512:
      return supported(Level::Avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  }
  return false;
}

Level widest_supported() {
  Level widest = Level::Portable;
  for (const Level candidate : kLevels)
    if (supported(candidate)) widest = candidate;
  return widest;
}

template <class T>
const Kernels<T>& kernels(Level level) {
  switch (level) {
    case Level::Avx512: return avx512_kernels<T>();
    case Level::Avx2: return avx2_kernels<T>();
    case Level::Portable: break;
  }
  return portable_kernels<T>();
}
template const Kernels<float>& kernels<float>(Level);
template const Kernels<double>& kernels<double>(Level);

void use(Level level) {
  if (!supported(level))
    throw Error(std::string("the SIMD level ") + to_string(level) + " is not supported by this CPU (it supports " +
                supported_list() + ")");
  current = level;
  detail::active_float = &kernels<float>(level);
  detail::active_double = &kernels<double>(level);
  chosen = true;
}

void detail::choose() {
  if (chosen) return;
  const char* forced = std::getenv("LLOYD_SIMD");
  if (!forced || !*forced) return use(widest_supported());
  for (const Level candidate : kLevels)
    if (std::string(forced) == to_string(candidate)) {
      if (!supported(candidate))
        throw Error(std::string("LLOYD_SIMD=") + forced + ": this CPU does not support " + forced +
                    " (it supports " + supported_list() + ")");
      return use(candidate);
    }
  throw Error(std::string("LLOYD_SIMD=") + forced + ": unknown SIMD level (expected avx512, avx2 or portable)");
}

Level level() {
  detail::choose();
  return current;
}

}  // namespace lloyd::simd
