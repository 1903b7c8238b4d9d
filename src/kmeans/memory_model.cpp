#include "lloyd/kmeans/memory_model.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "lloyd/core/distance.hpp"
#include "lloyd/io/row_source.hpp"
#include "lloyd/kmeans/bounded.hpp"
#include "lloyd/kmeans/init.hpp"
#include "lloyd/kmeans/nearest.hpp"

namespace lloyd {

const char* to_string(MemoryPhase phase) {
  switch (phase) {
    case MemoryPhase::Always: return "always";
    case MemoryPhase::Read: return "read";
    case MemoryPhase::Seeding: return "seeding";
    case MemoryPhase::Loop: return "loop";
    case MemoryPhase::Score: return "score";
  }
  return "?";
}

double MemoryEstimate::phase_bytes(MemoryPhase phase) const {
  double bytes = 0;
  for (const MemoryPart& part : parts)
    if (part.phase == phase) bytes += part.bytes;
  return bytes;
}

double MemoryEstimate::total() const {
  return phase_bytes(MemoryPhase::Always) +
         std::max({phase_bytes(MemoryPhase::Read), phase_bytes(MemoryPhase::Seeding), phase_bytes(MemoryPhase::Loop),
                   phase_bytes(MemoryPhase::Score)});
}

double MemoryEstimate::bytes_of(std::string_view name) const {
  double bytes = 0;
  for (const MemoryPart& part : parts)
    if (part.name == name) bytes += part.bytes;
  return bytes;
}

namespace {

// The rows of the passes that hold labels and distances a piece at a time (nearest.hpp).
constexpr double kPiece = static_cast<double>(kPassPieceRows);

// The per-row structures below are those of the code as it is (src/kmeans/driver.cpp,
// bounded.cpp, init.cpp, …); each comment names where it lives. r: the rank's rows; t: the
// bytes of one value (4 for float32, 8 for float64).
class Builder {
 public:
  Builder(double rows, double t) : r_(rows), t_(t) {}
  void add(std::string name, MemoryPhase phase, double bytes) {
    if (bytes > 0) estimate.parts.push_back({std::move(name), phase, bytes});
  }
  /// `per_row` bytes for every row of the rank.
  void rows(std::string name, MemoryPhase phase, double per_row) { add(std::move(name), phase, per_row * r_); }
  double r() const { return r_; }
  double t() const { return t_; }
  MemoryEstimate estimate;

 private:
  double r_, t_;
};

// k-means++ (init.cpp kmeans_plus_plus): each row's distance to the nearest centre (t; the
// rows' norms are computed where a step reads the rows, not kept); its nearest centre's number (int32) where the triangle inequality's bounds are on
// (from 128 features: kBoundsFromFeatures, or with the rows sorted); with the rows sorted by
// nearest centre (ClusterOrder: from 128 centres, unweighted, not a view) that distance once
// more in file order (t) and the row's positions (2 × uint32); and per step the rows some candidate comes closer to, with their distances to
// the candidates, kept up to max(4 MiB, shard / 16) (kept_rows_per_thread; the rest is
// computed again). (With sample weights 2t + 4 per row: not modelled.)
void plus_plus_seeding(Builder& b, double k, double d) {
  const bool sorted = k >= 128;  // init.cpp kSortFromCentres
  b.rows("seeding_nearest", MemoryPhase::Seeding, b.t() + (sorted || d >= 128 ? 4 : 0) + (sorted ? b.t() + 8 : 0));
  b.add("seeding_candidate_distances", MemoryPhase::Seeding, std::max(4.0 * (1 << 20), b.r() * d * b.t() / 16));
}

// The seeding of a dense fit (init.cpp): the first centre (and forgy's k) is drawn by the
// smallest random keys, of which selection.hpp local_smallest holds only as many as it draws.
void dense_seeding(Builder& b, InitMethod init, double k, double d, bool stream = false) {
  switch (init) {
    case InitMethod::KMeansPlusPlus: plus_plus_seeding(b, k, d); break;
    case InitMethod::KMeansParallel:
      // closest D² (t: it is computed in T) and nearest candidate (int32) per row, and the
      // rows grouped by nearest candidate (uint32 each), at most kParallelGroupedRows at a
      // time (streamed: of one block)
      b.rows("seeding_nearest_candidate", MemoryPhase::Seeding, b.t() + 4);
      b.add("seeding_candidate_groups", MemoryPhase::Seeding,
            std::min({b.r(), static_cast<double>(kParallelGroupedRows),
                      stream ? static_cast<double>(RowSource<float>::kStreamBlock) : b.r()}) * 4);
      break;
    case InitMethod::Forgy: break;
    case InitMethod::RandomPartition:
    case InitMethod::Explicit: break;
  }
}

// k·d structures: centres (current, previous, best), the exact cluster sums (16-byte fixed
// point per value, one per thread and the reduced total), Yinyang's per-thread batch scores.
void centre_structures(Builder& b, double k, double d, int threads) {
  b.add("centres_and_cluster_sums", MemoryPhase::Always, k * d * (3 * b.t() + 16.0 * (threads + 2)));
}

// The Euclidean Lloyd loop (driver.cpp FullStep / BoundedStep over RowBlocks): per row only
// the label and, for Hamerly and Yinyang, the bounds; the rest per block of
// RowSource::kStreamBlock rows (the previous labels and distances of one block). `rows`: the
// data's rows (the algorithm `auto` picks depends on them, not on the ranks).
void dense_lloyd(Builder& b, const FitSettings& settings, double d, int threads, std::uint64_t rows,
                 bool stream = false) {
  const KMeansOptions& options = settings.options;
  const int k = options.k;
  const Algorithm algorithm = choose_algorithm(options.algorithm, k, static_cast<Eigen::Index>(d), rows,
                                               static_cast<std::size_t>(b.t()));
  b.rows("labels", MemoryPhase::Loop, 4);
  if (algorithm != Algorithm::Lloyd) {
    // Hamerly: an upper and a lower bound per row; Yinyang: a lower bound per group of about
    // ten centres.
    const int groups = algorithm == Algorithm::Yinyang ? std::max(k / 10, 1) : 1;
    b.rows("upper_bounds", MemoryPhase::Loop, 4);
    b.rows("lower_bounds", MemoryPhase::Loop, 4.0 * groups);
  }
  b.add("block_scratch", MemoryPhase::Loop, static_cast<double>(RowSource<float>::kStreamBlock) * (8 + 4));
  // More than one restart: the best restart's labels are kept while the next one runs, and the
  // bounds (Hamerly, Yinyang) are made anew while the last restart's are still held.
  if (options.n_init > 1 && options.init != InitMethod::Explicit)
    b.rows("restarts", MemoryPhase::Loop, loop_bytes_per_row(algorithm, k));
  // Streamed (forgy, k-means||, random-partition or given centres): a draw keeps its keys per
  // block; k-means|| its t + 4 bytes per row as in memory (init.cpp kmeans_parallel), and
  // 4 per row of a block.
  if (stream && (options.init == InitMethod::Forgy || options.init == InitMethod::KMeansParallel))
    b.add("seeding_draw_keys", MemoryPhase::Seeding, static_cast<double>(RowSource<float>::kStreamBlock) * 16);
  if (!stream || options.init == InitMethod::KMeansParallel) dense_seeding(b, options.init, k, d, stream);
  centre_structures(b, k, d, threads);
}

}  // namespace

MemoryEstimate estimate_fit_memory(const MatrixShape& shape, int ranks, int threads, const FitSettings& settings,
                                   const FitMemoryOptions& how) {
  // --stream: mini-batch, and the Lloyd loop (Lloyd, Hamerly, Yinyang) on dense rows.
  const bool stream = how.stream && !settings.cosine &&
                      (settings.mode == ModelAlgorithm::MiniBatch || settings.mode == ModelAlgorithm::Lloyd);
  ranks = std::max(ranks, 1);
  threads = std::max(threads, 1);
  const double n = static_cast<double>(shape.rows), d = static_cast<double>(shape.cols);
  const double r = std::ceil(n / ranks);  // block_rows: the first ranks hold one row more
  const double t = shape.type == ElementType::Float32 ? 4.0 : 8.0;
  const int k = std::max(settings.options.k, 1);
  Builder b(r, t);
  b.add("process_baseline", MemoryPhase::Always, kProcessBaselineBytes);
  // Streamed and standardised: each block read is copied into ScaledRowSource's buffer and
  // scaled there (scaled_source.hpp), one block of rows beside the one read.
  if (stream && how.standardize)
    b.add("scaled_block", MemoryPhase::Always, static_cast<double>(RowSource<float>::kStreamBlock) * d * t);
  // The rank's share of the stored values of a CSR input (dense input read as CSR: all of them).
  const double nonzeros = shape.sparse ? std::ceil(static_cast<double>(shape.nonzeros) / ranks) : r * d;
  const double csr_bytes = (r + 1) * 8 + nonzeros * (4 + t);  // indptr int64, indices int32, values

  if (settings.cosine) {
    // Spherical K-Means (spherical.cpp SphericalStep): the rows stay CSR; per row only the
    // labels, from the end of the seeding on (an assignment writes over them, counting those
    // that change, and sums 1 − similarity exactly a piece of 4096 rows per thread at a time);
    // k-means++ keeps each row's largest similarity so far (t). More than one restart: the
    // best restart's labels are kept while the next one seeds and runs.
    b.add("shard_csr", MemoryPhase::Always, csr_bytes);
    // Dense input is read as dense rows, then made CSR (io/csr.hpp read_rows_as_csr).
    if (!shape.sparse) b.rows("dense_read_buffer", MemoryPhase::Read, d * t);
    b.rows("labels", MemoryPhase::Loop, 4);
    b.add("assignment_pieces", MemoryPhase::Loop, threads * 4096.0 * 8);
    if (settings.options.init == InitMethod::KMeansPlusPlus) b.rows("seeding_nearest", MemoryPhase::Seeding, t);
    if (settings.options.n_init > 1 && settings.options.init != InitMethod::Explicit) {
      b.rows("restarts", MemoryPhase::Loop, 4);
      b.rows("restarts_seeding", MemoryPhase::Seeding, 4);
    }
    centre_structures(b, k, d, threads);
  } else {
    const bool in_memory = !stream;
    if (in_memory) b.rows("shard", MemoryPhase::Always, d * t);
    // A CSR input of a dense fit is densified: the CSR shard is held while the dense one is made.
    if (shape.sparse && in_memory) b.add("csr_read_buffer", MemoryPhase::Read, csr_bytes);
    switch (settings.mode) {
      case ModelAlgorithm::Lloyd:
        // Streamed: one block of rows read at a time instead of the shard.
        if (stream) b.add("stream_block", MemoryPhase::Always, static_cast<double>(RowSource<float>::kStreamBlock) * d * t);
        dense_lloyd(b, settings, d, threads, shape.rows, stream);
        break;
      case ModelAlgorithm::Bisecting: {
        // bisecting.cpp NodeLayout: the rows arranged in place so that each node's are
        // contiguous, and the local row in each place (int32: the root split's labels, taken
        // over; not held during that split, which then holds only its own); a split's 2-means (Lloyd,
        // k = 2) runs on a view of its node's rows, no copy (with sample weights the node's
        // weights are copied: 8 bytes per row of the node, not modelled), and its labels
        // become the rows' new places.
        b.rows("node_layout", MemoryPhase::Always, 4);
        FitSettings split = settings;
        split.options.k = 2;
        split.options.algorithm = Algorithm::Lloyd;
        dense_lloyd(b, split, d, threads, shape.rows);
        centre_structures(b, k, d, threads);
        break;
      }
      case ModelAlgorithm::KMedians:
        // kmedians.cpp MediansStep, from the end of the seeding on: the labels, and one
        // piece's (kPassPieceRows rows) labels and distances. The exact medians (a radix selection
        // over histograms of the rows' keys, k·d·2·256 counts) hold nothing per row; with
        // sample weights, their integer units (8 bytes a row; weighted shards are not
        // modelled).
        b.rows("labels", MemoryPhase::Loop, 4);
        b.add("assignment_piece", MemoryPhase::Loop, std::min(b.r(), kPiece) * (4 + 8));
        b.add("median_histograms", MemoryPhase::Loop, k * d * 2 * 256 * 8);
        dense_seeding(b, settings.options.init, k, d);
        centre_structures(b, k, d, threads);
        break;
      case ModelAlgorithm::KMedoids: {
        // kmedoids.cpp on all rows or the --sample: each row's nearest and second-nearest
        // medoid (24 bytes), the ring's exact sums (2 × 16 bytes) and the other ranks' rows
        // passing around the ring (one block of the same size as the rank's, t·d per row).
        const double fitted = settings.medoids.sample ? std::min(r, std::ceil(static_cast<double>(settings.medoids.sample) / ranks)) : r;
        b.add("nearest_medoids", MemoryPhase::Loop, fitted * 24);
        b.add("ring_sums", MemoryPhase::Loop, fitted * 32);
        b.add("ring_buffer", MemoryPhase::Loop, fitted * d * t);
        // The labels of every row, and the distances of one piece of kPassPieceRows rows at a time
        // (nearest.cpp predict_nearest: the inertia's exact sum is the same in any pieces).
        b.rows("labels", MemoryPhase::Always, 4);
        b.add("distances_piece", MemoryPhase::Always, std::min(b.r(), kPiece) * 8);
        break;
      }
      case ModelAlgorithm::MiniBatch: {
        // minibatch.cpp: each row's label (in memory: until written), a batch and its
        // distances; streamed: one block of RowSource::kStreamBlock rows instead of the shard.
        const double batch = static_cast<double>(std::max<std::uint64_t>(settings.batch.batch_size, 1));
        const double init_rows = settings.batch.init_size ? static_cast<double>(settings.batch.init_size) : 3 * batch;
        if (stream) b.add("stream_block", MemoryPhase::Always, static_cast<double>(RowSource<float>::kStreamBlock) * (d * t + 12));
        else {
          b.rows("labels", MemoryPhase::Loop, 4);
          // The passes over the shard (the seeding's cost, the final labels) hold the labels
          // and distances of one piece of at most kPassPieceRows rows (minibatch.cpp for_each_piece).
          const double piece = std::min(r, kPiece) * (4 + 8);
          b.add("seeding_cost_piece", MemoryPhase::Seeding, piece);
          b.add("final_labels_piece", MemoryPhase::Loop, piece);
        }
        b.add("batch", MemoryPhase::Loop, batch * (d * t + 16));
        b.add("seeding_sample", MemoryPhase::Seeding, init_rows * (d * t + 24));
        centre_structures(b, k, d, threads);
        break;
      }
    }
  }
  // --distances: computed once the fit is done, when the loop's structures are gone.
  // Streamed, they go to the file block by block.
  if (how.distances && !stream) b.rows("output_distances", MemoryPhase::Loop, 8);
  // The collective read's staging on an aggregator rank (the estimate is the largest rank's).
  const double file_bytes = shape.sparse ? static_cast<double>(shape.nonzeros) * (4 + t) : n * d * t;
  // Listed (as 0) below 3 ranks too, so that --json has the same parts at every rank count.
  if (how.collective_read && !stream)
    b.estimate.parts.push_back({"read_aggregator_buffer", MemoryPhase::Read,
                                ranks >= kCollectiveReadAggregatorRanks ? std::min(file_bytes, kCollectiveReadBufferBytes) : 0});
  b.estimate.ranks = ranks;
  return b.estimate;
}

namespace {

// The exact silhouette of m rows per rank out of `scored` (metrics/silhouette.cpp
// cluster_distance_sums): each row's norm (8) and its exact distance sum to each of the c
// clusters (int64, 8 bytes, up to pairwise::kInt64DistanceSumRows rows scored; Int128 beyond),
// and its score (8); from 2 ranks on, the visiting block of the ring — rows, norms, labels and
// sums — and one piece of a message in transit (MPI_Sendrecv_replace's copy, or the visiting
// sums coming home), at most pairwise::kShiftPieceBytes.
void silhouette_ring(Builder& b, double m, double scored, double c, double row_bytes, int ranks, MemoryPhase phase) {
  const double sum_bytes = scored <= static_cast<double>(pairwise::kInt64DistanceSumRows) ? 8 : 16;
  b.add("silhouette_sums", phase, m * (8 + sum_bytes * c + 8));
  if (ranks > 1) {
    b.add("silhouette_ring", phase, m * (row_bytes + 8 + 4 + sum_bytes * c));
    b.add("silhouette_ring_piece", phase,
          std::min(static_cast<double>(pairwise::kShiftPieceBytes), m * std::max(row_bytes, sum_bytes * c)));
  }
}

// The silhouette of a sample of s rows (silhouette.cpp sampled): the rows drawn (the s smallest
// keys, 16 bytes each, selection.hpp local_smallest), the rank's share of the sample copied out,
// and the ring over it.
void sampled_silhouette(Builder& b, double s, double c, double row_bytes, int ranks) {
  const double mine = std::ceil(s / ranks);
  b.add("silhouette_sample_draw", MemoryPhase::Score, s * 16);
  b.add("silhouette_sample", MemoryPhase::Score, mine * (row_bytes + 8 + 4));
  silhouette_ring(b, mine, s, c, row_bytes, ranks, MemoryPhase::Score);
}

// The rows of a command that reads the data whole: dense (or a CSR input densified), or kept
// CSR (cosine); the bytes of one row as the ring carries it.
double read_rows(Builder& b, const MatrixShape& shape, int ranks, bool as_csr) {
  const double d = static_cast<double>(shape.cols);
  const double nonzeros = shape.sparse ? std::ceil(static_cast<double>(shape.nonzeros) / ranks) : b.r() * d;
  const double csr_bytes = (b.r() + 1) * 8 + nonzeros * (4 + b.t());
  if (as_csr) {
    b.add("shard_csr", MemoryPhase::Always, csr_bytes);
    if (!shape.sparse) b.rows("dense_read_buffer", MemoryPhase::Read, d * b.t());
    return b.r() > 0 ? csr_bytes / b.r() : 0;
  }
  b.rows("shard", MemoryPhase::Always, d * b.t());
  if (shape.sparse) b.add("csr_read_buffer", MemoryPhase::Read, csr_bytes);
  return d * b.t();
}

void read_aggregator(Builder& b, const MatrixShape& shape, int ranks, bool collective_read) {
  const double file_bytes = shape.sparse ? static_cast<double>(shape.nonzeros) * (4 + b.t())
                                         : static_cast<double>(shape.rows) * static_cast<double>(shape.cols) * b.t();
  if (collective_read)
    b.estimate.parts.push_back({"read_aggregator_buffer", MemoryPhase::Read,
                                ranks >= kCollectiveReadAggregatorRanks ? std::min(file_bytes, kCollectiveReadBufferBytes) : 0});
}

}  // namespace

MemoryEstimate estimate_evaluate_memory(const MatrixShape& shape, int ranks, const EvaluateMemorySettings& settings) {
  ranks = std::max(ranks, 1);
  const double t = shape.type == ElementType::Float32 ? 4.0 : 8.0;
  const double r = std::ceil(static_cast<double>(shape.rows) / ranks);
  const double c = static_cast<double>(std::max<std::int64_t>(settings.clusters, 1));
  const double d = static_cast<double>(shape.cols);
  Builder b(r, t);
  b.add("process_baseline", MemoryPhase::Always, kProcessBaselineBytes);
  const double row_bytes = read_rows(b, shape, ranks, settings.cosine);
  // metrics/labels.cpp read_encoded_labels: the codes (int32) of the labels (and of --truth),
  // kept. Labels stored in 64 bits (or unsigned 32) are read as int64 first (12 bytes a row
  // while they are encoded), but that happens before this estimate (which needs the number of
  // clusters) and before the rows, when nothing else is held.
  b.rows("labels", MemoryPhase::Always, settings.truth ? 8 : 4);
  if (settings.silhouette) {
    if (settings.sample_size && settings.sample_size < shape.rows)
      sampled_silhouette(b, static_cast<double>(settings.sample_size), c, row_bytes, ranks);
    else silhouette_ring(b, r, static_cast<double>(shape.rows), c, row_bytes, ranks, MemoryPhase::Score);
  }
  // Calinski–Harabasz and Davies–Bouldin: exact sums per cluster and feature (internal.cpp).
  if (settings.calinski_harabasz || settings.davies_bouldin)
    b.add("cluster_sums", MemoryPhase::Score, (c + 1) * d * (16 + 8));
  read_aggregator(b, shape, ranks, settings.collective_read);
  b.estimate.ranks = ranks;
  return b.estimate;
}

MemoryEstimate estimate_choose_k_memory(const MatrixShape& shape, int ranks, int threads,
                                        const ChooseKMemorySettings& settings) {
  ranks = std::max(ranks, 1);
  // The largest fit: K = k_max (select/sweep.cpp fits each K in turn, then scores it).
  FitSettings fit = settings.fit;
  fit.options.k = std::max(settings.k_max, 1);
  MemoryEstimate estimate = estimate_fit_memory(shape, ranks, threads, fit, {.collective_read = settings.collective_read});
  const double t = shape.type == ElementType::Float32 ? 4.0 : 8.0;
  const double r = std::ceil(static_cast<double>(shape.rows) / ranks);
  const double c = fit.options.k;
  Builder b(r, t);
  b.estimate = std::move(estimate);
  const double row_bytes = fit.cosine ? b.estimate.bytes_of("shard_csr") / std::max(r, 1.0) : shape.cols * t;
  if (settings.silhouette) {
    // The fit's labels are held while it is scored.
    b.rows("scored_labels", MemoryPhase::Score, 4);
    if (shape.rows > settings.silhouette_max_exact)
      sampled_silhouette(b, static_cast<double>(std::min<std::uint64_t>(settings.silhouette_sample_size, shape.rows)),
                         c, row_bytes, ranks);
    else silhouette_ring(b, r, static_cast<double>(shape.rows), c, row_bytes, ranks, MemoryPhase::Score);
  }
  // The gap statistic's reference sets are made in the shard's own memory once the data's fits
  // are done (select/sweep.cpp, choose_k of a shard given up): nothing besides the shard.
  return b.estimate;
}

std::optional<double> parse_memory_size(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty() || text.front() == '-' || text.front() == '+') return std::nullopt;
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || !std::isfinite(value) || value < 0) return std::nullopt;
  std::string suffix(end, text.data() + text.size());
  while (!suffix.empty() && suffix.front() == ' ') suffix.erase(0, 1);
  for (char& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (suffix.size() > 1 && suffix.back() == 'B') suffix.pop_back();   // "GB", "GIB" → "G", "GI"
  if (suffix.size() == 2 && suffix.back() == 'I') suffix.pop_back();  // "GI" → "G"
  double unit = 0;
  if (suffix.empty() || suffix == "B") unit = 1;
  else if (suffix == "K") unit = 1024.0;
  else if (suffix == "M") unit = 1024.0 * 1024;
  else if (suffix == "G") unit = 1024.0 * 1024 * 1024;
  else if (suffix == "T") unit = 1024.0 * 1024 * 1024 * 1024;
  else return std::nullopt;
  const double bytes = value * unit;
  if (!std::isfinite(bytes)) return std::nullopt;
  return bytes;
}

std::string format_memory_size(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  char text[48];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.3g %s", bytes, units[unit]);
  return text;
}

namespace {

// The first line of a file, or "" when it cannot be read.
std::string first_line(const std::string& path) {
  std::ifstream file(path);
  std::string line;
  if (file) std::getline(file, line);
  return line;
}

// A limit in bytes as a cgroup file writes it; "max" or an absurdly large value (cgroup v1
// writes 2^63 rounded to pages for "none") is no limit.
std::optional<double> cgroup_value(const std::string& text) {
  if (text.empty() || text == "max") return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || value == 0 || value >= (std::uint64_t{1} << 60)) return std::nullopt;
  return static_cast<double>(value);
}

}  // namespace

std::optional<double> cgroup_memory_limit(const std::string& root) {
  // This process's cgroup paths (/proc/self/cgroup): "0::/path" (v2), "N:memory:/path" (v1).
  // Inside a container or a Slurm job with a cgroup namespace the path is "/" and the limit is
  // at the root itself.
  std::string v2_path = "/", v1_path = "/";
  std::ifstream cgroups("/proc/self/cgroup");
  for (std::string line; std::getline(cgroups, line);) {
    if (line.rfind("0::", 0) == 0) v2_path = line.substr(3);
    const auto memory = line.find(":memory:");
    if (memory != std::string::npos) v1_path = line.substr(memory + 8);
  }
  std::optional<double> limit;
  for (const std::string& path : {root + v2_path + "/memory.max", root + "/memory.max"})
    if (!limit) limit = cgroup_value(first_line(path));
  for (const std::string& path :
       {root + "/memory" + v1_path + "/memory.limit_in_bytes", root + "/memory/memory.limit_in_bytes"})
    if (!limit) limit = cgroup_value(first_line(path));
  return limit;
}

}  // namespace lloyd
