#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "lloyd/comm.hpp"
#include "lloyd/core/exact_sum.hpp"

namespace lloyd {
namespace {

TEST(Comm, Int128SumIsExactBeyondSixtyFourBits) {
  Comm comm(MPI_COMM_WORLD);
  std::vector<Int128> values = {Int128{1} << 100, Int128{comm.rank() + 1}, -(Int128{1} << 70)};
  comm.allreduce_sum(values);
  const Int128 p = comm.size();
  EXPECT_TRUE(values[0] == p * (Int128{1} << 100));
  EXPECT_TRUE(values[1] == p * (p + 1) / 2);
  EXPECT_TRUE(values[2] == -p * (Int128{1} << 70));
}

TEST(Comm, MinlocBreaksTiesByLowestIndex) {
  Comm comm(MPI_COMM_WORLD);
  // Every rank proposes the same key with a different index, and a unique smaller key
  // from the last rank in the second slot.
  std::vector<KeyIndex> values = {
      {1.0, static_cast<std::uint64_t>(100 - comm.rank())},
      {comm.rank() == comm.size() - 1 ? -5.0 : 2.0, static_cast<std::uint64_t>(comm.rank())}};
  comm.allreduce_min(values);
  EXPECT_EQ(values[0].index, static_cast<std::uint64_t>(100 - (comm.size() - 1)));
  EXPECT_EQ(values[1].key, -5.0);
  EXPECT_EQ(values[1].index, static_cast<std::uint64_t>(comm.size() - 1));
}

TEST(Comm, SmallestMatchesASortOfAllCandidates) {
  Comm comm(MPI_COMM_WORLD);
  // Global candidate g has key (g * 37) % 101 (ties exist); each rank holds g ≡ rank mod p.
  std::vector<KeyIndex> local, all;
  for (std::uint64_t g = 0; g < 60; ++g) {
    const KeyIndex candidate{static_cast<double>((g * 37) % 101 % 13), g};
    all.push_back(candidate);
    if (static_cast<int>(g % static_cast<std::uint64_t>(comm.size())) == comm.rank())
      local.push_back(candidate);
  }
  std::sort(all.begin(), all.end());
  for (std::size_t count : {1u, 5u, 17u, 60u}) {
    const auto winners = comm.smallest(local, count);
    ASSERT_EQ(winners.size(), count);
    for (std::size_t i = 0; i < count; ++i) EXPECT_EQ(winners[i], all[i]);
  }
  const auto padded = comm.smallest(local, 70);
  EXPECT_EQ(padded.back(), KeyIndex::none());
}

TEST(Comm, AgreeMakesEveryRankThrowTheFirstFailingRanksMessage) {
  Comm comm(MPI_COMM_WORLD);
  const int failing = comm.size() - 1;
  try {
    comm.agree(comm.rank() == failing ? std::optional<std::string>("broken on the last rank")
                                      : std::nullopt);
    FAIL() << "agree did not throw";
  } catch (const AgreedError& e) {
    EXPECT_STREQ(e.what(), "broken on the last rank");
  }
  EXPECT_NO_THROW(comm.agree(std::nullopt));
}

TEST(Comm, ExactSumAllreduceEqualsTheSerialSum) {
  Comm comm(MPI_COMM_WORLD);
  ExactSum serial, distributed;
  for (int g = 0; g < 1000; ++g) {
    const double v = std::pow(-1.7, g % 40) * (1.0 + g * 1e-7);
    serial.add(v);
    if (g % comm.size() == comm.rank()) distributed.add(v);
  }
  distributed.allreduce(comm);
  EXPECT_EQ(distributed.value(), serial.value());
}

TEST(Comm, SubsetKeepsTheFirstRanks) {
  Comm comm(MPI_COMM_WORLD);
  auto part = comm.subset(comm.rank() < 2);
  if (comm.rank() < 2) {
    ASSERT_TRUE(part.has_value());
    EXPECT_EQ(part->size(), std::min(2, comm.size()));
    EXPECT_EQ(part->rank(), comm.rank());
  } else {
    EXPECT_FALSE(part.has_value());
  }
}

}  // namespace
}  // namespace lloyd
