// Choosing K: the rules, the sweep on separated blobs at any rank count, and the gap
// statistic against R's cluster::clusGap (fixture from scripts/fixtures/make_metric_fixtures.py).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "../test_support.hpp"
#include "lloyd/generate.hpp"
#include "lloyd/io/csr.hpp"
#include "lloyd/kmeans/spherical.hpp"
#include "lloyd/metrics/silhouette.hpp"
#include "lloyd/select/criteria.hpp"
#include "lloyd/select/sweep.hpp"

namespace lloyd {
namespace {

TEST(Criteria, KneedleFindsTheBend) {
  const std::vector<int> ks{1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<double> inertia{1000, 600, 300, 100, 90, 82, 76, 72};
  EXPECT_EQ(kneedle_elbow(ks, inertia), 4);
  EXPECT_EQ(kneedle_elbow(std::vector<int>{2, 3}, std::vector<double>{2, 1}), 0);
}

TEST(Criteria, BestKSkipsNaNAndPrefersSmallerK) {
  const std::vector<int> ks{1, 2, 3, 4};
  const double nan = std::nan("");
  EXPECT_EQ(best_k(ks, std::vector<double>{nan, 0.5, 0.7, 0.7}, true), 3);
  EXPECT_EQ(best_k(ks, std::vector<double>{nan, 0.5, 0.4, 0.4}, false), 3);
}

TEST(Criteria, GapRuleOfTibshirani) {
  const std::vector<int> ks{1, 2, 3, 4, 5};
  // Gap(2) = 0.5 < Gap(3) - s3 = 0.9 - 0.1; Gap(3) = 0.9 >= Gap(4) - s4 = 0.95 - 0.1.
  EXPECT_EQ(gap_choice(ks, std::vector<double>{0.1, 0.5, 0.9, 0.95, 1.0},
                       std::vector<double>{0.1, 0.1, 0.1, 0.1, 0.1}),
            3);
  // Always increasing by more than s: the largest K.
  EXPECT_EQ(gap_choice(ks, std::vector<double>{1, 2, 3, 4, 5}, std::vector<double>{0, 0, 0, 0, 0}),
            5);
  const GapValue g = gap_value(1.0, std::vector<double>{2.0, 3.0});
  EXPECT_DOUBLE_EQ(g.gap, 1.5);
  EXPECT_DOUBLE_EQ(g.s, std::sqrt(0.5) * std::sqrt(1.5));
}

/// Five separated Gaussian blobs (lloyd generate --centers 5 --seed 2).
Blobs<double> five_blobs(const Comm& comm, std::uint64_t samples, int features, double std) {
  BlobOptions blobs;
  blobs.samples = samples;
  blobs.features = features;
  blobs.centers = 5;
  blobs.cluster_std = std;
  blobs.seed = 2;
  return make_blobs<double>(comm, blobs);
}

SweepResult sweep_blobs(const Comm& comm) {
  const Blobs<double> data = five_blobs(comm, 1500, 8, 1.0);
  SweepOptions options;
  options.k_min = 2;
  options.k_max = 10;
  options.gap_refs = 4;
  options.fit.seed = 2;
  // Three restarts: one k-means++ draw in ~30 leaves two of these blobs to one centre
  // (scikit-learn's kmeans_plusplus too, 9 of 300 seeds), which no criterion should be
  // judged by.
  options.fit.n_init = 3;
  return choose_k(comm, data.data, options);
}

// Five separated blobs: silhouette, CH and the gap statistic recommend 5, and every value of
// the sweep is the same bits as when rank 0 does it alone.
TEST(ChooseK, FiveSeparatedBlobsAnyRankCount) {
  Comm world(MPI_COMM_WORLD);
  const SweepResult result = sweep_blobs(world);
  EXPECT_EQ(result.silhouette_k, 5);
  EXPECT_EQ(result.calinski_harabasz_k, 5);
  EXPECT_EQ(result.gap_k, 5);
  EXPECT_EQ(result.elbow_k, 5);
  EXPECT_EQ(result.davies_bouldin_k, 5);
  std::vector<double> mine;
  for (const auto* series : {&result.inertia, &result.silhouette, &result.calinski_harabasz,
                             &result.davies_bouldin, &result.gap, &result.gap_s})
    mine.insert(mine.end(), series->begin(), series->end());
  std::vector<double> alone_values(mine.size(), 0.0);
  if (auto alone = world.subset(world.rank() == 0)) {
    const SweepResult single = sweep_blobs(*alone);
    alone_values.clear();
    for (const auto* series : {&single.inertia, &single.silhouette, &single.calinski_harabasz,
                               &single.davies_bouldin, &single.gap, &single.gap_s})
      alone_values.insert(alone_values.end(), series->begin(), series->end());
  }
  world.bcast(std::span<double>(alone_values), 0);
  for (std::size_t i = 0; i < mine.size(); ++i)
    EXPECT_EQ(mine[i], alone_values[i]) << "value " << i;
}

// The principal-component reference box: rows are generated per rank and the sweep is the
// same bits on rank 0 alone; on separated blobs it recommends 5 too.
TEST(ChooseK, PcaReferenceIsRankInvariant) {
  Comm world(MPI_COMM_WORLD);
  const auto run = [](const Comm& comm) {
    const Blobs<double> data = five_blobs(comm, 800, 4, 0.5);
    SweepOptions options;
    options.k_min = 4;
    options.k_max = 6;
    options.silhouette = options.calinski_harabasz = options.davies_bouldin = false;
    options.gap_refs = 3;
    options.gap_reference = GapReference::Pca;
    return choose_k(comm, data.data, options);
  };
  const SweepResult result = run(world);
  EXPECT_EQ(result.gap_k, 5);
  double alone[3] = {0, 0, 0};
  if (auto single = world.subset(world.rank() == 0)) {
    const SweepResult r = run(*single);
    std::copy(r.gap.begin(), r.gap.end(), alone);
  }
  world.bcast(std::span<double>(alone, 3), 0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(result.gap[i], alone[i]);
}

// choose_k of a shard given up makes the gap's reference sets in the shard's own memory: the
// same sweep, bit for bit, as with the references made beside it (uniform and PCA boxes).
TEST(ChooseK, ReferencesInTheShardsMemoryGiveTheSameSweep) {
  Comm comm(MPI_COMM_WORLD);
  for (const GapReference reference : {GapReference::Uniform, GapReference::Pca}) {
    Blobs<double> data = five_blobs(comm, 900, 4, 0.8);
    SweepOptions options;
    options.k_min = 3;
    options.k_max = 6;
    options.gap_refs = 3;
    options.gap_reference = reference;
    options.silhouette_max_exact = 100;  // sampled: quick
    options.silhouette_sample_size = 100;
    const SweepResult beside = choose_k(comm, data.data, options);
    const SweepResult in_place = choose_k(comm, std::move(data.data), options);
    EXPECT_EQ(in_place.gap, beside.gap);
    EXPECT_EQ(in_place.gap_s, beside.gap_s);
    EXPECT_EQ(in_place.reference_log_w, beside.reference_log_w);
    EXPECT_EQ(in_place.inertia, beside.inertia);
    EXPECT_EQ(in_place.silhouette, beside.silhouette);
    EXPECT_EQ(in_place.calinski_harabasz, beside.calinski_harabasz);
    EXPECT_EQ(in_place.davies_bouldin, beside.davies_bouldin);
    EXPECT_EQ(in_place.gap_k, beside.gap_k);
  }
}

// R: clusGap(X, kmeans, K.max = 8, B = 100, d.power = 2, spaceH0 = "original", nstart = 10).
DenseShard<double> gap_fixture(const Comm& comm, const char* dataset = "/X") {
  const DatasetRef x{test::data_path("metrics_gap.h5"), dataset};
  return read_shard<double>(comm, x, inspect_matrix(comm, x));
}

struct ClusGapCase {
  const char* dataset;
  const char* expected;  // group with R's results
  int k_max;
};

class ClusGap : public testing::TestWithParam<ClusGapCase> {};

// R: clusGap(X, kmeans, K.max, B = 100, d.power = 2, spaceH0 = "original", nstart = 10):
// four blobs (R chooses 4) and uniform noise without clusters (R chooses 1).
TEST_P(ClusGap, SameChoiceAsR) {
  const ClusGapCase c = GetParam();
  Comm comm(MPI_COMM_WORLD);
  const DenseShard<double> shard = gap_fixture(comm, c.dataset);
  SweepOptions options;
  options.k_min = 1;
  options.k_max = c.k_max;
  options.silhouette = options.calinski_harabasz = options.davies_bouldin = false;
  options.gap_refs = 10;
  options.fit.n_init = 2;
  const SweepResult result = choose_k(comm, shard, options);
  const std::string file = test::data_path("metrics_gap.h5");
  Hid handle(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  Hid group(H5Gopen2(handle.get(), c.expected, H5P_DEFAULT), H5Gclose);
  EXPECT_EQ(result.gap_k, read_attribute_int(group.get(), "k_tibs2001"));
  Hid dataset(H5Dopen2(group.get(), "gap", H5P_DEFAULT), H5Dclose);
  std::vector<double> r_gap(static_cast<std::size_t>(c.k_max));
  H5Dread(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, r_gap.data());
  // Different random reference sets: the gaps agree loosely, the choice exactly.
  for (int k = 1; k <= c.k_max; ++k)
    EXPECT_NEAR(result.gap[k - 1], r_gap[k - 1], 0.15) << "k=" << k;
}

INSTANTIATE_TEST_SUITE_P(Fixture, ClusGap,
                         testing::Values(ClusGapCase{"/X", "/expected", 8},
                                         ClusGapCase{"/X_null", "/expected_null", 6}),
                         [](const auto& info) { return std::string(info.param.dataset + 1); });

TEST(ChooseK, BadRangeIsAnAgreedError) {
  Comm comm(MPI_COMM_WORLD);
  const DenseShard<double> shard = gap_fixture(comm);
  SweepOptions options;
  options.k_min = 3;
  options.k_max = 2;
  EXPECT_THROW(choose_k(comm, shard, options), AgreedError);
  options.k_max = 100000;
  EXPECT_THROW(choose_k(comm, shard, options), AgreedError);
}

/// cosine_topics.h5 (make_cosine_fixtures.py): 240 TF-IDF rows of four separated topics, as
/// unit CSR rows.
CsrShard<double> topic_rows(const Comm& comm) {
  const DatasetRef x{test::data_path("cosine_topics.h5"), "/X"};
  CsrShard<double> rows = read_rows_as_csr<double>(comm, x, inspect_matrix(comm, x));
  normalize_rows(rows);
  return rows;
}

double topics_expected(const char* name) {
  const std::string file = test::data_path("cosine_topics.h5");
  Hid handle(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  Hid group(H5Gopen2(handle.get(), "/expected", H5P_DEFAULT), H5Gclose);
  return read_attribute_double(group.get(), name);
}

SweepOptions cosine_sweep_options() {
  SweepOptions options;
  options.k_min = 2;
  options.k_max = 7;
  options.calinski_harabasz = options.davies_bouldin = options.gap = false;
  options.fit.n_init = 4;
  return options;
}

// The four topics: at K = 4 the spherical fit finds them, so its objective and the cosine
// silhouette of its labels are the fixture's (numpy's spherical steps, scikit-learn's
// silhouette_score(metric="cosine")); both criteria recommend 4. Every K equals fit + evaluate.
TEST(ChooseKCosine, FourTopicsAsScikitLearn) {
  Comm comm(MPI_COMM_WORLD);
  const CsrShard<double> rows = topic_rows(comm);
  const SweepOptions options = cosine_sweep_options();
  const SweepResult result = choose_k_cosine(comm, rows, options);
  ASSERT_EQ(result.ks.size(), 6u);
  EXPECT_EQ(result.silhouette_k, 4);
  EXPECT_EQ(result.elbow_k, 4);
  EXPECT_EQ(result.calinski_harabasz_k + result.davies_bouldin_k + result.gap_k, 0);
  const double inertia = topics_expected("spherical_inertia"), score = topics_expected("silhouette");
  EXPECT_NEAR(result.inertia[2], inertia, 1e-12 * inertia);
  EXPECT_NEAR(result.silhouette[2], score, 1e-12 * score);
  EXPECT_TRUE(std::isnan(result.calinski_harabasz[2]) && std::isnan(result.gap[2]));
  for (std::size_t i = 0; i < result.ks.size(); ++i) {
    KMeansOptions fit = options.fit;
    fit.k = result.ks[i];
    fit.tol_absolute = fit.tol;
    const KMeansResult<double> model = fit_spherical(comm, rows, fit);
    EXPECT_EQ(result.inertia[i], model.inertia) << "k=" << fit.k;
    EXPECT_EQ(result.silhouette[i], cosine_silhouette(comm, rows, model.labels).mean) << "k=" << fit.k;
  }
}

// The sweep, sampled silhouette included, is the same bits when rank 0 alone holds the rows.
TEST(ChooseKCosine, SameBitsOnOneRank) {
  Comm world(MPI_COMM_WORLD);
  SweepOptions options = cosine_sweep_options();
  options.silhouette_max_exact = 100;
  options.silhouette_sample_size = 150;
  const SweepResult result = choose_k_cosine(world, topic_rows(world), options);
  EXPECT_TRUE(result.silhouette_sampled);
  std::vector<double> single(3 * result.ks.size(), 0.0);
  if (auto alone = world.subset(world.rank() == 0)) {
    const SweepResult one = choose_k_cosine(*alone, topic_rows(*alone), options);
    for (std::size_t i = 0; i < one.ks.size(); ++i) {
      single[3 * i] = one.inertia[i];
      single[3 * i + 1] = one.silhouette[i];
      single[3 * i + 2] = one.silhouette_stderr[i];
    }
  }
  world.bcast(std::span<double>(single), 0);
  for (std::size_t i = 0; i < result.ks.size(); ++i) {
    EXPECT_EQ(result.inertia[i], single[3 * i]);
    EXPECT_EQ(result.silhouette[i], single[3 * i + 1]);
    EXPECT_EQ(result.silhouette_stderr[i], single[3 * i + 2]);
  }
}

TEST(ChooseKCosine, EuclideanCriteriaAreAnAgreedError) {
  Comm comm(MPI_COMM_WORLD);
  const CsrShard<double> rows = topic_rows(comm);
  for (bool SweepOptions::*criterion : {&SweepOptions::gap, &SweepOptions::calinski_harabasz,
                                        &SweepOptions::davies_bouldin}) {
    SweepOptions options = cosine_sweep_options();
    options.*criterion = true;
    EXPECT_THROW(choose_k_cosine(comm, rows, options), AgreedError);
  }
}

}  // namespace
}  // namespace lloyd
