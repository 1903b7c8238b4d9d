#pragma once
// Silhouette coefficient (Rousseeuw 1987) as scikit-learn defines it, computed exactly and
// distributed: row blocks travel around a ring of ranks, so every rank sees every row once
// while holding only its own block and one visiting block.
#include <cstdint>
#include <span>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

struct SilhouetteResult {
  double mean = 0;            ///< mean silhouette over the rows used
  double standard_error = 0;  ///< sd/√m of the per-row values (0 for the exact score)
  std::uint64_t rows = 0;     ///< rows used (n, or the sample size)
  bool sampled = false;
  std::vector<double> values;  ///< per-row silhouettes of this rank's rows (exact score only)
};

/// Collective over comm: the exact silhouette of every row and their mean, equal to
/// scikit-learn's silhouette_samples / silhouette_score (Euclidean distance). `labels`
/// are this rank's rows' clusters (≥ 0; unused values are ignored). The shard's rows may
/// be any contiguous partition of global_rows rows in rank order (first_row ascending).
///
/// Work O(n²d/p) per rank, memory O(n/p·(d+k)): the shard, one visiting block of rows and
/// labels, and k fixed-point sums per own row. Distances are computed in double in the
/// GEMM form over tiles of 256 rows aligned to global row indices (so each pair's distance
/// is the same bits on any layout), quantised to a fixed point whose unit is 2^-44 of the
/// data's bounding-box diameter (a power of two), and summed in integers: the result is
/// bit-identical for any number of ranks.
template <class T>
SilhouetteResult silhouette(const Comm& comm, const DenseShard<T>& shard,
                            std::span<const std::int32_t> labels);

/// Collective over comm: the silhouette score of a uniform random sample of `sample_size`
/// rows (the exact score of the sample, as scikit-learn's silhouette_score(sample_size=…)),
/// with its standard error sd/√m. The sample is the `sample_size` smallest counter-based
/// uniform keys of (seed, global row index), so it is the same for any number of ranks.
/// A sample_size ≥ n gives the exact score.
template <class T>
SilhouetteResult sampled_silhouette(const Comm& comm, const DenseShard<T>& shard,
                                    std::span<const std::int32_t> labels, std::uint64_t sample_size,
                                    std::uint64_t seed);

/// Collective over comm: the silhouette with cosine distances, as scikit-learn's
/// silhouette_samples / silhouette_score(metric="cosine"), of rows already scaled to unit norm
/// by normalize_rows (kmeans/spherical.hpp), the rows `fit --metric cosine` clusters: the
/// distance is 1 − x·y clipped to [0, 2] (scikit-learn's cosine_distances, which normalises
/// the same way), so an all-zero row is at distance 1 from every other row and 0 from itself.
/// Distributed as silhouette(): the CSR blocks travel around the half ring as they are
/// (values, columns, offsets; never densified), each pair's distance summed in double over
/// the columns both rows store, quantised (unit 2^-43) and summed in integers: bit-identical
/// for any number of ranks and threads. Work O(n · nonzeros / p) per rank.
template <class T>
SilhouetteResult cosine_silhouette(const Comm& comm, const CsrShard<T>& unit_rows,
                                   std::span<const std::int32_t> labels);

/// Collective over comm: cosine_silhouette of the sample sampled_silhouette would draw (the
/// same rows for the same seed and n), with its standard error.
template <class T>
SilhouetteResult sampled_cosine_silhouette(const Comm& comm, const CsrShard<T>& unit_rows,
                                           std::span<const std::int32_t> labels, std::uint64_t sample_size,
                                           std::uint64_t seed);

}  // namespace lloyd
