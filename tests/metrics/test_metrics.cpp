// Cluster metrics against scikit-learn (fixtures from scripts/fixtures/make_metric_fixtures.py
// and make_cosine_fixtures.py) and their rank-count invariance.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "../test_support.hpp"
#include "lloyd/io/csr.hpp"
#include "lloyd/kmeans/spherical.hpp"
#include "lloyd/metrics/external.hpp"
#include "lloyd/metrics/internal.hpp"
#include "lloyd/metrics/labels.hpp"
#include "lloyd/metrics/silhouette.hpp"

namespace lloyd {
namespace {

double expected_attribute(const std::string& file, const char* name) {
  Hid handle(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  Hid group(H5Gopen2(handle.get(), "/expected", H5P_DEFAULT), H5Gclose);
  return read_attribute_double(group.get(), name);
}

std::vector<double> expected_vector(const std::string& file, const char* name) {
  Hid handle(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  Hid dataset(H5Dopen2(handle.get(), name, H5P_DEFAULT), H5Dclose);
  Hid space(H5Dget_space(dataset.get()), H5Sclose);
  std::vector<double> values(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get())));
  H5Dread(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  return values;
}

template <class T>
struct Case {
  DenseShard<T> shard;
  std::vector<std::int32_t> labels, truth;
};

template <class T>
Case<T> load(const Comm& comm, const std::string& file) {
  const DatasetRef x{file, "/X"};
  Case<T> c;
  c.shard = read_shard<T>(comm, x, inspect_matrix(comm, x));
  c.labels = read_labels(comm, {file, "/labels"}, c.shard.global_rows);
  c.truth = read_labels(comm, {file, "/truth"}, c.shard.global_rows);
  return c;
}

void expect_relative(double actual, double expected, double tolerance, const char* what) {
  EXPECT_NEAR(actual, expected, tolerance * std::max(std::abs(expected), 1e-300)) << what;
}

struct MetricCase {
  const char* name;
  double tolerance;
};

class SklearnMetrics : public testing::TestWithParam<MetricCase> {};

template <class T>
void check_case(const std::string& file, double tolerance) {
  Comm comm(MPI_COMM_WORLD);
  const Case<T> c = load<T>(comm, file);
  const SilhouetteResult s = silhouette(comm, c.shard, c.labels);
  expect_relative(s.mean, expected_attribute(file, "silhouette"), tolerance, "silhouette");
  const std::vector<double> samples = expected_vector(file, "/expected/silhouette_samples");
  ASSERT_EQ(s.values.size(), static_cast<std::size_t>(c.shard.local_rows()));
  for (Eigen::Index i = 0; i < c.shard.local_rows(); ++i) {
    const double expected = samples[c.shard.global_index(i)];
    ASSERT_NEAR(s.values[i], expected, tolerance * std::max(std::abs(expected), 1e-3))
        << "row " << c.shard.global_index(i);
  }
  expect_relative(calinski_harabasz(comm, c.shard, c.labels),
                  expected_attribute(file, "calinski_harabasz"), tolerance, "calinski_harabasz");
  expect_relative(davies_bouldin(comm, c.shard, c.labels),
                  expected_attribute(file, "davies_bouldin"), tolerance, "davies_bouldin");
  // Contingency tables are integers: the external scores do not depend on the data type.
  const ExternalScores e = external_scores(comm, c.labels, c.truth);
  expect_relative(e.adjusted_rand, expected_attribute(file, "adjusted_rand"), 1e-12,
                  "adjusted_rand");
  expect_relative(e.normalized_mutual_info, expected_attribute(file, "normalized_mutual_info"),
                  1e-12, "nmi");
  expect_relative(e.homogeneity, expected_attribute(file, "homogeneity"), 1e-12, "homogeneity");
  expect_relative(e.completeness, expected_attribute(file, "completeness"), 1e-12, "completeness");
  expect_relative(e.v_measure, expected_attribute(file, "v_measure"), 1e-12, "v_measure");
}

TEST_P(SklearnMetrics, EqualScikitLearn) {
  const std::string file = test::data_path(std::string("metrics_") + GetParam().name + ".h5");
  Comm comm(MPI_COMM_WORLD);
  if (inspect_matrix(comm, {file, "/X"}).type == ElementType::Float32)
    check_case<float>(file, GetParam().tolerance);
  else
    check_case<double>(file, GetParam().tolerance);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SklearnMetrics,
                         testing::Values(MetricCase{"blobs_f64", 1e-9},
                                         MetricCase{"gaps_f64", 1e-9},
                                         // scikit-learn computes float32 data in float32
                                         MetricCase{"blobs_f32", 2e-5}),
                         [](const auto& info) { return std::string(info.param.name); });

// The same scores, bit for bit, when rank 0 alone holds all rows.
TEST(MetricsInvariance, SameBitsOnOneRank) {
  Comm world(MPI_COMM_WORLD);
  const std::string file = test::data_path("metrics_blobs_f64.h5");
  const Case<double> all = load<double>(world, file);
  const double s = silhouette(world, all.shard, all.labels).mean;
  const double ch = calinski_harabasz(world, all.shard, all.labels);
  const double db = davies_bouldin(world, all.shard, all.labels);
  const SilhouetteResult sampled = sampled_silhouette(world, all.shard, all.labels, 300, 7);
  double single[5] = {0, 0, 0, 0, 0};
  if (auto alone = world.subset(world.rank() == 0)) {
    const Case<double> one = load<double>(*alone, file);
    single[0] = silhouette(*alone, one.shard, one.labels).mean;
    single[1] = calinski_harabasz(*alone, one.shard, one.labels);
    single[2] = davies_bouldin(*alone, one.shard, one.labels);
    const SilhouetteResult r = sampled_silhouette(*alone, one.shard, one.labels, 300, 7);
    single[3] = r.mean;
    single[4] = r.standard_error;
  }
  world.bcast(std::span<double>(single, 5), 0);
  EXPECT_EQ(s, single[0]);
  EXPECT_EQ(ch, single[1]);
  EXPECT_EQ(db, single[2]);
  EXPECT_EQ(sampled.mean, single[3]);
  EXPECT_EQ(sampled.standard_error, single[4]);
}

TEST(SampledSilhouette, CloseToExactWithStandardError) {
  Comm comm(MPI_COMM_WORLD);
  const Case<double> c = load<double>(comm, test::data_path("metrics_blobs_f64.h5"));
  const double exact = silhouette(comm, c.shard, c.labels).mean;
  const SilhouetteResult sampled = sampled_silhouette(comm, c.shard, c.labels, 400, 3);
  EXPECT_TRUE(sampled.sampled);
  EXPECT_EQ(sampled.rows, 400u);
  EXPECT_GT(sampled.standard_error, 0);
  EXPECT_LT(std::abs(sampled.mean - exact), 5 * sampled.standard_error);
  // A sample as large as the data is the exact score.
  EXPECT_EQ(sampled_silhouette(comm, c.shard, c.labels, 10000, 3).mean, exact);
}

TEST(MetricErrors, OneClusterIsAnAgreedError) {
  Comm comm(MPI_COMM_WORLD);
  const Case<double> c = load<double>(comm, test::data_path("metrics_blobs_f64.h5"));
  const std::vector<std::int32_t> same(c.labels.size(), 3);
  EXPECT_THROW(silhouette(comm, c.shard, same), AgreedError);
  EXPECT_THROW(calinski_harabasz(comm, c.shard, same), AgreedError);
  EXPECT_THROW(davies_bouldin(comm, c.shard, same), AgreedError);
  std::vector<std::int32_t> negative = c.labels;
  if (!negative.empty() && comm.rank() == comm.size() - 1) negative.back() = -1;
  EXPECT_THROW(silhouette(comm, c.shard, negative), AgreedError);
  EXPECT_THROW(
      read_labels(comm, {test::data_path("metrics_blobs_f64.h5"), "/X"}, c.shard.global_rows),
      AgreedError);
  EXPECT_THROW(read_labels(comm, {test::data_path("metrics_blobs_f64.h5"), "/labels"}, 5),
               AgreedError);
}

TEST(ExternalScores, PerfectAndIndependent) {
  // Same partition under other names: every score is 1.
  const ExternalScores same = external_scores({{0, 5, 0}, {3, 0, 0}, {0, 0, 2}});
  EXPECT_DOUBLE_EQ(same.adjusted_rand, 1.0);
  EXPECT_DOUBLE_EQ(same.normalized_mutual_info, 1.0);
  EXPECT_DOUBLE_EQ(same.v_measure, 1.0);
  // One cluster against two classes: homogeneity 0, completeness 1 (scikit-learn's values).
  const ExternalScores lumped = external_scores({{4}, {4}});
  EXPECT_DOUBLE_EQ(lumped.homogeneity, 0.0);
  EXPECT_DOUBLE_EQ(lumped.completeness, 1.0);
  EXPECT_DOUBLE_EQ(lumped.adjusted_rand, 0.0);
}

// Labels are categories whatever their values (issue 15: labels {0, 10^6} made evaluate
// allocate per value up to the largest: 10-47 s and 9 GB on 60 rows, bad_alloc on 5000; label
// 2^40 was read clipped to 2147483647).
TEST(SparseLabels, EncodedAsTheirDistinctValuesOnEveryRank) {
  Comm comm(MPI_COMM_WORLD);
  const std::string file = test::data_path("metrics_sparse_labels.h5");
  const Case<double> compact = load<double>(comm, test::data_path("metrics_blobs_f64.h5"));
  const std::uint64_t n = compact.shard.global_rows;
  const EncodedLabels labels = encode_labels(comm, read_label_values(comm, {file, "/labels"}, n));
  const EncodedLabels truth = encode_labels(comm, read_label_values(comm, {file, "/truth"}, n));
  const EncodedLabels unsigned_labels = encode_labels(comm, read_label_values(comm, {file, "/labels_uint64"}, n));
  EXPECT_EQ(labels.values, (std::vector<std::int64_t>{-5, 0, 1000000, std::int64_t{1} << 40}));
  EXPECT_EQ(truth.values, (std::vector<std::int64_t>{-(std::int64_t{1} << 62), 7, std::int64_t{1} << 31,
                                                     std::int64_t{1} << 62}));
  EXPECT_EQ(unsigned_labels.values.back(), std::numeric_limits<std::int64_t>::max());
  // The values keep the order of the compact labels: the codes are those labels.
  EXPECT_EQ(labels.codes, compact.labels);
  EXPECT_EQ(truth.codes, compact.truth);
  EXPECT_EQ(unsigned_labels.codes, compact.labels);
  const ExternalScores e = external_scores(comm, labels.codes, truth.codes);
  expect_relative(e.adjusted_rand, expected_attribute(file, "adjusted_rand"), 1e-12, "adjusted_rand");
  expect_relative(e.normalized_mutual_info, expected_attribute(file, "normalized_mutual_info"), 1e-12, "nmi");
  expect_relative(silhouette(comm, compact.shard, labels.codes).mean, expected_attribute(file, "silhouette"),
                  1e-9, "silhouette");
  // Values beyond what a type holds are refused, never clipped.
  EXPECT_THROW(read_labels(comm, {file, "/labels"}, n), AgreedError);  // 2^40 as int32
  EXPECT_THROW(read_label_values(comm, {file, "/labels_too_large"}, n), AgreedError);  // 2^63
}

// evaluate reads labels of up to 32 bits straight into their int32 codes (issue 22: the int64
// copy cost 8 bytes a row); every integer type must still give encode_labels' values and codes,
// and unsigned 32-bit values above 2^31 must not be clipped.
TEST(SparseLabels, ReadEncodedEqualsEncodeOfTheValuesForEveryIntegerType) {
  Comm comm(MPI_COMM_WORLD);
  const std::string path = test::scratch_path(comm, "label-types");
  const std::vector<std::int64_t> signed_values{-3, 7, 100, -3, 0, 7, 42, -128, 127, 0, 7};
  const std::vector<std::int64_t> unsigned_values{3, 7, 100, 3, 0, 7, 42, 3000000000, 65535, 0, 7};
  const std::vector<std::pair<const char*, hid_t>> types{
      {"/int8", H5T_STD_I8LE}, {"/uint16", H5T_STD_U16LE}, {"/int32", H5T_STD_I32LE},
      {"/uint32", H5T_STD_U32LE}, {"/int64", H5T_STD_I64LE}, {"/uint64", H5T_STD_U64LE}};
  const auto values_of = [&](const std::string& name) {
    std::vector<std::int64_t> values = name.find("uint") != std::string::npos ? unsigned_values : signed_values;
    if (name == "/uint16") values[7] = 4;  // 3000000000 is for 32 bits and more
    return values;
  };
  if (comm.rank() == 0) {
    Hid file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    const hsize_t dims[1] = {signed_values.size()};
    for (const auto& [name, type] : types) {
      Hid space(H5Screate_simple(1, dims, nullptr), H5Sclose);
      Hid dataset(H5Dcreate2(file.get(), name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
      H5Dwrite(dataset.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values_of(name).data());
    }
  }
  comm.barrier();
  const std::uint64_t n = signed_values.size();
  const RowRange mine = block_rows(n, comm.size(), comm.rank());
  for (const auto& [name, type] : types) {
    const DatasetRef ref{path, name};
    const EncodedLabels direct = read_encoded_labels(comm, ref, n);
    const EncodedLabels expected = encode_labels(comm, read_label_values(comm, ref, n));
    EXPECT_EQ(direct.values, expected.values) << name;
    EXPECT_EQ(direct.codes, expected.codes) << name;
    std::vector<std::int64_t> distinct = values_of(name);
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    EXPECT_EQ(direct.values, distinct) << name;
    const std::vector<std::int64_t> all = values_of(name);
    ASSERT_EQ(direct.codes.size(), mine.size()) << name;
    for (std::size_t i = 0; i < direct.codes.size(); ++i)
      EXPECT_EQ(direct.values[static_cast<std::size_t>(direct.codes[i])], all[mine.begin + i]) << name << " row " << i;
  }
  // read_labels: cluster indices read as int32 where they fit, refused where they do not.
  const std::vector<std::int32_t> int8 = read_labels(comm, {path, "/int8"}, n);
  for (std::size_t i = 0; i < int8.size(); ++i) EXPECT_EQ(int8[i], signed_values[mine.begin + i]);
  EXPECT_THROW(read_labels(comm, {path, "/uint32"}, n), AgreedError);  // 3000000000
  comm.barrier();
  if (comm.rank() == 0) std::remove(path.c_str());
}

TEST(SparseLabels, CountsSummedOverRanksFollowTheDistinctValues) {
  Comm comm(MPI_COMM_WORLD);
  // Rank r holds r + 1 copies of 10^12 · r, one of -1 and (on even ranks only) one of 2^62.
  std::vector<std::int64_t> mine(static_cast<std::size_t>(comm.rank()) + 1, std::int64_t{1000000000000} * comm.rank());
  mine.push_back(-1);
  if (comm.rank() % 2 == 0) mine.push_back(std::int64_t{1} << 62);
  const std::vector<ValueCount> counts = sum_counts(comm, count_values(mine));
  std::vector<ValueCount> expected{{-1, comm.size()}};
  for (int r = 0; r < comm.size(); ++r) {
    const ValueCount entry{std::int64_t{1000000000000} * r, r + 1};
    if (r == 0) expected.insert(expected.begin() + 1, entry);
    else expected.push_back(entry);
  }
  expected.push_back({std::int64_t{1} << 62, (comm.size() + 1) / 2});
  EXPECT_EQ(counts, expected);
  // Ranks without labels take part as well: only rank 0 holds {0, -1, 2^62}.
  const std::vector<std::int64_t> none;
  const EncodedLabels encoded = encode_labels(comm, comm.rank() == 0 ? mine : none);
  EXPECT_EQ(encoded.values, (std::vector<std::int64_t>{-1, 0, std::int64_t{1} << 62}));
  EXPECT_EQ(encoded.codes, comm.rank() == 0 ? (std::vector<std::int32_t>{1, 0, 2}) : std::vector<std::int32_t>{});
}

TEST(ExternalScores, SparseCellsEqualTheDenseTable) {
  Comm comm(MPI_COMM_WORLD);
  const Case<double> c = load<double>(comm, test::data_path("metrics_gaps_f64.h5"));
  // The dense table of the whole labelling, built on every rank from gathered labels.
  const std::vector<std::int32_t> labels = test::gather_all(comm, c.labels), truth = test::gather_all(comm, c.truth);
  const auto [t_min, t_max] = std::minmax_element(truth.begin(), truth.end());
  const auto [l_min, l_max] = std::minmax_element(labels.begin(), labels.end());
  std::vector<std::vector<std::int64_t>> table(static_cast<std::size_t>(*t_max - *t_min + 1),
                                               std::vector<std::int64_t>(static_cast<std::size_t>(*l_max - *l_min + 1)));
  for (std::size_t i = 0; i < labels.size(); ++i) ++table[truth[i] - *t_min][labels[i] - *l_min];
  const ExternalScores dense = external_scores(table), sparse = external_scores(comm, c.labels, c.truth);
  EXPECT_EQ(sparse.adjusted_rand, dense.adjusted_rand);
  EXPECT_EQ(sparse.normalized_mutual_info, dense.normalized_mutual_info);
  EXPECT_EQ(sparse.homogeneity, dense.homogeneity);
  EXPECT_EQ(sparse.completeness, dense.completeness);
  EXPECT_EQ(sparse.v_measure, dense.v_measure);
}

/// A cosine fixture's /X (dense or CSR) as the unit CSR rows evaluate --metric cosine scores.
CsrShard<double> unit_rows(const Comm& comm, const std::string& file) {
  const DatasetRef x{file, "/X"};
  CsrShard<double> rows = read_rows_as_csr<double>(comm, x, inspect_matrix(comm, x));
  normalize_rows(rows);
  return rows;
}

class CosineSilhouette : public testing::TestWithParam<const char*> {};

// scikit-learn's silhouette_samples/silhouette_score(metric="cosine"), zero rows included.
TEST_P(CosineSilhouette, EqualsScikitLearn) {
  Comm comm(MPI_COMM_WORLD);
  const std::string file = test::data_path(std::string("cosine_") + GetParam() + ".h5");
  const CsrShard<double> rows = unit_rows(comm, file);
  const std::vector<std::int32_t> labels = read_labels(comm, {file, "/labels"}, rows.global_rows);
  const SilhouetteResult s = cosine_silhouette(comm, rows, labels);
  expect_relative(s.mean, expected_attribute(file, "silhouette"), 1e-12, "silhouette");
  const std::vector<double> samples = expected_vector(file, "/expected/silhouette_samples");
  ASSERT_EQ(s.values.size(), static_cast<std::size_t>(rows.local_rows()));
  for (Eigen::Index i = 0; i < rows.local_rows(); ++i) {
    const double expected = samples[rows.global_index(i)];
    ASSERT_NEAR(s.values[i], expected, 1e-12 * std::max(std::abs(expected), 1e-2)) << "row " << rows.global_index(i);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CosineSilhouette, testing::Values("dense", "sparse", "topics"),
                         [](const auto& info) { return std::string(info.param); });

// Exact and sampled cosine silhouettes: the same bits when rank 0 alone holds all rows.
TEST(CosineSilhouette, SameBitsOnOneRank) {
  Comm world(MPI_COMM_WORLD);
  const std::string file = test::data_path("cosine_sparse.h5");
  const CsrShard<double> rows = unit_rows(world, file);
  const std::vector<std::int32_t> labels = read_labels(world, {file, "/labels"}, rows.global_rows);
  const SilhouetteResult exact = cosine_silhouette(world, rows, labels);
  const std::vector<double> values = test::gather_all(world, exact.values);
  const SilhouetteResult sampled = sampled_cosine_silhouette(world, rows, labels, 200, 5);
  std::vector<double> single(3 + values.size(), 0.0);
  if (auto alone = world.subset(world.rank() == 0)) {
    const CsrShard<double> all = unit_rows(*alone, file);
    const std::vector<std::int32_t> all_labels = read_labels(*alone, {file, "/labels"}, all.global_rows);
    const SilhouetteResult one = cosine_silhouette(*alone, all, all_labels);
    const SilhouetteResult r = sampled_cosine_silhouette(*alone, all, all_labels, 200, 5);
    single[0] = one.mean;
    single[1] = r.mean;
    single[2] = r.standard_error;
    std::copy(one.values.begin(), one.values.end(), single.begin() + 3);
  }
  world.bcast(std::span<double>(single), 0);
  EXPECT_EQ(exact.mean, single[0]);
  EXPECT_EQ(sampled.mean, single[1]);
  EXPECT_EQ(sampled.standard_error, single[2]);
  for (std::size_t i = 0; i < values.size(); ++i) ASSERT_EQ(values[i], single[3 + i]) << "row " << i;
}

TEST(CosineSilhouette, SampleOfAllRowsIsExactAndASampleIsClose) {
  Comm comm(MPI_COMM_WORLD);
  const std::string file = test::data_path("cosine_dense.h5");
  const CsrShard<double> rows = unit_rows(comm, file);
  const std::vector<std::int32_t> labels = read_labels(comm, {file, "/labels"}, rows.global_rows);
  const double exact = cosine_silhouette(comm, rows, labels).mean;
  EXPECT_EQ(sampled_cosine_silhouette(comm, rows, labels, rows.global_rows, 3).mean, exact);
  const SilhouetteResult sampled = sampled_cosine_silhouette(comm, rows, labels, 300, 3);
  EXPECT_TRUE(sampled.sampled);
  EXPECT_EQ(sampled.rows, 300u);
  EXPECT_GT(sampled.standard_error, 0);
  EXPECT_NEAR(sampled.mean, exact, 5 * sampled.standard_error);
  EXPECT_THROW(sampled_cosine_silhouette(comm, rows, labels, 1, 3), AgreedError);
}

}  // namespace
}  // namespace lloyd
