#include "lloyd/core/distance.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "lloyd/core/exact_sum.hpp"

namespace lloyd {

Distance parse_distance(const std::string& name) {
  if (name == "euclidean") return Distance::Euclidean;
  if (name == "manhattan" || name == "l1" || name == "cityblock") return Distance::Manhattan;
  if (name == "cosine") return Distance::Cosine;
  throw Error("unknown distance '" + name + "': expected euclidean, manhattan or cosine");
}

const char* to_string(Distance distance) {
  switch (distance) {
    case Distance::Euclidean: return "euclidean";
    case Distance::Manhattan: return "manhattan";
    case Distance::Cosine: return "cosine";
  }
  return "?";
}

namespace pairwise {

template <class T>
std::vector<double> row_norms(Distance distance, const T* rows, std::uint64_t count,
                              Eigen::Index d) {
  std::vector<double> norms(count);
  if (distance == Distance::Manhattan) return norms;
  for (std::uint64_t i = 0; i < count; ++i) {
    const T* x = rows + i * static_cast<std::uint64_t>(d);
    double norm = 0;
    for (Eigen::Index j = 0; j < d; ++j)
      norm += static_cast<double>(x[j]) * static_cast<double>(x[j]);
    norms[i] = distance == Distance::Cosine ? std::sqrt(norm) : norm;
  }
  return norms;
}

template <class T>
double fixed_point_scale(const Comm& comm, const DenseShard<T>& shard, Distance distance) {
  const Eigen::Index d = shard.features();
  std::vector<double> bounds(static_cast<std::size_t>(2 * d),
                             -std::numeric_limits<double>::infinity());
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
    for (Eigen::Index j = 0; j < d; ++j) {
      const double v = static_cast<double>(shard.rows(i, j));
      bounds[j] = std::max(bounds[j], v);
      bounds[d + j] = std::max(bounds[d + j], -v);
    }
  comm.allreduce(std::span<double>(bounds), MPI_MAX);
  double diameter2 = 0, l1_diameter = 0;
  for (Eigen::Index j = 0; j < d; ++j) {
    const double width = bounds[j] + bounds[d + j];
    if (std::isfinite(width)) {
      diameter2 += width * width;
      l1_diameter += width;
    }
  }
  const double diameter = distance == Distance::Euclidean   ? std::sqrt(diameter2)
                          : distance == Distance::Manhattan ? l1_diameter
                                                            : 2.0;
  return fixed_point_scale(diameter);
}

double fixed_point_scale(double diameter) {
  // Computed distances may exceed the true diameter by rounding: leave a margin.
  const double bound = std::fma(diameter, 1 + 1e-6, std::numeric_limits<double>::min());
  int exponent = 0;
  std::frexp(0x1.0p44 / bound, &exponent);
  return std::ldexp(1.0, exponent - 1);
}

void shift_bytes(const Comm& comm, void* data, std::uint64_t bytes, int tag) {
  constexpr std::uint64_t kPiece = kShiftPieceBytes;
  const int next = (comm.rank() + 1) % comm.size();
  const int previous = (comm.rank() + comm.size() - 1) % comm.size();
  auto* base = static_cast<unsigned char*>(data);
  for (std::uint64_t offset = 0; offset < bytes; offset += kPiece)
    check_mpi(
        MPI_Sendrecv_replace(base + offset, static_cast<int>(std::min(kPiece, bytes - offset)),
                             MPI_BYTE, next, tag, previous, tag, comm.get(), MPI_STATUS_IGNORE),
        "MPI_Sendrecv_replace");
}

template <class T>
void TileRows::load(const T* rows, std::uint64_t first, std::uint64_t count,
                    const std::vector<double>& block_norms, std::uint64_t tile_start) {
  start = tile_start;
  const std::uint64_t lo = std::max(tile_start, first);
  const std::uint64_t hi = std::min(tile_start + kTile, first + count);
  range = {lo, hi};
  norms.setZero();
  for (std::uint64_t g = lo; g < hi; ++g)
    norms(static_cast<Eigen::Index>(g - tile_start)) = block_norms[g - first];
  if constexpr (std::is_same_v<T, double>) {
    if (hi - lo == static_cast<std::uint64_t>(kTile)) {
      data = rows + (lo - first) * static_cast<std::uint64_t>(features);
      return;
    }
  }
  scratch.setZero();
  for (std::uint64_t g = lo; g < hi; ++g) {
    const T* x = rows + (g - first) * static_cast<std::uint64_t>(features);
    for (Eigen::Index j = 0; j < features; ++j)
      scratch(static_cast<Eigen::Index>(g - tile_start), j) = static_cast<double>(x[j]);
  }
  data = scratch.data();
}

void quantised_distances(Distance distance, const TileRows& lhs, const TileRows& rhs, double scale,
                         Tile& out) {
  // Rounds x ≥ 0 below 2^51 to the nearest integer (ties to even) with two additions,
  // which vectorise where nearbyint may not.
  constexpr double kRound = 0x1.8p52;
  const double* b = rhs.norms.data();
  if (distance == Distance::Manhattan) {
    const TileMap x = lhs.matrix(), y = rhs.matrix();
    for (Eigen::Index r = 0; r < kTile; ++r)
      for (Eigen::Index c = 0; c < kTile; ++c)
        out(r, c) = std::fma(row_distance(distance, x.row(r).data(), y.row(c).data(), lhs.features), scale,
                             kRound) - kRound;
  } else {
    out.noalias() = lhs.matrix() * rhs.matrix().transpose();
    for (Eigen::Index r = 0; r < kTile; ++r) {
      double* row = out.row(r).data();
      const double a = lhs.norms(r);
      if (distance == Distance::Euclidean) {
        for (Eigen::Index c = 0; c < kTile; ++c) {
          const double squared = std::max(0.0, std::fma(-2.0, row[c], a + b[c]));
          row[c] = std::fma(std::sqrt(squared), scale, kRound) - kRound;
        }
      } else {
        for (Eigen::Index c = 0; c < kTile; ++c) {
          const double norms = a * b[c];
          const double cosine = norms > 0 ? std::clamp(1.0 - row[c] / norms, 0.0, 2.0) : 1.0;
          row[c] = (cosine * scale + kRound) - kRound;
        }
      }
    }
  }
  if (lhs.start == rhs.start)  // a row's distance to itself is 0, not rounding noise
    for (Eigen::Index r = 0; r < kTile; ++r) out(r, r) = 0;
}

template <class T>
void quantised_unit_cosines(const SparseTileRows<T>& lhs, const SparseTileRows<T>& rhs, double scale,
                            SparseColumnScratch& scratch, Tile& out) {
  constexpr double kRound = 0x1.8p52;  // as in quantised_distances
  auto& [slot, touched, begin, rows, values] = scratch;
  // rhs by column, each column's rows ascending: a counting sort over the columns it stores.
  touched.clear();
  begin.assign(1, 0);
  for (std::int64_t e = rhs.indptr[rhs.range.begin - rhs.first]; e < rhs.indptr[rhs.range.end - rhs.first]; ++e) {
    const auto column = static_cast<std::size_t>(rhs.indices[e]);
    if (slot[column] == 0) {
      touched.push_back(static_cast<std::int32_t>(column));
      slot[column] = static_cast<std::int32_t>(touched.size());
      begin.push_back(0);
    }
    ++begin[static_cast<std::size_t>(slot[column])];
  }
  for (std::size_t t = 1; t < begin.size(); ++t) begin[t] += begin[t - 1];
  rows.resize(static_cast<std::size_t>(begin.back()));
  values.resize(rows.size());
  std::vector<std::int64_t> cursor(begin.begin(), begin.end() - 1);
  for (std::uint64_t h = rhs.range.begin; h < rhs.range.end; ++h)
    for (std::int64_t e = rhs.indptr[h - rhs.first]; e < rhs.indptr[h - rhs.first + 1]; ++e) {
      const auto at = static_cast<std::size_t>(cursor[static_cast<std::size_t>(slot[static_cast<std::size_t>(rhs.indices[e])] - 1)]++);
      rows[at] = static_cast<std::int32_t>(h - rhs.start);
      values[at] = static_cast<double>(rhs.values[e]);
    }

  out.setZero();
  double dots[kTile];
  for (std::uint64_t g = lhs.range.begin; g < lhs.range.end; ++g) {
    std::fill(dots, dots + kTile, 0.0);
    // lhs's columns ascending: every dot gathers its terms in ascending column order.
    for (std::int64_t e = lhs.indptr[g - lhs.first]; e < lhs.indptr[g - lhs.first + 1]; ++e) {
      const std::int32_t t = slot[static_cast<std::size_t>(lhs.indices[e])];
      if (t == 0) continue;
      const double x = static_cast<double>(lhs.values[e]);
      for (std::int64_t p = begin[static_cast<std::size_t>(t) - 1]; p < begin[static_cast<std::size_t>(t)]; ++p)
        dots[rows[static_cast<std::size_t>(p)]] += x * values[static_cast<std::size_t>(p)];
    }
    double* row = out.row(static_cast<Eigen::Index>(g - lhs.start)).data();
    for (std::uint64_t h = rhs.range.begin; h < rhs.range.end; ++h)
      row[h - rhs.start] = (std::clamp(1.0 - dots[h - rhs.start], 0.0, 2.0) * scale + kRound) - kRound;
  }
  for (const std::int32_t column : touched) slot[static_cast<std::size_t>(column)] = 0;
  if (lhs.start == rhs.start)  // a row's distance to itself is 0 (scikit-learn's too)
    for (Eigen::Index r = 0; r < kTile; ++r) out(r, r) = 0;
}

#define LLOYD_INSTANTIATE(T)                                                                  \
  template std::vector<double> row_norms(Distance, const T*, std::uint64_t, Eigen::Index);  \
  template double fixed_point_scale(const Comm&, const DenseShard<T>&, Distance);            \
  template void TileRows::load(const T*, std::uint64_t, std::uint64_t,                       \
                               const std::vector<double>&, std::uint64_t);                  \
  template void quantised_unit_cosines(const SparseTileRows<T>&, const SparseTileRows<T>&, double, \
                                       SparseColumnScratch&, Tile&);
LLOYD_INSTANTIATE(float)
LLOYD_INSTANTIATE(double)

}  // namespace pairwise

}  // namespace lloyd
