#pragma once
// Allocations of the big per-rank structures (the shard, labels, per-cluster tables, batches)
// say what they were allocating and how much when memory runs out, instead of
// std::bad_alloc's "std::bad_alloc" or std::length_error's "vector::_M_default_append".
#include <cstdio>
#include <new>
#include <stdexcept>
#include <string>

#include "lloyd/error.hpp"

namespace lloyd {

/// An allocation of a named structure failed. Inside run_agreed it becomes every rank's error.
class OutOfMemory : public Error {
 public:
  using Error::Error;
};

/// "out of memory allocating WHAT (SIZE)", the size in MB or GB.
inline std::string out_of_memory_message(const std::string& what, double bytes) {
  char size[64];
  if (bytes >= 1e9)
    std::snprintf(size, sizeof size, "%.1f GB", bytes / 1e9);
  else
    std::snprintf(size, sizeof size, "%.0f MB", bytes / 1e6 < 1 ? 1.0 : bytes / 1e6);
  return "out of memory allocating " + what + " (" + size + ")";
}

/// Runs allocate() and returns what it returns; a failed allocation (std::bad_alloc, or
/// std::length_error: a size no container can hold) becomes OutOfMemory naming `what` and its
/// `bytes` (a double: the product of absurd counts must not wrap).
template <class Allocate>
decltype(auto) allocating(const std::string& what, double bytes, Allocate&& allocate) {
  try {
    return allocate();
  } catch (const std::bad_alloc&) {
    throw OutOfMemory(out_of_memory_message(what, bytes));
  } catch (const std::length_error&) {
    throw OutOfMemory(out_of_memory_message(what, bytes));
  }
}

}  // namespace lloyd
