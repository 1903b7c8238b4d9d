#include <gtest/gtest.h>

#include "lloyd/shard.hpp"

namespace lloyd {
namespace {

TEST(BlockRows, PartitionsRowsWithSizesDifferingByAtMostOne) {
  for (std::uint64_t n : {0ULL, 1ULL, 2ULL, 3ULL, 7ULL, 100ULL, 1001ULL}) {
    for (int p : {1, 2, 3, 4, 5, 8}) {
      std::uint64_t next = 0, smallest = n, largest = 0;
      for (int r = 0; r < p; ++r) {
        const RowRange range = block_rows(n, p, r);
        EXPECT_EQ(range.begin, next) << "n=" << n << " p=" << p << " r=" << r;
        next = range.end;
        smallest = std::min(smallest, range.size());
        largest = std::max(largest, range.size());
        for (std::uint64_t row = range.begin; row < range.end; ++row)
          EXPECT_EQ(owner_of_row(n, p, row), r);
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(largest - smallest, 1u);
    }
  }
}

}  // namespace
}  // namespace lloyd
