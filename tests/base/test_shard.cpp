#include <gtest/gtest.h>

#include <stdexcept>
#include <utility>
#include <vector>

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

// A view reads the caller's memory in place: no copy, the same pointer and shape.
TEST(ShardView, ReadsTheCallersMemoryWithoutCopying) {
  const std::vector<float> values{1, 2, 3, 4, 5, 6};
  const DenseShard<float> view = DenseShard<float>::view_of(values.data(), 3, 2, 10, 4);
  EXPECT_TRUE(view.is_view());
  EXPECT_EQ(view.rows.data(), values.data());
  EXPECT_EQ(view.local_rows(), 3);
  EXPECT_EQ(view.features(), 2);
  EXPECT_EQ(view.global_rows, 10u);
  EXPECT_EQ(view.global_index(0), 4u);
  EXPECT_EQ(view.row(2), values.data() + 4);
  EXPECT_EQ(view.rows(1, 1), 4.0f);
  EXPECT_EQ(view.rows.row(2)(0), 5.0f);
  EXPECT_EQ(view.rows.matrix().sum(), 21.0f);
  EXPECT_FALSE(DenseShard<float>{}.is_view());
}

// Copies of a view stay views of the same memory; copies of an owned shard own a copy.
TEST(ShardView, CopiesOfAViewViewTheSameMemory) {
  const std::vector<double> values{1, 2, 3, 4};
  const DenseShard<double> view = DenseShard<double>::view_of(values.data(), 2, 2, 2, 0);
  DenseShard<double> copy = view;
  EXPECT_TRUE(copy.is_view());
  EXPECT_EQ(copy.rows.data(), values.data());
  DenseShard<double> assigned;
  assigned.rows.resize(5, 5);
  assigned = view;
  EXPECT_TRUE(assigned.is_view());
  EXPECT_EQ(assigned.row(1), values.data() + 2);
  const DenseShard<double> moved = std::move(copy);
  EXPECT_TRUE(moved.is_view());
  EXPECT_EQ(moved.rows.data(), values.data());

  DenseShard<double> owned;
  owned.rows = RowMatrix<double>::Constant(2, 3, 7.0);
  const DenseShard<double> owned_copy = owned;
  EXPECT_FALSE(owned_copy.is_view());
  EXPECT_NE(owned_copy.rows.data(), owned.rows.data());
  EXPECT_TRUE(owned_copy.rows.matrix() == owned.rows.matrix());
  const double* buffer = owned.rows.data();
  const DenseShard<double> moved_owned = std::move(owned);
  EXPECT_EQ(moved_owned.rows.data(), buffer);  // a move takes the buffer, copies nothing
  EXPECT_EQ(moved_owned.row(1), buffer + 3);
  EXPECT_EQ(owned.local_rows(), 0);  // NOLINT(bugprone-use-after-move): left empty
}

// make_owned copies a view's values into memory the shard owns; later writes reach only it.
TEST(ShardView, MakeOwnedCopiesTheValues) {
  const std::vector<float> values{1, 2, 3, 4, 5, 6};
  DenseShard<float> shard = DenseShard<float>::view_of(values.data(), 2, 3, 2, 0);
  shard.make_owned();
  EXPECT_FALSE(shard.is_view());
  EXPECT_NE(shard.rows.data(), values.data());
  EXPECT_EQ(shard.local_rows(), 2);
  EXPECT_EQ(shard.features(), 3);
  EXPECT_TRUE(shard.rows.matrix() == (Eigen::Map<const RowMatrix<float>>(values.data(), 2, 3)));
  shard.rows.mutable_matrix()(1, 2) = -1;
  EXPECT_EQ(values[5], 6.0f);
  EXPECT_EQ(shard.row(1)[2], -1.0f);
  const float* owned = shard.rows.data();
  shard.make_owned();  // owned already: nothing copied
  EXPECT_EQ(shard.rows.data(), owned);
}

// Writing through a view is refused (the caller's memory is never written), while reading
// it through a non-const shard is as through a const one; replacing its contents (resize,
// assignment) makes the shard own new memory and leaves the caller's alone.
TEST(ShardView, WritesNeedOwnedRows) {
  const std::vector<double> values{1, 2, 3, 4};
  DenseShard<double> shard = DenseShard<double>::view_of(values.data(), 2, 2, 2, 0);
  EXPECT_THROW(shard.rows.mutable_data(), std::logic_error);
  EXPECT_THROW(shard.rows.mutable_matrix(), std::logic_error);
  EXPECT_EQ(shard.rows.data(), values.data());
  EXPECT_EQ(shard.rows(1, 0), 3.0);
  EXPECT_EQ(shard.rows.row(1)(1), 4.0);

  DenseShard<double> resized = shard;
  resized.rows.resize(3, 2);
  EXPECT_FALSE(resized.is_view());
  EXPECT_EQ(resized.local_rows(), 3);
  resized.rows.mutable_matrix().setZero();
  EXPECT_EQ(values, (std::vector<double>{1, 2, 3, 4}));

  shard.rows = shard.rows.matrix() * 2.0;  // reads the view, owns the result
  EXPECT_FALSE(shard.is_view());
  EXPECT_EQ(shard.rows(1, 1), 8.0);
  EXPECT_EQ(values, (std::vector<double>{1, 2, 3, 4}));
}

TEST(ShardView, RefusesShapesThatCannotBe) {
  const std::vector<double> values(6);
  EXPECT_THROW(DenseShard<double>::view_of(values.data(), 3, 2, 4, 2), Error);  // rows past n
  EXPECT_THROW(DenseShard<double>::view_of(values.data(), -1, 2, 4, 0), Error);
  EXPECT_THROW(DenseShard<double>::view_of(nullptr, 3, 2, 4, 0), Error);
  EXPECT_THROW(DenseShard<double>::view_of(values.data(), 1, 2, 4, 5), Error);  // first past n
  const DenseShard<double> empty = DenseShard<double>::view_of(nullptr, 0, 2, 4, 4);  // a rank without rows
  EXPECT_TRUE(empty.is_view());
  EXPECT_EQ(empty.local_rows(), 0);
  EXPECT_EQ(empty.features(), 2);
}

// to_csr of a view reads it as of an owned shard.
TEST(ShardView, ToCsrOfAViewEqualsToCsrOfTheOwnedRows) {
  const std::vector<float> values{0, 2, 3, 0, 0, 0, 7, 0, 9};
  const DenseShard<float> view = DenseShard<float>::view_of(values.data(), 3, 3, 5, 1);
  DenseShard<float> owned = view;
  owned.make_owned();
  const CsrShard<float> a = to_csr(view), b = to_csr(owned);
  EXPECT_EQ(a.indptr, b.indptr);
  EXPECT_EQ(a.indices, b.indices);
  EXPECT_EQ(a.values, b.values);
  EXPECT_EQ(a.first_row, 1u);
  EXPECT_TRUE(to_dense(a).rows.matrix() == owned.rows.matrix());
}

}  // namespace
}  // namespace lloyd
