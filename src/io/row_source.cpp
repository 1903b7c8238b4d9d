#include "lloyd/io/row_source.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include "lloyd/out_of_memory.hpp"

namespace lloyd {

namespace {

template <class T>
class ShardSource final : public RowSource<T> {
 public:
  explicit ShardSource(const DenseShard<T>& shard) : shard_(shard) {
    if (shard.weighted()) this->set_weights(shard.weights);
  }
  std::uint64_t global_rows() const override { return shard_.global_rows; }
  RowRange local_range() const override {
    return {shard_.first_row, shard_.first_row + static_cast<std::uint64_t>(shard_.local_rows())};
  }
  Eigen::Index features() const override { return shard_.features(); }
  void rows(std::span<const std::uint64_t> sorted, T* out) override {
    const auto d = static_cast<std::size_t>(shard_.features());
    for (std::size_t q = 0; q < sorted.size(); ++q)
      std::copy_n(shard_.row(static_cast<Eigen::Index>(sorted[q] - shard_.first_row)), d, out + q * d);
  }
  void for_each_block(const std::function<void(const DenseShard<T>&)>& visit) override { visit(shard_); }

 private:
  const DenseShard<T>& shard_;
};

template <class T>
class StreamedSource final : public RowSource<T> {
 public:
  StreamedSource(const Comm& comm, const DatasetRef& ref, const MatrixShape& shape)
      : shape_(shape), range_(block_rows(shape.rows, comm.size(), comm.rank())) {
    run_agreed(comm, [&] { reader_.emplace(ref, shape); });
    // Every rank visits as many blocks as the rank with the most.
    for (int r = 0; r < comm.size(); ++r)
      rounds_ = std::max(rounds_, blocks_of(block_rows(shape.rows, comm.size(), r)));
    comm_ = &comm;
  }
  std::uint64_t global_rows() const override { return shape_.rows; }
  RowRange local_range() const override { return range_; }
  Eigen::Index features() const override { return static_cast<Eigen::Index>(shape_.cols); }
  void rows(std::span<const std::uint64_t> sorted, T* out) override { reader_->read_rows(sorted, out); }
  void for_each_block(const std::function<void(const DenseShard<T>&)>& visit) override {
    const std::uint64_t B = RowSource<T>::kStreamBlock;
    // One buffer of B rows for the source's life, the blocks views of it: a block resized
    // (the last, shorter one) and freed at the end of every pass made glibc raise its mmap
    // threshold to the block's size, after which the freed blocks stayed in the heap —
    // 4–19 MiB more resident than one block (1M rows, d = 8 … 256).
    const std::uint64_t rows_held = std::min<std::uint64_t>(B, range_.size());
    buffer_.resize(rows_held * static_cast<std::uint64_t>(features()));
    DenseShard<T> block;
    block.global_rows = shape_.rows;
    std::uint64_t next = range_.begin;
    for (std::uint64_t round = 0; round < rounds_; ++round) {
      const std::uint64_t end = std::min(range_.end, (next / B + 1) * B);
      const std::uint64_t count = next < range_.end ? end - next : 0;
      block.first_row = count ? next : range_.end;
      run_agreed(*comm_, [&] { reader_->read_block(next, count, buffer_.data()); });
      block.rows = RowBlock<T>::view(buffer_.data(), static_cast<Eigen::Index>(count), features());
      block.weights = this->weight_block(next, count);
      block.has_weights = this->weighted();
      visit(block);
      next += count;
    }
  }

 private:
  static std::uint64_t blocks_of(RowRange range) {
    const std::uint64_t B = RowSource<T>::kStreamBlock;
    return range.size() == 0 ? 0 : (range.end - 1) / B - range.begin / B + 1;
  }
  MatrixShape shape_;
  RowRange range_;
  std::optional<RowReader<T>> reader_;
  std::uint64_t rounds_ = 0;
  const Comm* comm_ = nullptr;
  std::vector<T> buffer_;  ///< the rows of the block being visited
};

}  // namespace

template <class T>
std::unique_ptr<RowSource<T>> shard_source(const DenseShard<T>& shard) {
  return std::make_unique<ShardSource<T>>(shard);
}

template <class T>
std::unique_ptr<RowSource<T>> streamed_source(const Comm& comm, const DatasetRef& ref,
                                              const MatrixShape& shape) {
  return std::make_unique<StreamedSource<T>>(comm, resolve_input(comm, ref), shape);
}

#define LLOYD_INSTANTIATE(T)                                                                  \
  template std::unique_ptr<RowSource<T>> shard_source(const DenseShard<T>&);                 \
  template std::unique_ptr<RowSource<T>> streamed_source(const Comm&, const DatasetRef&,     \
                                                         const MatrixShape&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace lloyd
