#pragma once
// The memory a fit needs per rank, from the data's shape and the fit's settings alone (before
// a row is read): every structure the fit holds, as a formula in the rank's rows r = ⌈n/p⌉,
// d, k (and the stored values for CSR). One model for the CLI (--verbose, --json,
// --max-memory-per-rank) and the documentation (docs/performance.md, "Memory per rank"), which
// compares it with the measured peak RSS (scripts/bench/bench_memory.py).
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lloyd/io/hdf5.hpp"
#include "lloyd/kmeans/fit_model.hpp"

namespace lloyd {

/// When a structure is held. The peak is what is always held plus the largest of the phases
/// (their structures are freed before the next phase starts).
/// Score: evaluate's and choose-k's metrics, once the fit (or the read) is done.
enum class MemoryPhase { Always, Read, Seeding, Loop, Score };
const char* to_string(MemoryPhase phase);

/// One structure of a fit on one rank.
struct MemoryPart {
  std::string name;  ///< e.g. "shard", "labels", "bounds"
  MemoryPhase phase = MemoryPhase::Always;
  double bytes = 0;
};

/// The memory of a fit on the rank with the most rows.
struct MemoryEstimate {
  std::vector<MemoryPart> parts;
  int ranks = 1;
  /// The peak resident memory: the Always parts plus the largest phase.
  double total() const;
  /// The bytes of the parts of one phase.
  double phase_bytes(MemoryPhase phase) const;
  /// The bytes of the part named `name` (0 when there is none).
  double bytes_of(std::string_view name) const;
};

/// What a process holds before any data: MPI, HDF5, the C++ and OpenMP runtimes and the
/// binary itself. Measured with `lloyd fit --json` on data/sample.h5 (5000 × 4): peak_rss_mb
/// 26.2 at 1 rank, 25.5–28.4 at 2–4 ranks (Open MPI 4.1, HDF5 1.10, x86-64, 2 threads).
inline constexpr double kProcessBaselineBytes = 26.0 * 1024 * 1024;

/// Open MPI's collective reads (OMPIO) with 3 ranks or more: an aggregator rank stages up to
/// io_ompio_bytes_per_agg (32 MiB by default) of the file while the shards are read. Measured:
/// 200k × 32 float32 (24.4 MiB) at 3 and 4 ranks, one rank's peak 22–23 MiB above the others'.
inline constexpr double kCollectiveReadBufferBytes = 32.0 * 1024 * 1024;
inline constexpr int kCollectiveReadAggregatorRanks = 3;

/// How a fit runs besides its settings.
struct FitMemoryOptions {
  bool distances = false;       ///< the model keeps each row's distance (--distances)
  bool stream = false;          ///< mini-batch reads its rows block by block (no shard in memory)
  bool collective_read = true;  ///< the rows come from HDF5 by a collective read (not .npy or CSV)
  bool standardize = false;     ///< --standardize: a streamed block is scaled in a copy of its own
};

/// The estimate of `lloyd fit` with `settings` on data of `shape` over `ranks` ranks, each
/// running `threads` threads.
MemoryEstimate estimate_fit_memory(const MatrixShape& shape, int ranks, int threads, const FitSettings& settings,
                                   const FitMemoryOptions& how = {});

/// What `lloyd evaluate` computes: its memory follows the scores asked for.
struct EvaluateMemorySettings {
  bool silhouette = true, calinski_harabasz = true, davies_bouldin = true;
  bool cosine = false;              ///< the cosine silhouette of unit CSR rows
  bool truth = false;               ///< --truth: a second labelling
  std::uint64_t sample_size = 0;    ///< the silhouette of a sample of this many rows (0: exact)
  std::int64_t clusters = 1;        ///< the labels' distinct values
  bool collective_read = true;
};

/// The estimate of `lloyd evaluate` on data of `shape` over `ranks` ranks.
MemoryEstimate estimate_evaluate_memory(const MatrixShape& shape, int ranks, const EvaluateMemorySettings& settings);

/// What `lloyd choose-k` runs: a fit per K (settings.fit, its k ignored) and the criteria.
struct ChooseKMemorySettings {
  FitSettings fit;
  int k_max = 2;
  bool silhouette = true, calinski_harabasz = true, davies_bouldin = true, gap = true;
  std::uint64_t silhouette_max_exact = 20000, silhouette_sample_size = 20000;
  bool collective_read = true;
};

/// The estimate of `lloyd choose-k` on data of `shape` over `ranks` ranks, each running
/// `threads` threads: the largest fit (K = k_max) and what the criteria add to it.
MemoryEstimate estimate_choose_k_memory(const MatrixShape& shape, int ranks, int threads,
                                        const ChooseKMemorySettings& settings);

/// The fewest ranks N (≤ `most`) such that the estimate fits `limit` bytes per rank at N ranks
/// and at every count from N to `most` — what "use at least N ranks" promises — by the same
/// model (`estimate_for(p)`); std::nullopt when even `most` ranks do not fit.
template <class EstimateFor>
std::optional<int> fewest_ranks_within(double limit, int most, EstimateFor&& estimate_for) {
  const auto fits = [&](int ranks) { return estimate_for(ranks).total() <= limit; };
  if (most < 1 || !fits(most)) return std::nullopt;
  // From kCollectiveReadAggregatorRanks on the total decreases as the ranks grow: a bisection
  // finds the fewest there. Below, the read stages nothing, so small data can fit at 2 ranks
  // and not at 3 (one rank stages the file): those counts extend N only downwards from where
  // every larger count fits.
  int fewest = most;
  if (most > kCollectiveReadAggregatorRanks) {
    int low = kCollectiveReadAggregatorRanks, high = most;  // fits(high)
    while (low < high) {
      const int middle = low + (high - low) / 2;
      if (fits(middle)) high = middle;
      else low = middle + 1;
    }
    fewest = high;
  }
  while (fewest > 1 && fewest <= kCollectiveReadAggregatorRanks && fits(fewest - 1)) --fewest;
  return fewest;
}

/// A size of memory as people write it: "2G", "512M", "1.5GiB", "800MB", "123456" (bytes),
/// "64k"; K/M/G/T (with or without B or iB) are powers of 1024. std::nullopt when it is not
/// one (empty, negative, not a number, unknown suffix, not finite).
std::optional<double> parse_memory_size(std::string_view text);

/// "1.23 GiB", "456.7 MiB", "12 KiB", "100 B": the unit that keeps the number readable.
std::string format_memory_size(double bytes);

/// The memory the cgroup of this process allows (cgroup v2 memory.max, else v1
/// memory.limit_in_bytes, read under `root`); std::nullopt when neither says a limit.
std::optional<double> cgroup_memory_limit(const std::string& root = "/sys/fs/cgroup");

}  // namespace lloyd
