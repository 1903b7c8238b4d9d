#pragma once
// Order-free global selection of rows: every rank proposes local candidates, a collective
// reduction picks the global winners, and the winners' rows are fetched from their owners.
// Nothing depends on which rank holds which row.
#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdint>
#include <span>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/rng.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// Collective over comm: rows with the given global indices, in request order, on every
/// rank. Each owner contributes its rows to one allgatherv, `width` values each (d for data,
/// 1 for labels), written by copy_row(local index, out); the rows are held in rank order from
/// first_row on: a block distribution, or any other contiguous one (e.g. the rows of
/// one cluster, numbered in global order — bisecting K-Means), where a rank without rows has
/// first_row = the next rank's.
template <class T, class CopyRow>
std::vector<T> fetch_rows_by(const Comm& comm, std::uint64_t first_row, std::size_t width,
                             std::span<const std::uint64_t> indices, CopyRow&& copy_row) {
  const int ranks = comm.size();
  std::vector<std::uint64_t> starts(static_cast<std::size_t>(ranks));
  check_mpi(MPI_Allgather(&first_row, 1, MPI_UINT64_T, starts.data(), 1, MPI_UINT64_T, comm.get()),
            "MPI_Allgather");
  // The owner is the last rank that starts at or before the row.
  auto owner = [&](std::uint64_t row) {
    return static_cast<int>(std::upper_bound(starts.begin(), starts.end(), row) - starts.begin()) - 1;
  };
  std::vector<T> mine;
  std::vector<std::size_t> offset(static_cast<std::size_t>(ranks) + 1, 0);
  for (const std::uint64_t index : indices) {
    const int holder = owner(index);
    offset[static_cast<std::size_t>(holder) + 1] += width;
    if (holder == comm.rank()) {
      mine.resize(mine.size() + width);
      copy_row(index - first_row, mine.data() + mine.size() - width);
    }
  }
  const std::vector<T> all = comm.allgatherv(std::span<const T>(mine));
  for (int r = 0; r < ranks; ++r) offset[r + 1] += offset[r];  // start of each rank's part
  std::vector<T> result(indices.size() * width);
  for (std::size_t q = 0; q < indices.size(); ++q) {
    auto& cursor = offset[static_cast<std::size_t>(owner(indices[q]))];
    std::copy_n(all.begin() + static_cast<std::ptrdiff_t>(cursor), width,
                result.begin() + static_cast<std::ptrdiff_t>(q * width));
    cursor += width;
  }
  return result;
}

/// fetch_rows_by from local rows stored one after another in `data`.
template <class T>
std::vector<T> fetch_rows(const Comm& comm, std::uint64_t first_row, const T* data,
                          std::size_t width, std::span<const std::uint64_t> indices) {
  return fetch_rows_by<T>(comm, first_row, width, indices, [&](std::uint64_t local, T* out) {
    std::copy_n(data + local * width, width, out);
  });
}

/// The `count` local rows with the smallest key(row), as candidates for Comm::smallest
/// (of a DenseShard or a CsrShard). A bounded max-heap: `count` candidates are held, not a
/// key per row (16 bytes a row: as much as a shard of 4 float32 features). (key, index) is a
/// total order, so the set kept is the one a full sort would keep.
template <class Shard, class KeyOf>
std::vector<KeyIndex> local_smallest(const Shard& shard, std::size_t count, KeyOf key_of) {
  std::vector<KeyIndex> keys;
  if (count == 0) return keys;
  keys.reserve(std::min(static_cast<std::size_t>(shard.local_rows()), count));
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
    const KeyIndex candidate{key_of(i), shard.global_index(i)};
    if (keys.size() < count) {
      keys.push_back(candidate);
      if (keys.size() == count) std::make_heap(keys.begin(), keys.end());
    } else if (candidate < keys.front()) {
      std::pop_heap(keys.begin(), keys.end());
      keys.back() = candidate;
      std::push_heap(keys.begin(), keys.end());
    }
  }
  return keys;
}

/// Collective over comm: fetch_rows of a shard, as a matrix.
template <class T>
RowMatrix<T> rows_as_matrix(const Comm& comm, const DenseShard<T>& shard,
                            std::span<const std::uint64_t> indices) {
  const std::vector<T> values = fetch_rows(comm, shard.first_row,
                                           shard.rows.data(),
                                           static_cast<std::size_t>(shard.features()), indices);
  return Eigen::Map<const RowMatrix<T>>(values.data(), static_cast<Eigen::Index>(indices.size()),
                                        shard.features());
}

/// Collective over comm: k distinct rows: the k smallest uniform keys of `stream` win.
template <class Shard>
std::vector<std::uint64_t> distinct_random_rows(const Comm& comm, const Shard& shard,
                                                std::size_t count, const CounterRng& rng,
                                                std::uint64_t stream) {
  const auto keys = local_smallest(shard, count, [&](Eigen::Index i) {
    return rng.uniform(stream, shard.global_index(i));
  });
  std::vector<std::uint64_t> indices;
  for (const KeyIndex& winner : comm.smallest(keys, count)) indices.push_back(winner.index);
  return indices;
}

/// Collective over comm: distinct_random_rows drawn in proportion to the sample weights
/// (without replacement, numpy's choice(n, count, replace=False, p=w/Σw), as scikit-learn
/// ≥ 1.3 draws forgy centres): a race of keys −log(1 − u)/w (Efraimidis–Spirakis), the
/// smallest win, rows of weight 0 never (fewer than `count` rows when fewer weigh anything).
/// Without weights, distinct_random_rows itself (the same draws as before weights existed).
template <class T>
std::vector<std::uint64_t> weighted_random_rows(const Comm& comm, const DenseShard<T>& shard,
                                                std::size_t count, const CounterRng& rng, std::uint64_t stream) {
  if (!shard.weighted()) return distinct_random_rows(comm, shard, count, rng, stream);
  constexpr double kNever = std::numeric_limits<double>::infinity();
  const auto keys = local_smallest(shard, count, [&](Eigen::Index i) {
    const double weight = shard.weight(i);
    return weight > 0 ? -std::log1p(-rng.uniform(stream, shard.global_index(i))) / weight : kNever;
  });
  std::vector<std::uint64_t> indices;
  for (const KeyIndex& winner : comm.smallest(keys, count))
    if (winner.key != kNever) indices.push_back(winner.index);
  return indices;
}

/// Collective over comm: for subset_shard, the local positions of the chosen rows this rank
/// holds, ascending, in `kept`; returns the subset's first_row (the rows kept by lower ranks).
template <class Shard>
std::uint64_t keep_local_rows(const Comm& comm, const Shard& shard, std::vector<std::uint64_t> chosen,
                              std::vector<Eigen::Index>& kept) {
  std::erase_if(chosen, [&](std::uint64_t g) {
    return g < shard.first_row ||
           g >= shard.first_row + static_cast<std::uint64_t>(shard.local_rows());
  });
  std::sort(chosen.begin(), chosen.end());
  const std::uint64_t count = chosen.size();
  const std::vector<std::uint64_t> counts =
      comm.allgatherv(std::span<const std::uint64_t>(&count, 1));
  kept.resize(count);
  for (std::uint64_t q = 0; q < count; ++q) kept[q] = static_cast<Eigen::Index>(chosen[q] - shard.first_row);
  std::uint64_t first_row = 0;
  for (int r = 0; r < comm.rank(); ++r) first_row += counts[r];
  return first_row;
}

/// Collective over comm: the rows with the given distinct global indices (as every rank
/// has them, e.g. from distinct_random_rows), as a shard of their own numbered 0..m-1 in
/// global row order: every rank keeps the chosen rows it holds (nothing moves), so the
/// result is a contiguous partition in rank order again. `kept` receives the local
/// positions of the kept rows in the original shard, in order.
template <class T>
DenseShard<T> subset_shard(const Comm& comm, const DenseShard<T>& shard,
                           std::vector<std::uint64_t> chosen, std::vector<Eigen::Index>& kept) {
  DenseShard<T> subset;
  subset.global_rows = chosen.size();
  subset.first_row = keep_local_rows(comm, shard, chosen, kept);
  subset.rows.resize(static_cast<Eigen::Index>(kept.size()), shard.features());
  auto rows = subset.rows.mutable_matrix();
  for (std::size_t q = 0; q < kept.size(); ++q) rows.row(static_cast<Eigen::Index>(q)) = shard.rows.row(kept[q]);
  return subset;
}

/// subset_shard of a CSR shard: the kept rows keep their stored values as they are.
template <class T>
CsrShard<T> subset_shard(const Comm& comm, const CsrShard<T>& shard, std::vector<std::uint64_t> chosen,
                         std::vector<Eigen::Index>& kept) {
  CsrShard<T> subset;
  subset.global_rows = chosen.size();
  subset.columns = shard.columns;
  subset.first_row = keep_local_rows(comm, shard, chosen, kept);
  for (const Eigen::Index i : kept) {
    const auto begin = static_cast<std::ptrdiff_t>(shard.row_begin(i));
    const auto end = static_cast<std::ptrdiff_t>(shard.row_end(i));
    subset.indices.insert(subset.indices.end(), shard.indices.begin() + begin, shard.indices.begin() + end);
    subset.values.insert(subset.values.end(), shard.values.begin() + begin, shard.values.begin() + end);
    subset.indptr.push_back(static_cast<std::int64_t>(subset.values.size()));
  }
  return subset;
}

}  // namespace lloyd
