// Sample weights (fit --sample-weight, scikit-learn's sample_weight): against scikit-learn
// (fixtures by scripts/fixtures/make_weight_fixtures.py), against repeated rows bit for bit,
// and the seeding's treatment of rows of weight 0.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "../test_support.hpp"
#include "lloyd/io/checkpoint.hpp"
#include "lloyd/io/sample_weights.hpp"
#include "lloyd/kmeans/bisecting.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/kmeans/kmedians.hpp"
#include "lloyd/kmeans/kmedoids.hpp"
#include "lloyd/kmeans/nearest.hpp"
#include "lloyd/kmeans/minibatch.hpp"
#include "lloyd/kmeans/spherical.hpp"

namespace lloyd {
namespace {

DenseShard<double> weighted_shard(const Comm& comm, const std::string& file, const std::string& weights) {
  const DatasetRef x{file, "/X"};
  DenseShard<double> shard = read_shard<double>(comm, x, inspect_matrix(comm, x));
  const RowRange mine{shard.first_row, shard.first_row + static_cast<std::uint64_t>(shard.local_rows())};
  shard.weights = read_sample_weights(comm, {file, weights}, shard.global_rows, mine);
  shard.has_weights = true;
  return shard;
}

// weights_int.h5: X with integer weights w (some 0), X_repeated = np.repeat(X, w, axis=0),
// and repeat_of (each repeated row's original row).
struct RepeatedRows {
  DenseShard<double> weighted, repeated;
  RowMatrix<double> repeat_of;
};

RepeatedRows repeated_rows(const Comm& comm) {
  const std::string file = test::data_path("weights_int.h5");
  const DatasetRef repeated_ref{file, "/X_repeated"};
  return {weighted_shard(comm, file, "/w"), read_shard<double>(comm, repeated_ref, inspect_matrix(comm, repeated_ref)),
          read_matrix<double>(comm, {file, "/repeat_of"})};
}

KMeansOptions explicit_options(int k, double tol, Algorithm algorithm) {
  KMeansOptions options;
  options.k = k;
  options.init = InitMethod::Explicit;
  options.tol = tol;
  options.algorithm = algorithm;
  return options;
}

bool same_bits(const RowMatrix<double>& a, const RowMatrix<double>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(double) * static_cast<std::size_t>(a.size())) == 0;
}

// The same centroids, inertia and iterations bit for bit (and history, when `history`).
void expect_same_fit(const KMeansResult<double>& a, const KMeansResult<double>& b, bool history) {
  EXPECT_TRUE(same_bits(a.centroids, b.centroids));
  EXPECT_EQ(std::memcmp(&a.inertia, &b.inertia, sizeof(double)), 0) << a.inertia << " vs " << b.inertia;
  EXPECT_EQ(a.n_iter, b.n_iter);
  if (history) {
    EXPECT_EQ(a.inertia_history, b.inertia_history);
  }
}

struct WeightCase {
  const char* name;
  Algorithm algorithm;
};

class WeightedSklearn : public testing::TestWithParam<WeightCase> {};

// KMeans(init=..., n_init=1).fit(X, sample_weight=w): centroids and inertia to 1e-9 (as the
// unweighted reference tests), the same labels and iterations; the empty case relocates.
TEST_P(WeightedSklearn, SameCentroidsInertiaLabelsAndIterations) {
  const WeightCase c = GetParam();
  Comm comm(MPI_COMM_WORLD);
  const std::string file = test::data_path(std::string("weights_") + c.name + ".h5");
  const test::Expected expected = test::read_expected(comm, file);
  const DenseShard<double> shard = weighted_shard(comm, file, "/w");
  const RowMatrix<double> init = read_matrix<double>(comm, {file, "/init"});
  KMeansOptions options = explicit_options(static_cast<int>(expected.k), expected.tol, c.algorithm);
  options.max_iter = static_cast<int>(expected.max_iter);
  const KMeansResult<double> result = fit_kmeans(comm, shard, options, &init);
  EXPECT_EQ(result.n_iter, expected.n_iter);
  EXPECT_NEAR(result.inertia, expected.inertia, 1e-9 * expected.inertia);
  const double scale = expected.centroids.cwiseAbs().maxCoeff();
  for (Eigen::Index k = 0; k < expected.centroids.rows(); ++k)
    for (Eigen::Index j = 0; j < expected.centroids.cols(); ++j)
      EXPECT_NEAR(result.centroids(k, j), expected.centroids(k, j), 1e-9 * scale) << "centre " << k << " feature " << j;
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
    ASSERT_EQ(result.labels[static_cast<std::size_t>(i)], expected.labels[shard.global_index(i)])
        << "row " << shard.global_index(i);
  // predict's weighted inertia: scikit-learn's −score(X, sample_weight=w)
  std::vector<std::int32_t> labels;
  EXPECT_NEAR(predict_labels(comm, shard, result.centroids, labels), expected.inertia, 1e-9 * expected.inertia);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, WeightedSklearn,
                         testing::Values(WeightCase{"int", Algorithm::Lloyd}, WeightCase{"real", Algorithm::Lloyd},
                                         WeightCase{"empty", Algorithm::Lloyd},
                                         WeightCase{"int", Algorithm::Hamerly}, WeightCase{"real", Algorithm::Hamerly},
                                         WeightCase{"empty", Algorithm::Hamerly},
                                         WeightCase{"real", Algorithm::Yinyang},
                                         WeightCase{"empty", Algorithm::Yinyang}),
                         [](const auto& info) {
                           return std::string(info.param.name) + "_" + to_string(info.param.algorithm);
                         });

// Integer weights are repeated rows: the same centroids, inertia and iterations bit for bit,
// and every repeated row has its original's label (tol 0: both stop when no label changes;
// scikit-learn's tolerance is of the unweighted variance, which repetition changes).
TEST(SampleWeights, IntegerWeightsAreRepeatedRowsBitForBit) {
  Comm comm(MPI_COMM_WORLD);
  const auto [weighted, repeated, repeat_of] = repeated_rows(comm);
  const RowMatrix<double> init = read_matrix<double>(comm, {test::data_path("weights_int.h5"), "/init"});
  for (const Algorithm algorithm : {Algorithm::Lloyd, Algorithm::Hamerly, Algorithm::Yinyang}) {
    SCOPED_TRACE(to_string(algorithm));
    const KMeansOptions options = explicit_options(5, 0, algorithm);
    const KMeansResult<double> a = fit_kmeans(comm, weighted, options, &init);
    const KMeansResult<double> b = fit_kmeans(comm, repeated, options, &init);
    // Hamerly and Yinyang: the weighted history is summed row by row, the repeated rows' from
    // the cluster sums (the same to about 1e-13, not bit for bit).
    expect_same_fit(a, b, algorithm == Algorithm::Lloyd);
    // Labels: every rank gathers both (small fixture).
    const std::vector<std::int32_t> la = comm.allgatherv(std::span<const std::int32_t>(a.labels));
    const std::vector<std::int32_t> lb = comm.allgatherv(std::span<const std::int32_t>(b.labels));
    ASSERT_EQ(lb.size(), static_cast<std::size_t>(repeat_of.size()));
    for (std::size_t r = 0; r < lb.size(); ++r)
      ASSERT_EQ(lb[r], la[static_cast<std::size_t>(repeat_of(static_cast<Eigen::Index>(r), 0))]) << "repeated row " << r;
  }
}

// Weights of 1 on the weighted path: the unweighted fit bit for bit (exact sums either way).
TEST(SampleWeights, UnitWeightsAreTheUnweightedFit) {
  Comm comm(MPI_COMM_WORLD);
  const std::string file = test::data_path("weights_real.h5");
  const DenseShard<double> ones = weighted_shard(comm, file, "/w");
  DenseShard<double> unit = ones;
  std::fill(unit.weights.begin(), unit.weights.end(), 1.0);
  DenseShard<double> plain = ones;
  plain.weights.clear();
  plain.has_weights = false;
  const RowMatrix<double> init = read_matrix<double>(comm, {file, "/init"});
  for (const Algorithm algorithm : {Algorithm::Lloyd, Algorithm::Hamerly}) {
    SCOPED_TRACE(to_string(algorithm));
    const KMeansOptions options = explicit_options(5, 1e-4, algorithm);
    const KMeansResult<double> a = fit_kmeans(comm, unit, options, &init);
    const KMeansResult<double> b = fit_kmeans(comm, plain, options, &init);
    expect_same_fit(a, b, algorithm == Algorithm::Lloyd);  // (Hamerly's history: as above)
    EXPECT_EQ(a.labels, b.labels);
  }
}

// Rows of weight 0 are never seeds: with exactly k rows of positive weight, every seeding
// returns those rows; with more, every k-means++ and forgy centre is one of them; no k-means||
// centre is a row of weight 0.
TEST(SampleWeights, ZeroWeightRowsAreNeverSeeds) {
  Comm comm(MPI_COMM_WORLD);
  const std::string file = test::data_path("weights_real.h5");
  DenseShard<double> shard = weighted_shard(comm, file, "/w");
  // Positive weight only on global rows 7, 50, 51, 120, 200, 239.
  const std::set<std::uint64_t> positive = {7, 50, 51, 120, 200, 239};
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
    shard.weights[static_cast<std::size_t>(i)] = positive.count(shard.global_index(i)) ? 0.5 + i % 3 : 0.0;
  const DatasetRef x{file, "/X"};
  const RowMatrix<double> all = read_matrix<double>(comm, x);
  std::set<std::vector<double>> allowed, weightless;
  for (Eigen::Index r = 0; r < all.rows(); ++r)
    (positive.count(static_cast<std::uint64_t>(r)) ? allowed : weightless)
        .insert(std::vector<double>(all.row(r).data(), all.row(r).data() + all.cols()));
  for (const InitMethod init : {InitMethod::KMeansPlusPlus, InitMethod::Forgy, InitMethod::KMeansParallel}) {
    for (const int k : {3, 6}) {
      for (std::uint64_t seed = 0; seed < 4; ++seed) {
        KMeansOptions options;
        options.k = k;
        options.init = init;
        options.seed = seed;
        options.max_iter = 1;
        const DataSummary summary = summarize(comm, shard);
        const RowMatrix<double> centres = starting_centres<double>(comm, shard, options, summary.fixed, nullptr, 0);
        std::set<std::vector<double>> seen;
        for (Eigen::Index c = 0; c < centres.rows(); ++c) {
          std::vector<double> centre(centres.row(c).data(), centres.row(c).data() + centres.cols());
          EXPECT_FALSE(weightless.count(centre)) << to_string(init) << " k " << k << " seed " << seed << " centre " << c;
          // k-means|| reduces its candidates (rows of positive weight) by weighted Lloyd
          // iterations: its centres are their weighted means, not rows.
          if (init == InitMethod::KMeansParallel) continue;
          EXPECT_TRUE(allowed.count(centre)) << to_string(init) << " k " << k << " seed " << seed << " centre " << c;
          seen.insert(centre);
        }
        if (init != InitMethod::KMeansParallel) {
          EXPECT_EQ(seen.size(), static_cast<std::size_t>(k)) << to_string(init) << " distinct centres";
        }
      }
    }
  }
  // k beyond the rows of positive weight is refused on every rank.
  KMeansOptions options;
  options.k = 7;
  EXPECT_THROW(fit_kmeans(comm, shard, options), AgreedError);
}

// A weighted fit stopped and resumed from its checkpoint ends as the uninterrupted one; the
// weights are part of the data's fingerprint (other weights, or none, are other data).
TEST(SampleWeights, CheckpointResumesWeightedAndFingerprintsTheWeights) {
  Comm comm(MPI_COMM_WORLD);
  const std::string file = test::data_path("weights_real.h5");
  const DenseShard<double> shard = weighted_shard(comm, file, "/w");
  KMeansOptions options;
  options.k = 5;
  options.n_init = 2;
  options.seed = 3;
  options.algorithm = Algorithm::Hamerly;
  const KMeansResult<double> full = fit_kmeans(comm, shard, options);
  CheckpointIdentity identity{options, "k-means++", "weights", shard.global_rows, 4, "float64",
                              data_fingerprint(comm, shard)};
  const std::string path = test::scratch_path(comm, "weighted-resume");
  FitControl<double> stopping;
  int polls = 0;
  stopping.stop_requested = [&] { return ++polls > 2; };
  stopping.save = [&](const FitState<double>& state) { write_checkpoint(comm, path, state, identity); };
  ASSERT_TRUE(fit_kmeans<double>(comm, shard, options, nullptr, IterationObserver{}, stopping).interrupted);
  FitControl<double> resuming;
  resuming.save = stopping.save;
  resuming.load = [&](const FitLimits& limits) { return read_checkpoint<double>(comm, path, identity, limits); };
  const KMeansResult<double> resumed = fit_kmeans<double>(comm, shard, options, nullptr, IterationObserver{}, resuming);
  EXPECT_TRUE(resumed.centroids == full.centroids);
  EXPECT_EQ(resumed.labels, full.labels);
  EXPECT_EQ(std::memcmp(&resumed.inertia, &full.inertia, sizeof(double)), 0);
  EXPECT_EQ(resumed.inertia_history, full.inertia_history);
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove(path);

  DenseShard<double> other = shard, unweighted = shard;
  if (other.local_rows() > 0) other.weights[0] += 1;
  unweighted.weights.clear();
  unweighted.has_weights = false;
  const std::uint64_t fingerprint = data_fingerprint(comm, shard);
  EXPECT_NE(data_fingerprint(comm, other), fingerprint);
  EXPECT_NE(data_fingerprint(comm, unweighted), fingerprint);
}

// Mini-batch with weights (scikit-learn's MiniBatchKMeans(sample_weight)): as good as
// scikit-learn's weighted fits (its batches come from its own generator: quality, as the
// unweighted mini-batch test), the inertia weighted, streamed rows the same bits.
TEST(SampleWeights, MiniBatchWeightedLikeScikitLearn) {
  Comm comm(MPI_COMM_WORLD);
  const std::string file = test::data_path("weights_minibatch.h5");
  const DenseShard<double> shard = weighted_shard(comm, file, "/w");
  KMeansOptions options;
  options.k = 10;
  options.n_init = 3;
  options.tol = 0;
  MiniBatchOptions batch;
  batch.batch_size = 256;
  auto memory = shard_source(shard);
  const MiniBatchResult<double> fitted = fit_minibatch(comm, *memory, options, batch);
  Hid handle(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  Hid group(H5Gopen2(handle.get(), "/expected", H5P_DEFAULT), H5Gclose);
  const double expected = read_attribute_double(group.get(), "inertia");
  EXPECT_LE(fitted.inertia, 1.02 * expected);
  std::vector<std::int32_t> labels;
  EXPECT_EQ(predict_labels(comm, shard, fitted.centroids, labels), fitted.inertia);  // weighted, exact
  EXPECT_EQ(labels, fitted.labels);

  const DatasetRef x{file, "/X"};
  auto streamed = streamed_source<double>(comm, x, inspect_matrix(comm, x));
  streamed->set_weights(shard.weights);
  const MiniBatchResult<double> out_of_core = fit_minibatch(comm, *streamed, options, batch);
  EXPECT_TRUE(same_bits(out_of_core.centroids, fitted.centroids));
  EXPECT_EQ(out_of_core.inertia, fitted.inertia);
  EXPECT_EQ(out_of_core.n_steps, fitted.n_steps);
}

// Bisecting with weights (scikit-learn's BisectingKMeans(sample_weight)): splits chosen by
// weighted inertia; as good as scikit-learn's; the leaves' inertia adds up to the weighted
// inertia, which predict (descending the tree) reports too.
TEST(SampleWeights, BisectingByWeightedInertia) {
  Comm comm(MPI_COMM_WORLD);
  const std::string file = test::data_path("weights_real.h5");
  const DenseShard<double> shard = weighted_shard(comm, file, "/w");
  Hid handle(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  for (const BisectingStrategy strategy : {BisectingStrategy::BiggestInertia, BisectingStrategy::LargestCluster}) {
    const std::string name = strategy == BisectingStrategy::BiggestInertia ? "biggest_inertia" : "largest_cluster";
    Hid group(H5Gopen2(handle.get(), ("/expected_bisecting_" + name).c_str(), H5P_DEFAULT), H5Gclose);
    KMeansOptions options;
    options.k = 4;
    options.n_init = 3;
    const BisectingResult<double> result = fit_bisecting(comm, shard, options, strategy);
    EXPECT_LE(result.inertia / read_attribute_double(group.get(), "inertia") - 1, 0.02) << name;
    std::vector<std::int32_t> labels;
    EXPECT_NEAR(predict_tree(comm, shard, result.tree, labels), result.inertia, 1e-12 * result.inertia) << name;
    EXPECT_EQ(labels, result.labels) << name;
    double leaves = 0;
    for (const std::size_t leaf : result.tree.leaves()) leaves += result.tree.inertia[leaf];
    EXPECT_NEAR(leaves, result.inertia, 1e-9 * result.inertia) << name;
  }
}

// K-medians with weights: weighted medians per coordinate (numpy.median of the rows repeated
// as their weights say; fixture by numpy), and integer weights give the model of repeated
// rows bit for bit.
TEST(SampleWeights, KMediansWeightedMedians) {
  Comm comm(MPI_COMM_WORLD);
  const std::string real = test::data_path("weights_real.h5");
  const DenseShard<double> shard = weighted_shard(comm, real, "/w");
  const RowMatrix<double> all_labels = read_matrix<double>(comm, {real, "/median_labels"});
  std::vector<std::int32_t> labels;
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
    labels.push_back(static_cast<std::int32_t>(all_labels(static_cast<Eigen::Index>(shard.global_index(i)), 0)));
  const RowMatrix<double> expected = read_matrix<double>(comm, {real, "/expected_medians"});
  const RowMatrix<double> medians = cluster_medians(comm, shard, labels, RowMatrix<double>::Zero(4, 4).eval());
  EXPECT_TRUE(same_bits(medians, expected)) << medians << "\n" << expected;

  const std::string file = test::data_path("weights_int.h5");
  const DenseShard<double> weighted = weighted_shard(comm, file, "/w");
  const DatasetRef repeated_ref{file, "/X_repeated"};
  const DenseShard<double> repeated = read_shard<double>(comm, repeated_ref, inspect_matrix(comm, repeated_ref));
  const RowMatrix<double> init = read_matrix<double>(comm, {file, "/init"});
  const KMeansOptions options = explicit_options(5, 0, Algorithm::Lloyd);
  const KMeansResult<double> a = fit_kmedians(comm, weighted, options, &init);
  const KMeansResult<double> b = fit_kmedians(comm, repeated, options, &init);
  expect_same_fit(a, b, true);
}

// Cosine (spherical K-Means) with weights: weighted mean directions, weighted Σ w·(1 − cos);
// integer weights give the model of repeated rows bit for bit.
TEST(SampleWeights, CosineIntegerWeightsAreRepeatedRows) {
  Comm comm(MPI_COMM_WORLD);
  const std::string file = test::data_path("weights_int.h5");
  const DenseShard<double> weighted = weighted_shard(comm, file, "/w");
  const DatasetRef repeated_ref{file, "/X_repeated"};
  CsrShard<double> a_rows = to_csr(weighted), b_rows = to_csr(read_shard<double>(comm, repeated_ref,
                                                                                  inspect_matrix(comm, repeated_ref)));
  ASSERT_TRUE(a_rows.has_weights);  // to_csr keeps the rows' weights
  ASSERT_EQ(a_rows.weights, weighted.weights);
  normalize_rows(a_rows);
  normalize_rows(b_rows);
  const RowMatrix<double> init = read_matrix<double>(comm, {file, "/init"});
  KMeansOptions options = explicit_options(5, 0, Algorithm::Lloyd);
  options.tol_absolute = 0;
  const KMeansResult<double> a = fit_spherical(comm, a_rows, options, &init);
  const KMeansResult<double> b = fit_spherical(comm, b_rows, options, &init);
  expect_same_fit(a, b, true);
  std::vector<std::int32_t> labels;
  EXPECT_EQ(predict_spherical(comm, a_rows, a.centroids, labels), a.inertia);
}

// K-medoids options: the method, the distance and the CLARA sample (0: all rows).
KMedoidsOptions medoid_options(MedoidMethod method, Distance distance, std::uint64_t sample = 0) {
  KMedoidsOptions medoids;
  medoids.method = method;
  medoids.distance = distance;
  medoids.sample = sample;
  return medoids;
}

KMeansOptions medoid_fit_options(int k) {
  KMeansOptions options;
  options.k = k;
  options.max_iter = 50;
  options.seed = 4;
  return options;
}

// Every rank's labels, in global row order.
std::vector<std::int32_t> all_labels(const Comm& comm, const std::vector<std::int32_t>& mine) {
  return comm.allgatherv(std::span<const std::int32_t>(mine));
}

// Integer weights choose the medoids of the rows repeated as often (np.repeat(X, w)), with
// every method and distance: medoid_indices name the weighted row, i.e. the first copy of
// it in the repeated data; the same medoid rows, inertia (bit for bit), history, BUILD's
// inertia and labels of the rows; 64 of the 240 rows have weight 0 (never medoids).
TEST(SampleWeights, KMedoidsIntegerWeightsAreRepeatedRows) {
  Comm comm(MPI_COMM_WORLD);
  const auto [weighted, repeated, repeat_of] = repeated_rows(comm);
  std::vector<std::uint64_t> first_copy(static_cast<std::size_t>(weighted.global_rows), 0);
  for (Eigen::Index j = repeat_of.rows() - 1; j >= 0; --j)
    first_copy[static_cast<std::size_t>(repeat_of(j, 0))] = static_cast<std::uint64_t>(j);
  for (const MedoidMethod method : {MedoidMethod::Alternate, MedoidMethod::Pam})
    for (const Distance distance : {Distance::Euclidean, Distance::Manhattan, Distance::Cosine}) {
      SCOPED_TRACE(std::string(to_string(method)) + " " + to_string(distance));
      const KMeansOptions options = medoid_fit_options(5);
      const KMedoidsOptions medoids = medoid_options(method, distance);
      const KMedoidsResult<double> a = fit_kmedoids(comm, weighted, options, medoids);
      const KMedoidsResult<double> b = fit_kmedoids(comm, repeated, options, medoids);
      expect_same_fit(a, b, true);
      EXPECT_EQ(std::memcmp(&a.init_inertia, &b.init_inertia, sizeof(double)), 0);
      ASSERT_EQ(a.medoid_indices.size(), b.medoid_indices.size());
      for (std::size_t c = 0; c < a.medoid_indices.size(); ++c)
        EXPECT_EQ(first_copy[a.medoid_indices[c]], b.medoid_indices[c]) << "medoid " << c;
      const std::vector<std::int32_t> a_labels = all_labels(comm, a.labels), b_labels = all_labels(comm, b.labels);
      for (Eigen::Index j = 0; j < repeat_of.rows(); ++j)
        EXPECT_EQ(a_labels[static_cast<std::size_t>(repeat_of(j, 0))], b_labels[static_cast<std::size_t>(j)]) << "row " << j;
    }
}

// Unit weights are the unweighted fit bit for bit: medoids, inertia, history, labels, with
// every method and with a CLARA sample (the same sample: it is drawn without the weights).
TEST(SampleWeights, KMedoidsUnitWeightsAreTheUnweightedFit) {
  Comm comm(MPI_COMM_WORLD);
  DenseShard<double> unit = weighted_shard(comm, test::data_path("weights_real.h5"), "/w");
  std::fill(unit.weights.begin(), unit.weights.end(), 1.0);
  DenseShard<double> plain = unit;
  plain.weights.clear();
  plain.has_weights = false;
  for (const MedoidMethod method : {MedoidMethod::Alternate, MedoidMethod::Pam})
    for (const std::uint64_t sample : {std::uint64_t{0}, std::uint64_t{90}}) {
      SCOPED_TRACE(std::string(to_string(method)) + " sample " + std::to_string(sample));
      const KMeansOptions options = medoid_fit_options(5);
      const KMedoidsOptions medoids = medoid_options(method, Distance::Manhattan, sample);
      const KMedoidsResult<double> a = fit_kmedoids(comm, unit, options, medoids);
      const KMedoidsResult<double> b = fit_kmedoids(comm, plain, options, medoids);
      expect_same_fit(a, b, true);
      EXPECT_EQ(a.medoid_indices, b.medoid_indices);
      EXPECT_EQ(a.labels, b.labels);
      EXPECT_EQ(std::memcmp(&a.init_inertia, &b.init_inertia, sizeof(double)), 0);
    }
}

// Rows of weight 0 never become medoids (BUILD, alternate, PAM, on all rows or a sample):
// with exactly k rows of positive weight they are the medoids; fewer than k rows of
// positive weight (in the data or the sample) are refused on every rank. Real weights: the
// inertia is Σ w · distance to the medoid (predict_nearest's, exactly).
TEST(SampleWeights, KMedoidsZeroWeightRowsAreNeverMedoids) {
  Comm comm(MPI_COMM_WORLD);
  DenseShard<double> shard = weighted_shard(comm, test::data_path("weights_real.h5"), "/w");
  const std::set<std::uint64_t> positive = {7, 50, 51, 120, 200, 239};
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
    shard.weights[static_cast<std::size_t>(i)] = positive.count(shard.global_index(i)) ? 0.5 + i % 3 : 0.0;
  for (const MedoidMethod method : {MedoidMethod::Alternate, MedoidMethod::Pam})
    for (const int k : {3, 6}) {
      SCOPED_TRACE(std::string(to_string(method)) + " k " + std::to_string(k));
      const KMedoidsResult<double> result =
          fit_kmedoids(comm, shard, medoid_fit_options(k), medoid_options(method, Distance::Euclidean));
      const std::set<std::uint64_t> chosen(result.medoid_indices.begin(), result.medoid_indices.end());
      EXPECT_EQ(chosen.size(), static_cast<std::size_t>(k));
      for (const std::uint64_t g : chosen) EXPECT_TRUE(positive.count(g)) << "medoid row " << g;
      if (k == 6) {
        EXPECT_EQ(chosen, positive);
      }
      std::vector<std::int32_t> labels;
      const double inertia = predict_nearest(comm, shard, result.centroids, Distance::Euclidean, labels);
      EXPECT_EQ(std::memcmp(&inertia, &result.inertia, sizeof(double)), 0);
      EXPECT_EQ(labels, result.labels);
    }
  EXPECT_THROW(fit_kmedoids(comm, shard, medoid_fit_options(7), medoid_options(MedoidMethod::Pam, Distance::Euclidean)),
               AgreedError);
  // A sample of 20 of the 240 rows holds at most 6 of positive weight: k = 7 is refused.
  EXPECT_THROW(fit_kmedoids(comm, shard, medoid_fit_options(7),
                            medoid_options(MedoidMethod::Alternate, Distance::Euclidean, 20)),
               AgreedError);
  // With half the rows of positive weight, a sample's medoids are rows of positive weight.
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
    shard.weights[static_cast<std::size_t>(i)] = shard.global_index(i) % 2 == 0 ? 1.0 + static_cast<double>(i % 5) : 0.0;
  for (const MedoidMethod method : {MedoidMethod::Alternate, MedoidMethod::Pam}) {
    const KMedoidsResult<double> result =
        fit_kmedoids(comm, shard, medoid_fit_options(4), medoid_options(method, Distance::Manhattan, 60));
    for (const std::uint64_t g : result.medoid_indices) EXPECT_EQ(g % 2, 0u) << "medoid row " << g;
  }
}

// Weighted K-medoids equals the brute-force numpy reference (make_weight_fixtures.py's
// kmedoids_reference, on the full distance matrix; every 5th row weighs 0): the same medoid
// rows, labels and iterations, the inertia to 1e-12 (numpy's sum is not exact).
TEST(SampleWeights, KMedoidsMatchTheBruteForceReference) {
  Comm comm(MPI_COMM_WORLD);
  const std::string file = test::data_path("weights_real.h5");
  const DenseShard<double> shard = weighted_shard(comm, file, "/w_kmedoids");
  for (const MedoidMethod method : {MedoidMethod::Alternate, MedoidMethod::Pam})
    for (const Distance distance : {Distance::Euclidean, Distance::Manhattan}) {
      const std::string group = std::string("/expected_kmedoids_") + to_string(method) + "_" + to_string(distance);
      SCOPED_TRACE(group);
      KMeansOptions options = medoid_fit_options(4);
      options.max_iter = 300;
      const KMedoidsResult<double> result = fit_kmedoids(comm, shard, options, medoid_options(method, distance));
      const RowMatrix<double> medoids = read_matrix<double>(comm, {file, group + "/medoid_indices"});
      ASSERT_EQ(medoids.size(), 4);
      for (Eigen::Index c = 0; c < 4; ++c)
        EXPECT_EQ(result.medoid_indices[static_cast<std::size_t>(c)], static_cast<std::uint64_t>(medoids.data()[c]));
      const RowMatrix<double> labels = read_matrix<double>(comm, {file, group + "/labels"});
      const std::vector<std::int32_t> mine = all_labels(comm, result.labels);
      for (std::size_t r = 0; r < mine.size(); ++r)
        EXPECT_EQ(mine[r], static_cast<std::int32_t>(labels.data()[r])) << "row " << r;
      Hid handle(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
      Hid attributes(H5Gopen2(handle.get(), group.c_str(), H5P_DEFAULT), H5Gclose);
      const double inertia = read_attribute_double(attributes.get(), "inertia");
      EXPECT_NEAR(result.inertia, inertia, 1e-12 * inertia);
      EXPECT_EQ(result.n_iter, read_attribute_int(attributes.get(), "n_iter"));
    }
}

}  // namespace
}  // namespace lloyd
