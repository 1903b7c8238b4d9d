#pragma once
// Choosing K: one K-Means fit per K and the criteria that judge it (elbow, silhouette,
// Calinski–Harabasz, Davies–Bouldin, gap statistic), each with its recommended K.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/core/options.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// Where the gap statistic's reference data come from (Tibshirani et al. 2001, §3):
/// uniform over the bounding box of the data, or over the box of the data's principal
/// components (rotated back), which follows the shape of elongated data.
enum class GapReference { Uniform, Pca };
GapReference parse_gap_reference(const std::string& name);  ///< "uniform" | "pca"
const char* to_string(GapReference reference);

struct SweepOptions {
  int k_min = 2, k_max = 10;
  bool silhouette = true, calinski_harabasz = true, davies_bouldin = true, gap = true;
  int gap_refs = 10;  ///< B reference data sets
  GapReference gap_reference = GapReference::Uniform;
  /// Exact silhouette up to this many rows; beyond, a sample of silhouette_sample_size rows.
  std::uint64_t silhouette_max_exact = 20000;
  std::uint64_t silhouette_sample_size = 20000;
  KMeansOptions fit;  ///< init, n_init, max_iter, tol, seed of every fit (k is set per K)
};

/// Per K (vectors indexed like ks); criteria that were not asked for, or are undefined
/// (silhouette, CH, DB at K = 1), are NaN.
struct SweepResult {
  std::vector<int> ks, n_iter;
  std::vector<double> inertia, silhouette, silhouette_stderr, calinski_harabasz, davies_bouldin;
  std::vector<double> gap, gap_s, log_w, reference_log_w;  ///< reference_log_w: mean over B
  bool silhouette_sampled = false;
  /// Recommended K of each criterion, 0 when it was not computed. The elbow is the kneedle
  /// point of log inertia (kneedle_elbow); silhouette and CH: largest; DB: smallest; gap:
  /// gap_choice.
  int elbow_k = 0, silhouette_k = 0, calinski_harabasz_k = 0, davies_bouldin_k = 0, gap_k = 0;
};

/// One finished fit, for progress lines.
struct SweepProgress {
  int k = 0;
  int reference = -1;  ///< -1: the data; otherwise the gap reference set b
  double inertia = 0;
  int n_iter = 0;
  int done = 0, total = 0;  ///< fits finished and planned
  double seconds = 0;       ///< since the sweep started (this rank's clock)
};
using SweepObserver = std::function<void(const SweepProgress&)>;

/// Collective over comm: the sweep K = k_min..k_max. Every rank returns identical values,
/// and they are bit-identical for any number of ranks: the fits are, the metrics are, and
/// each reference row is drawn by the counter-based generator from (seed, b, global row).
/// The data's fits come first (every K), then each gap reference set b, fitted at every K.
/// Memory: the shard and one reference set of its size.
template <class T>
SweepResult choose_k(const Comm& comm, const DenseShard<T>& shard, const SweepOptions& options,
                     const SweepObserver& observer = {});
/// The same sweep on a shard the caller gives up (the CLI's): the reference sets are made in
/// its memory once the data's fits are done, so the sweep holds one shard only. A view of the
/// caller's memory is never written: it sweeps as above.
template <class T>
SweepResult choose_k(const Comm& comm, DenseShard<T>&& shard, const SweepOptions& options,
                     const SweepObserver& observer = {});

/// Collective over comm: the sweep with the cosine metric, on rows already scaled to unit
/// norm (normalize_rows): per K the spherical K-Means fit of `fit --metric cosine`
/// (fit_spherical, tol absolute), its objective Σ (1 − cos) as the inertia of the elbow, and
/// the cosine silhouette (cosine_silhouette; sampled beyond silhouette_max_exact rows).
/// Calinski–Harabasz, Davies–Bouldin and the gap statistic are Euclidean constructions
/// (means, a box-uniform null): asking for them is an AgreedError; they are NaN in the result.
/// Bit-identical for any number of ranks and threads.
template <class T>
SweepResult choose_k_cosine(const Comm& comm, const CsrShard<T>& unit_rows, const SweepOptions& options,
                            const SweepObserver& observer = {});

/// Collective over comm: reference data set `b` of the gap statistic, with the rows of
/// `shard`'s layout (each rank generates its own rows).
template <class T>
class GapReferenceSampler {
 public:
  GapReferenceSampler(const Comm& comm, const DenseShard<T>& shard, GapReference kind,
                      std::uint64_t seed);
  /// Not collective.
  DenseShard<T> sample(int b) const;
  /// sample(b) written into `reference` (resized to the shard's shape unless it has it
  /// already; it must not be a view): no allocation when the memory is there.
  void sample_into(int b, DenseShard<T>& reference) const;

 private:
  const DenseShard<T>& shard_;
  std::uint64_t seed_;
  Eigen::VectorXd lo_, hi_, mean_;  ///< box in the (rotated) basis; mean for PCA
  Eigen::MatrixXd rotation_;        ///< d × d principal axes (identity for uniform)
  bool rotated_ = false;
};

}  // namespace lloyd
