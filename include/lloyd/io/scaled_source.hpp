#pragma once
// A RowSource whose rows come out standardised (fit --standardize with mini-batch --stream):
// each block and each batch of rows is scaled right after it is read, so the data are never
// scaled as a whole and never held whole.
#include <memory>
#include <utility>

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
      scaled_.rows = block.rows.matrix();  // a copy (its buffer reused), also of a view
      standardize(scaling_, scaled_);
      // Weights set on this source (fit --sample-weight --stream) go with its blocks.
      scaled_.weights = this->weight_block(block.first_row, static_cast<std::uint64_t>(block.local_rows()));
      scaled_.has_weights = this->weighted();
      visit(scaled_);
    });
  }

 private:
  std::unique_ptr<RowSource<T>> raw_;
  Scaling scaling_;
  DenseShard<T> scaled_;  ///< the current block, scaled (its buffer reused block to block)
};

}  // namespace lloyd
