// The memory model (kmeans/memory_model.hpp): its formulas, the peak over phases, the ranks
// needed under a limit, and the SIZE parser of --max-memory-per-rank.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "lloyd/kmeans/init.hpp"
#include "lloyd/kmeans/memory_model.hpp"

namespace lloyd {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

MatrixShape dense(std::uint64_t rows, std::uint64_t cols, ElementType type = ElementType::Float32) {
  MatrixShape shape;
  shape.rows = rows;
  shape.cols = cols;
  shape.type = type;
  return shape;
}

FitSettings lloyd_fit(int k, Algorithm algorithm, InitMethod init) {
  FitSettings settings;
  settings.options.k = k;
  settings.options.algorithm = algorithm;
  settings.options.init = init;
  return settings;
}

TEST(MemoryModel, ShardIsRowsOfTheLargestRankTimesFeaturesTimesValueSize) {
  const FitSettings settings = lloyd_fit(16, Algorithm::Lloyd, InitMethod::KMeansPlusPlus);
  // 1001 rows over 2 ranks: the first rank holds 501.
  EXPECT_DOUBLE_EQ(estimate_fit_memory(dense(1001, 8), 2, 1, settings).bytes_of("shard"), 501.0 * 8 * 4);
  EXPECT_DOUBLE_EQ(estimate_fit_memory(dense(1000, 8, ElementType::Float64), 1, 1, settings).bytes_of("shard"),
                   1000.0 * 8 * 8);
}

TEST(MemoryModel, PerRowStructuresOfEachAlgorithm) {
  const std::uint64_t n = 1000000;
  const MatrixShape shape = dense(n, 32);
  const MemoryEstimate lloyd = estimate_fit_memory(shape, 1, 1, lloyd_fit(64, Algorithm::Lloyd, InitMethod::Forgy));
  // Per row only the label; distances and the previous labels per block (issue 22).
  EXPECT_DOUBLE_EQ(lloyd.bytes_of("labels"), 4.0 * n);
  EXPECT_DOUBLE_EQ(lloyd.bytes_of("distances"), 0);
  EXPECT_DOUBLE_EQ(lloyd.bytes_of("row_norms"), 0);
  EXPECT_DOUBLE_EQ(lloyd.bytes_of("lower_bounds"), 0);
  const MemoryEstimate hamerly = estimate_fit_memory(shape, 1, 1, lloyd_fit(64, Algorithm::Hamerly, InitMethod::Forgy));
  EXPECT_DOUBLE_EQ(hamerly.bytes_of("upper_bounds") + hamerly.bytes_of("lower_bounds"), 8.0 * n);
  // Yinyang: one lower bound per group of ten centres (k / 10 = 6 groups).
  const MemoryEstimate yinyang = estimate_fit_memory(shape, 1, 1, lloyd_fit(64, Algorithm::Yinyang, InitMethod::Forgy));
  EXPECT_DOUBLE_EQ(yinyang.bytes_of("lower_bounds"), 6 * 4.0 * n);
  // auto is what choose_algorithm runs: Hamerly for k > 2 where its bounds fit 15% of the
  // data + 24 MiB (here: 8 MB of bounds on 128 MB of rows)...
  const MemoryEstimate automatic = estimate_fit_memory(shape, 1, 1, lloyd_fit(64, Algorithm::Auto, InitMethod::Forgy));
  EXPECT_DOUBLE_EQ(automatic.total(), hamerly.total());
  // ... and Lloyd where they do not (8M x 8 float32: 64 MB of bounds against 38 MB + 24 MiB),
  // at any rank count (the choice does not depend on it).
  for (const int ranks : {1, 2, 4}) {
    const MatrixShape narrow = dense(8000000, 8);
    EXPECT_DOUBLE_EQ(estimate_fit_memory(narrow, ranks, 1, lloyd_fit(64, Algorithm::Auto, InitMethod::Forgy)).total(),
                     estimate_fit_memory(narrow, ranks, 1, lloyd_fit(64, Algorithm::Lloyd, InitMethod::Forgy)).total());
  }
}

TEST(MemoryModel, StreamedLloydHoldsLabelsAndBoundsButNoShard) {
  const std::uint64_t n = 8000000;
  FitSettings settings = lloyd_fit(64, Algorithm::Hamerly, InitMethod::Forgy);
  const MemoryEstimate streamed = estimate_fit_memory(dense(n, 32), 2, 1, settings, {.stream = true});
  EXPECT_DOUBLE_EQ(streamed.bytes_of("shard"), 0);
  EXPECT_DOUBLE_EQ(streamed.bytes_of("labels") + streamed.bytes_of("upper_bounds") + streamed.bytes_of("lower_bounds"),
                   12.0 * n / 2);
  EXPECT_GT(streamed.bytes_of("stream_block"), 0);
  const MemoryEstimate in_memory = estimate_fit_memory(dense(n, 32), 2, 1, settings);
  EXPECT_DOUBLE_EQ(in_memory.bytes_of("shard"), 128.0 * n / 2);
}

TEST(MemoryModel, PeakIsAlwaysHeldPlusTheLargestPhase) {
  const MemoryEstimate estimate =
      estimate_fit_memory(dense(200000, 8), 1, 2, lloyd_fit(16, Algorithm::Lloyd, InitMethod::KMeansPlusPlus));
  double always = 0, seeding = 0, loop = 0;
  for (const MemoryPart& part : estimate.parts) {
    if (part.name != "read_aggregator_buffer") {
      EXPECT_GT(part.bytes, 0) << part.name;
    }
    if (part.phase == MemoryPhase::Always) always += part.bytes;
    if (part.phase == MemoryPhase::Seeding) seeding += part.bytes;
    if (part.phase == MemoryPhase::Loop) loop += part.bytes;
  }
  EXPECT_GT(seeding, loop);  // k-means++ keeps candidates' distances: its seeding is the peak
  EXPECT_DOUBLE_EQ(estimate.total(), always + std::max(seeding, loop));
  EXPECT_GE(estimate.bytes_of("process_baseline"), kProcessBaselineBytes);
}

TEST(MemoryModel, KMeansPlusPlusSeedingKeepsNoRowNorms) {
  // init.cpp CandidateDistances computes each row's norm where a step reads it: per row only
  // its D² (t bytes), below 128 centres and 128 features (no bounds, rows not sorted).
  const std::uint64_t n = 100000;
  const MemoryEstimate single =
      estimate_fit_memory(dense(n, 8), 1, 1, lloyd_fit(16, Algorithm::Lloyd, InitMethod::KMeansPlusPlus));
  EXPECT_DOUBLE_EQ(single.bytes_of("seeding_nearest"), 4.0 * static_cast<double>(n));
  EXPECT_DOUBLE_EQ(single.bytes_of("seeding_norms_and_nearest"), 0);
}

TEST(MemoryModel, KMeansParallelSeedingHoldsNearestCandidate) {
  // The first centre's draw keeps one (key, row) pair, not one per row (local_smallest).
  const std::uint64_t n = 100000;
  const MemoryEstimate estimate =
      estimate_fit_memory(dense(n, 8), 1, 1, lloyd_fit(16, Algorithm::Lloyd, InitMethod::KMeansParallel));
  // Each row's D² in T (float32 here) and nearest candidate, and its number in the grouping
  // by nearest candidate (uint32); float64 data hold 8 + 4 + 4.
  EXPECT_DOUBLE_EQ(estimate.phase_bytes(MemoryPhase::Seeding), (4 + 4 + 4) * static_cast<double>(n));
  const MemoryEstimate wide = estimate_fit_memory(dense(n, 8, ElementType::Float64), 1, 1,
                                                  lloyd_fit(16, Algorithm::Lloyd, InitMethod::KMeansParallel));
  EXPECT_DOUBLE_EQ(wide.phase_bytes(MemoryPhase::Seeding), (8 + 4 + 4) * static_cast<double>(n));
}

TEST(MemoryModel, KMeansParallelGroupsAtMostAMillionRowsAtATime) {
  // 8M × 8 float32 on 2 ranks: the grouping by nearest candidate holds 2^20 row numbers, not
  // one per row (4 MiB instead of 15 MiB: the difference between within and over budget).
  const std::uint64_t n = 8000000;
  const MemoryEstimate estimate =
      estimate_fit_memory(dense(n, 8), 2, 1, lloyd_fit(64, Algorithm::Lloyd, InitMethod::KMeansParallel));
  EXPECT_DOUBLE_EQ(estimate.bytes_of("seeding_candidate_groups"), 4.0 * static_cast<double>(kParallelGroupedRows));
  EXPECT_DOUBLE_EQ(estimate.bytes_of("seeding_nearest_candidate"), (4 + 4) * 4000000.0);
}

TEST(MemoryModel, ExactSilhouetteHoldsSumsPerCluster) {
  // evaluate: each row's exact distance sum to each cluster (int64 up to 2^18 rows scored,
  // Int128 beyond) with its norm and score.
  const std::uint64_t n = 100000, large = 400000;
  const MemoryEstimate estimate = estimate_evaluate_memory(dense(n, 8), 1, {.clusters = 4});
  EXPECT_DOUBLE_EQ(estimate.bytes_of("silhouette_sums"), (16.0 + 8 * 4) * static_cast<double>(n));
  EXPECT_DOUBLE_EQ(estimate_evaluate_memory(dense(large, 8), 1, {.clusters = 4}).bytes_of("silhouette_sums"),
                   (16.0 + 16 * 4) * static_cast<double>(large));
  EXPECT_DOUBLE_EQ(estimate.bytes_of("shard"), 8.0 * 4 * static_cast<double>(n));
  EXPECT_EQ(estimate.bytes_of("silhouette_ring"), 0);  // one rank: no visiting block
  EXPECT_EQ(estimate.bytes_of("label_values"), 0);     // 32-bit labels are read as such
}

TEST(MemoryModel, SampledSilhouetteRingCarriesInt64SumsAndOnePiece) {
  // 20000 sampled rows of 8M in 64 clusters at 2 ranks: 10000 rows a rank, int64 sums; the
  // ring holds a visiting block of the same size, and one message piece of at most 1 MiB.
  const MemoryEstimate estimate =
      estimate_evaluate_memory(dense(8000000, 8), 2, {.sample_size = 20000, .clusters = 64});
  EXPECT_DOUBLE_EQ(estimate.bytes_of("silhouette_sums"), 10000.0 * (16 + 8 * 64));
  EXPECT_DOUBLE_EQ(estimate.bytes_of("silhouette_ring"), 10000.0 * (8 * 4 + 12 + 8 * 64));
  EXPECT_DOUBLE_EQ(estimate.bytes_of("silhouette_ring_piece"), kMiB);
  EXPECT_DOUBLE_EQ(estimate.bytes_of("labels"), 4.0 * 4000000);
}

TEST(MemoryModel, KMediansHoldsItsRowsFromTheLoopOn) {
  // kmedians.cpp: the labels (and one piece's labels and distances) exist from the end of the
  // seeding on; the exact medians hold histograms (k·d·2·256 counts), nothing per row.
  FitSettings settings = lloyd_fit(16, Algorithm::Auto, InitMethod::KMeansParallel);
  settings.mode = ModelAlgorithm::KMedians;
  const std::uint64_t n = 100000;
  const MemoryEstimate estimate = estimate_fit_memory(dense(n, 8), 1, 1, settings);
  EXPECT_DOUBLE_EQ(estimate.phase_bytes(MemoryPhase::Loop), 4.0 * n + 65536 * 12 + 16 * 8 * 2 * 256 * 8);
  // k-means||: float D², int32 candidate, uint32 row number in the grouping by candidate
  EXPECT_DOUBLE_EQ(estimate.phase_bytes(MemoryPhase::Seeding), 12.0 * n);
  EXPECT_EQ(estimate.bytes_of("median_scratch"), 0);
}

TEST(MemoryModel, KMedoidsKeepsLabelsAndOnePieceOfDistances) {
  // nearest.cpp predict_nearest: the final labels of every row, their distances 65536 rows at
  // a time (8M × 8 float32 on 2 ranks: 8 bytes a row more put --sample 2000 over budget).
  FitSettings settings = lloyd_fit(64, Algorithm::Auto, InitMethod::KMeansPlusPlus);
  settings.mode = ModelAlgorithm::KMedoids;
  settings.medoids.sample = 2000;
  const MemoryEstimate estimate = estimate_fit_memory(dense(8000000, 8), 2, 1, settings);
  EXPECT_DOUBLE_EQ(estimate.bytes_of("labels"), 4.0 * 4000000);
  EXPECT_DOUBLE_EQ(estimate.bytes_of("distances_piece"), 8.0 * 65536);
  EXPECT_EQ(estimate.bytes_of("labels_and_distances"), 0);
}

TEST(MemoryModel, MiniBatchPassesHoldOnePieceOfLabelsAndDistances) {
  // minibatch.cpp: the seeding's cost and the final labels visit the shard 65536 rows at a
  // time: 12 bytes a row of one piece, beside the final labels (4 bytes a row of the shard).
  FitSettings settings = lloyd_fit(16, Algorithm::Auto, InitMethod::KMeansPlusPlus);
  settings.mode = ModelAlgorithm::MiniBatch;
  const MemoryEstimate small = estimate_fit_memory(dense(1000, 8), 1, 1, settings);
  const MemoryEstimate large = estimate_fit_memory(dense(1000000, 8), 1, 1, settings);
  EXPECT_DOUBLE_EQ(small.bytes_of("seeding_cost_piece"), 12.0 * 1000);
  EXPECT_DOUBLE_EQ(large.bytes_of("seeding_cost_piece"), 12.0 * 65536);
  EXPECT_DOUBLE_EQ(large.bytes_of("final_labels_piece"), 12.0 * 65536);
  EXPECT_DOUBLE_EQ(large.bytes_of("labels"), 4.0 * 1000000);
  EXPECT_EQ(estimate_fit_memory(dense(1000000, 8), 1, 1, settings, {.stream = true}).bytes_of("final_labels_piece"), 0);
}

TEST(MemoryModel, ChooseKMakesTheGapReferenceInTheShardsMemory) {
  const std::uint64_t n = 100000;
  ChooseKMemorySettings settings;
  settings.fit = lloyd_fit(2, Algorithm::Lloyd, InitMethod::KMeansPlusPlus);
  settings.k_max = 16;
  const MemoryEstimate with_gap = estimate_choose_k_memory(dense(n, 8), 2, 1, settings);
  settings.gap = false;
  const MemoryEstimate without = estimate_choose_k_memory(dense(n, 8), 2, 1, settings);
  EXPECT_DOUBLE_EQ(with_gap.total(), without.total());
  EXPECT_EQ(with_gap.bytes_of("gap_reference"), 0);
  FitSettings largest = settings.fit;
  largest.options.k = 16;
  EXPECT_GE(without.total(), estimate_fit_memory(dense(n, 8), 2, 1, largest).total());
}

TEST(MemoryModel, BisectingSplitsAViewOfTheNodeNotACopy) {
  // bisecting.cpp NodeLayout: 4 bytes per row for the rows' places; a split's 2-means holds
  // what a Lloyd fit with k = 2 holds besides the shard, and no copy of the node's rows.
  const std::uint64_t n = 100000;
  FitSettings bisecting = lloyd_fit(16, Algorithm::Auto, InitMethod::KMeansPlusPlus);
  bisecting.mode = ModelAlgorithm::Bisecting;
  const MemoryEstimate estimate = estimate_fit_memory(dense(n, 32), 1, 1, bisecting);
  EXPECT_DOUBLE_EQ(estimate.bytes_of("node_layout"), 4.0 * static_cast<double>(n));
  EXPECT_EQ(estimate.bytes_of("split_node_copy"), 0);
  const MemoryEstimate split = estimate_fit_memory(dense(n, 32), 1, 1, lloyd_fit(2, Algorithm::Lloyd, InitMethod::KMeansPlusPlus));
  EXPECT_LT(estimate.total() - split.total(), 4.0 * static_cast<double>(n) + 1e6);
}

TEST(MemoryModel, MoreRanksNeverNeedMoreMemoryPerRank) {
  const FitSettings settings = lloyd_fit(64, Algorithm::Auto, InitMethod::KMeansPlusPlus);
  const MatrixShape shape = dense(8000000, 32);
  double previous = INFINITY;
  for (int ranks = 1; ranks <= 64; ranks *= 2) {
    const double total = estimate_fit_memory(shape, ranks, 1, settings).total();
    EXPECT_LT(total, previous) << ranks;
    previous = total;
  }
}

TEST(MemoryModel, FewestRanksWithinALimit) {
  const FitSettings settings = lloyd_fit(64, Algorithm::Auto, InitMethod::KMeansPlusPlus);
  const MatrixShape shape = dense(8000000, 32);
  const auto estimate_for = [&](int ranks) { return estimate_fit_memory(shape, ranks, 1, settings); };
  const double limit = 512 * kMiB;
  const std::optional<int> needed = fewest_ranks_within(limit, 1 << 20, estimate_for);
  ASSERT_TRUE(needed);
  EXPECT_LE(estimate_for(*needed).total(), limit);
  EXPECT_GT(estimate_for(*needed - 1).total(), limit);
  // Below the process baseline no rank count fits.
  EXPECT_FALSE(fewest_ranks_within(kProcessBaselineBytes / 2, 1 << 20, estimate_for));
}

TEST(MemoryModel, AtLeastNRanksMeansEveryCountFromNFits) {
  // Small data (200000 × 8 float32): from 3 ranks one rank stages the collective read (the
  // whole 6.1 MiB file), so 2 ranks need less than 3, and 4 less than 3 again. A limit that 2
  // and 4 ranks fit but 3 does not must answer 4: "use at least 2 ranks" would send a user to
  // 3 ranks and another refusal.
  const FitSettings settings = lloyd_fit(4, Algorithm::Auto, InitMethod::KMeansPlusPlus);
  const MatrixShape shape = dense(200000, 8);
  const auto estimate_for = [&](int ranks) { return estimate_fit_memory(shape, ranks, 1, settings); };
  const double two = estimate_for(2).total(), three = estimate_for(3).total(), four = estimate_for(4).total();
  ASSERT_LT(two, three);
  ASSERT_LT(four, three);
  const double limit = std::max(two, four);
  EXPECT_EQ(fewest_ranks_within(limit, 1 << 20, estimate_for), 4);
  // With room for 3 ranks too, 2 is the answer (and 1 does not fit).
  ASSERT_GT(estimate_for(1).total(), three);
  EXPECT_EQ(fewest_ranks_within(three, 1 << 20, estimate_for), 2);
  // Fewer ranks at hand than the aggregator needs: the counts are tried one by one.
  EXPECT_EQ(fewest_ranks_within(two, 2, estimate_for), 2);
  EXPECT_FALSE(fewest_ranks_within(two, 1, estimate_for));
}

TEST(MemoryModel, SparseCosineKeepsTheCsrShard) {
  MatrixShape shape = dense(10000, 50000);
  shape.sparse = true;
  shape.nonzeros = 400000;
  FitSettings settings = lloyd_fit(20, Algorithm::Lloyd, InitMethod::KMeansPlusPlus);
  settings.cosine = true;
  const MemoryEstimate estimate = estimate_fit_memory(shape, 2, 1, settings);
  // indptr (int64) per row + 1, index (int32) and value (float) per stored value, half of them.
  EXPECT_DOUBLE_EQ(estimate.bytes_of("shard_csr"), 5001.0 * 8 + 200000.0 * (4 + 4));
  EXPECT_DOUBLE_EQ(estimate.bytes_of("shard"), 0);
  // Per row only the labels (int32) and k-means++'s largest similarity in T: no similarities
  // in double, no previous labels.
  EXPECT_DOUBLE_EQ(estimate.bytes_of("labels"), 5000.0 * 4);
  EXPECT_DOUBLE_EQ(estimate.bytes_of("seeding_nearest"), 5000.0 * 4);
  EXPECT_DOUBLE_EQ(estimate.bytes_of("similarities"), 0);
}

TEST(MemoryModel, StreamedMiniBatchHoldsNoShard) {
  FitSettings settings = lloyd_fit(8, Algorithm::Lloyd, InitMethod::KMeansPlusPlus);
  settings.mode = ModelAlgorithm::MiniBatch;
  const MatrixShape shape = dense(10000000, 16);
  EXPECT_DOUBLE_EQ(estimate_fit_memory(shape, 1, 1, settings, {.stream = true}).bytes_of("shard"), 0);
  EXPECT_GT(estimate_fit_memory(shape, 1, 1, settings).bytes_of("shard"), 0);
}

// fit --stream --standardize: ScaledRowSource scales each block in a buffer of its own, one
// block of kStreamBlock rows (d values each) beside the block read, in memory or streamed
// mini-batch and Lloyd alike; nothing without --standardize or without --stream.
TEST(MemoryModel, StreamedStandardisedBlocksAreScaledInABufferOfTheirOwn) {
  const MatrixShape shape = dense(10000000, 32, ElementType::Float64);
  const double block = static_cast<double>(RowSource<float>::kStreamBlock) * 32 * 8;
  for (const ModelAlgorithm mode : {ModelAlgorithm::Lloyd, ModelAlgorithm::MiniBatch}) {
    FitSettings settings = lloyd_fit(8, Algorithm::Lloyd, InitMethod::Forgy);
    settings.mode = mode;
    SCOPED_TRACE(to_string(mode));
    EXPECT_DOUBLE_EQ(estimate_fit_memory(shape, 2, 1, settings, {.stream = true, .standardize = true}).bytes_of("scaled_block"), block);
    EXPECT_DOUBLE_EQ(estimate_fit_memory(shape, 2, 1, settings, {.stream = true}).bytes_of("scaled_block"), 0);
    EXPECT_DOUBLE_EQ(estimate_fit_memory(shape, 2, 1, settings, {.standardize = true}).bytes_of("scaled_block"), 0);
  }
}

TEST(MemoryModel, CollectiveReadStagesUpTo32MiBFromThreeRanks) {
  const FitSettings settings = lloyd_fit(8, Algorithm::Lloyd, InitMethod::KMeansParallel);
  const MatrixShape small = dense(200000, 32), large = dense(1000000, 32);
  EXPECT_DOUBLE_EQ(estimate_fit_memory(small, 2, 1, settings).bytes_of("read_aggregator_buffer"), 0);
  EXPECT_DOUBLE_EQ(estimate_fit_memory(small, 3, 1, settings).bytes_of("read_aggregator_buffer"), 200000.0 * 32 * 4);
  EXPECT_DOUBLE_EQ(estimate_fit_memory(large, 4, 1, settings).bytes_of("read_aggregator_buffer"), 32 * kMiB);
  EXPECT_DOUBLE_EQ(estimate_fit_memory(large, 4, 1, settings, {.collective_read = false}).bytes_of("read_aggregator_buffer"), 0);
}

TEST(MemorySize, ParsesSizesAsPowersOf1024) {
  EXPECT_EQ(parse_memory_size("2G"), 2.0 * 1024 * kMiB);
  EXPECT_EQ(parse_memory_size("512M"), 512 * kMiB);
  EXPECT_EQ(parse_memory_size("1.5GiB"), 1.5 * 1024 * kMiB);
  EXPECT_EQ(parse_memory_size("800MB"), 800 * kMiB);
  EXPECT_EQ(parse_memory_size("64k"), 64 * 1024.0);
  EXPECT_EQ(parse_memory_size("123456"), 123456.0);
  EXPECT_EQ(parse_memory_size("1T"), 1024.0 * 1024 * kMiB);
  for (const char* bad : {"", "G", "-1G", "+2G", "2X", "2GG", "nan", "inf", "1e400", "2 G B"})
    EXPECT_FALSE(parse_memory_size(bad)) << bad;
}

TEST(MemorySize, FormatsWithAReadableUnit) {
  EXPECT_EQ(format_memory_size(100), "100 B");
  EXPECT_EQ(format_memory_size(1.5 * 1024 * kMiB), "1.5 GiB");
  EXPECT_EQ(format_memory_size(456.7 * kMiB), "457 MiB");
}

TEST(MemoryLimit, ReadsCgroupV2AndV1Limits) {
  const auto root = std::filesystem::temp_directory_path() / ("lloyd_cgroup_" + std::to_string(::getpid()));
  std::filesystem::create_directories(root / "memory");
  const auto write = [](const std::filesystem::path& path, const std::string& text) { std::ofstream(path) << text << "\n"; };
  EXPECT_FALSE(cgroup_memory_limit(root.string()));  // no files: no limit
  write(root / "memory" / "memory.limit_in_bytes", "9223372036854771712");  // v1 "unlimited"
  EXPECT_FALSE(cgroup_memory_limit(root.string()));
  write(root / "memory" / "memory.limit_in_bytes", "4294967296");
  EXPECT_EQ(cgroup_memory_limit(root.string()), 4294967296.0);
  write(root / "memory.max", "max");  // v2 without a limit: the v1 file still answers
  EXPECT_EQ(cgroup_memory_limit(root.string()), 4294967296.0);
  write(root / "memory.max", "2147483648");
  EXPECT_EQ(cgroup_memory_limit(root.string()), 2147483648.0);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace lloyd
