#pragma once
// A RowSource whose rows come out standardised (fit --standardize with mini-batch --stream):
// each block and each batch of rows is scaled right after it is read, so the data are never
// scaled as a whole and never held whole.
#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "lloyd/core/scaling.hpp"
#include "lloyd/io/row_source.hpp"

namespace lloyd {

template <class T>
class ScaledRowSource final : public RowSource<T> {
 public:
  ScaledRowSource(std::unique_ptr<RowSource<T>> raw, Scaling scaling)
      : raw_(std::move(raw)), scaling_(std::move(scaling)) {}
  std::uint64_t global_rows() const override { return raw_->global_rows(); }
  RowRange local_range() const override { return raw_->local_range(); }
  Eigen::Index features() const override { return raw_->features(); }
  void rows(std::span<const std::uint64_t> sorted, T* out) override {
    raw_->rows(sorted, out);
    standardize_rows(scaling_, out, sorted.size());
  }
  void for_each_block(const std::function<void(const DenseShard<T>&)>& visit) override {
    raw_->for_each_block([&](const DenseShard<T>& block) {
      scaled_.global_rows = block.global_rows;
      scaled_.first_row = block.first_row;
      // The block copied into one buffer for the source's life, as large as the largest
      // block, and scaled there; the shard a view of it. Resized to each block (the shorter
      // last one, then a full one in the next pass), the block's memory was freed and taken
      // again every pass, which made glibc raise its mmap threshold to the block's size, after
      // which freed blocks stayed resident (as row_source.cpp's stream buffer did).
      const auto values = static_cast<std::size_t>(block.rows.size());
      if (buffer_.size() < values) buffer_.resize(values);
      std::copy_n(block.rows.data(), values, buffer_.data());
      standardize_rows(scaling_, buffer_.data(), static_cast<std::size_t>(block.local_rows()));
      scaled_.rows = RowBlock<T>::view(buffer_.data(), block.local_rows(), block.features());
      // Weights set on this source (fit --sample-weight --stream) go with its blocks.
      scaled_.weights = this->weight_block(block.first_row, static_cast<std::uint64_t>(block.local_rows()));
      scaled_.has_weights = this->weighted();
      visit(scaled_);
    });
  }

 private:
  std::unique_ptr<RowSource<T>> raw_;
  Scaling scaling_;
  std::vector<T> buffer_;  ///< the current block's values, scaled
  DenseShard<T> scaled_;   ///< the current block: a view of buffer_
};

}  // namespace lloyd
