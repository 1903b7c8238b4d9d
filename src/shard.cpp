#include "lloyd/shard.hpp"

namespace lloyd {

RowRange block_rows(std::uint64_t n, int ranks, int rank) {
  const auto p = static_cast<std::uint64_t>(ranks), r = static_cast<std::uint64_t>(rank);
  const std::uint64_t base = n / p, extra = n % p;
  const std::uint64_t begin = r * base + (r < extra ? r : extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

int owner_of_row(std::uint64_t n, int ranks, std::uint64_t row) {
  const auto p = static_cast<std::uint64_t>(ranks);
  const std::uint64_t base = n / p, extra = n % p;
  const std::uint64_t boundary = extra * (base + 1);  // rows held by the larger blocks
  if (row < boundary) return static_cast<int>(row / (base + 1));
  return static_cast<int>(extra + (row - boundary) / base);
}

}  // namespace lloyd
