#pragma once
// Where a fit's rows come from: the in-memory shard, or blocks streamed from the file (out of
// core: mini-batch --stream).
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// This rank's rows of the data set, wherever they live. Rows are this rank's block of a
/// block distribution (block_rows), addressed by global index.
template <class T>
class RowSource {
 public:
  virtual ~RowSource() = default;
  virtual std::uint64_t global_rows() const = 0;
  virtual RowRange local_range() const = 0;
  virtual Eigen::Index features() const = 0;
  /// Copies the rows with the given ascending global indices (all local; repeats allowed)
  /// into `out`, in order.
  virtual void rows(std::span<const std::uint64_t> sorted, T* out) = 0;
  /// Calls visit(block) for consecutive blocks covering the local rows, in order. Every rank
  /// makes the same number of calls (trailing blocks may be empty), so `visit` may call
  /// collectives. Blocks start at global multiples of kStreamBlock (or hold the whole shard).
  virtual void for_each_block(const std::function<void(const DenseShard<T>&)>& visit) = 0;

  /// Sample weights of the local rows, in order (fit --sample-weight; every rank alike): the
  /// blocks then carry theirs, and weights() gives those of drawn rows. Held in memory (8
  /// bytes per local row), also when the rows are streamed.
  void set_weights(std::vector<double> local_weights) {
    weights_ = std::move(local_weights);
    weighted_ = true;
  }
  bool weighted() const { return weighted_; }
  /// The weights of the local rows, in order (empty without weights).
  std::span<const double> local_weights() const { return weights_; }
  /// The weights of the rows with the given global indices (all local), in order.
  std::vector<double> weights(std::span<const std::uint64_t> rows) const {
    std::vector<double> out;
    out.reserve(rows.size());
    for (const std::uint64_t row : rows) out.push_back(weights_[row - local_range().begin]);
    return out;
  }

  static constexpr std::uint64_t kStreamBlock = 1 << 16;

 protected:
  /// Local rows [first, first + count) of the weights (an empty vector without weights).
  std::vector<double> weight_block(std::uint64_t first, std::uint64_t count) const {
    if (!weighted_) return {};
    const auto begin = weights_.begin() + static_cast<std::ptrdiff_t>(first - local_range().begin);
    return std::vector<double>(begin, begin + static_cast<std::ptrdiff_t>(count));
  }

 private:
  std::vector<double> weights_;
  bool weighted_ = false;
};

/// The in-memory shard: one block.
template <class T>
std::unique_ptr<RowSource<T>> shard_source(const DenseShard<T>& shard);
/// Rows read from `ref` on demand, kStreamBlock rows at a time (memory O(kStreamBlock·d)).
template <class T>
std::unique_ptr<RowSource<T>> streamed_source(const Comm& comm, const DatasetRef& ref,
                                              const MatrixShape& shape);

}  // namespace lloyd
