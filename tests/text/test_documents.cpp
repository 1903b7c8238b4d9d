// The document pipeline: TF-IDF against scikit-learn, CSR input and its validation, spherical
// K-Means against a scripted reference (scripts/fixtures/make_text_fixtures.py).
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "lloyd/io/csr.hpp"
#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/spherical.hpp"
#include "lloyd/text/tfidf.hpp"
#include "../test_support.hpp"

namespace lloyd {
namespace {

using test::data_path;
using test::gather_all;

const std::string kReference = "tfidf_reference.h5";

// One TF-IDF matrix with named columns, as (row, term) -> value.
using TermMatrix = std::map<std::pair<std::uint64_t, std::string>, double>;

// A CSR matrix of the reference file with its vocabulary, read whole by this rank.
TermMatrix reference_matrix(const Comm& comm, const std::string& set) {
  const std::string file = data_path(kReference);
  const DatasetRef ref{file, "/sets/" + set + "/X"};
  const MatrixShape shape = inspect_matrix(comm, ref);
  CsrShard<double> shard = read_csr_shard<double>(comm, ref, shape);
  const std::vector<std::string> vocabulary = read_strings(file, "/sets/" + set + "/vocabulary");
  TermMatrix matrix;
  // Gathered: every row of the small fixture on every rank.
  const auto indices = gather_all(comm, shard.indices);
  const auto values = gather_all(comm, shard.values);
  // Row lengths, gathered in row order, place the gathered entries in their rows.
  const auto local_lengths = [&] {
    std::vector<std::int64_t> lengths;
    for (Eigen::Index i = 0; i < shard.local_rows(); ++i) lengths.push_back(shard.row_end(i) - shard.row_begin(i));
    return lengths;
  }();
  const auto lengths = gather_all(comm, local_lengths);
  std::size_t at = 0;
  for (std::size_t row = 0; row < lengths.size(); ++row)
    for (std::int64_t e = 0; e < lengths[row]; ++e, ++at) matrix[{row, vocabulary[static_cast<std::size_t>(indices[at])]}] = values[at];
  EXPECT_EQ(at, values.size());
  return matrix;
}

// lloyd's TF-IDF of the fixture corpus, gathered as (row, term) -> value.
TermMatrix lloyd_matrix(const Comm& comm, const TfidfOptions& options, std::uint64_t* columns = nullptr) {
  const Corpus corpus = read_corpus(comm, data_path("tfidf_corpus.txt"));
  const TfidfResult<double> result = tfidf<double>(comm, corpus, options);
  if (columns) *columns = result.columns;
  std::vector<char> packed;
  for (const auto& term : result.terms) packed.insert(packed.end(), term.c_str(), term.c_str() + term.size() + 1);
  const std::vector<char> all = comm.allgatherv(std::span<const char>(packed));
  std::vector<std::string> vocabulary;  // owners hold consecutive column ranges, in rank order
  for (std::size_t at = 0; at < all.size(); at += vocabulary.back().size() + 1) vocabulary.emplace_back(all.data() + at);
  EXPECT_EQ(vocabulary.size(), result.columns);
  const CsrShard<double>& m = result.matrix;
  TermMatrix matrix;
  std::vector<std::uint64_t> rows;
  std::vector<std::int32_t> columns_of;
  for (Eigen::Index i = 0; i < m.local_rows(); ++i)
    for (std::int64_t e = m.row_begin(i); e < m.row_end(i); ++e) {
      rows.push_back(m.global_index(i));
      columns_of.push_back(m.indices[static_cast<std::size_t>(e)]);
    }
  const auto all_rows = gather_all(comm, rows);
  const auto all_columns = gather_all(comm, columns_of);
  const auto all_values = gather_all(comm, m.values);
  for (std::size_t e = 0; e < all_values.size(); ++e)
    matrix[{all_rows[e], vocabulary[static_cast<std::size_t>(all_columns[e])]}] = all_values[e];
  return matrix;
}

void expect_same_matrix(const TermMatrix& ours, const TermMatrix& reference) {
  ASSERT_EQ(ours.size(), reference.size());
  double worst = 0;
  for (const auto& [key, value] : reference) {
    const auto it = ours.find(key);
    ASSERT_NE(it, ours.end()) << "row " << key.first << " lacks term '" << key.second << "'";
    worst = std::max(worst, std::abs(it->second - value));
  }
  EXPECT_LE(worst, 1e-6);
}

TEST(Tfidf, DefaultOptionsEqualScikitLearn) {
  Comm comm(MPI_COMM_WORLD);
  expect_same_matrix(lloyd_matrix(comm, {}), reference_matrix(comm, "default"));
}

TEST(Tfidf, StopWordsDfBoundsSublinearEqualScikitLearn) {
  Comm comm(MPI_COMM_WORLD);
  TfidfOptions options;
  options.min_df = {2, false};
  options.max_df = {0.5, true};
  options.stop_words = english_stop_words();
  options.sublinear_tf = true;
  expect_same_matrix(lloyd_matrix(comm, options), reference_matrix(comm, "pruned"));
}

TEST(Tfidf, BigramsAndMaxFeaturesEqualScikitLearn) {
  Comm comm(MPI_COMM_WORLD);
  TfidfOptions options;
  options.ngram = 2;
  options.min_df = {2, false};
  options.max_features = 388;  // the limit recorded in the fixture's flags
  std::uint64_t columns = 0;
  expect_same_matrix(lloyd_matrix(comm, options, &columns), reference_matrix(comm, "bigrams"));
  EXPECT_EQ(columns, 388u);
}

TEST(Tfidf, FractionalDfBoundsEqualScikitLearn) {
  Comm comm(MPI_COMM_WORLD);
  TfidfOptions options;
  options.min_df = {0.02, true};
  options.max_df = {0.9, true};
  expect_same_matrix(lloyd_matrix(comm, options), reference_matrix(comm, "fractions"));
}

TEST(Tfidf, NoTermLeftIsAnAgreedError) {
  Comm comm(MPI_COMM_WORLD);
  TfidfOptions options;
  options.min_df = {1000, false};
  EXPECT_THROW(lloyd_matrix(comm, options), AgreedError);
}

TEST(Tokenizer, FollowsScikitLearnsDefaultPattern) {
  EXPECT_EQ(tokenize("A b, CD-ef_1 x2 née"), (std::vector<std::string>{"cd", "ef_1", "x2", "née"}));
  EXPECT_EQ(tokenize("\xe2\x80\x9cquoted\xe2\x80\x9d ÉTÉ"), (std::vector<std::string>{"quoted", "été"}));
  TfidfOptions options;
  options.ngram = 2;
  options.stop_words = {"the"};
  EXPECT_EQ(document_terms("the cat the hat", options), (std::vector<std::string>{"cat", "hat", "cat hat"}));
}

// Valid UTF-8 (RFC 3629) and where it stops being valid; the tokenizer never turns invalid
// bytes into terms (a surrogate or a code point above U+10FFFF used to come out re-encoded).
TEST(Tokenizer, Utf8IsValidatedStrictly) {
  EXPECT_EQ(first_invalid_utf8("plain ascii"), std::nullopt);
  EXPECT_EQ(first_invalid_utf8("née \xe2\x80\x9c \xf0\x9f\x98\x80 \xef\xbf\xbd"), std::nullopt);
  EXPECT_EQ(first_invalid_utf8(std::string_view("nul\0byte", 8)), std::nullopt);
  EXPECT_EQ(first_invalid_utf8("ab\xff"), 2u);                  // never a UTF-8 byte
  EXPECT_EQ(first_invalid_utf8("a\x80"), 1u);                   // a lone continuation byte
  EXPECT_EQ(first_invalid_utf8("abc\xc3"), 3u);                 // truncated at the end
  EXPECT_EQ(first_invalid_utf8("\xc1\x81"), 0u);                // overlong 'A'
  EXPECT_EQ(first_invalid_utf8("\xe0\x80\x80"), 0u);            // overlong NUL
  EXPECT_EQ(first_invalid_utf8("x\xed\xa0\x80"), 1u);           // surrogate U+D800
  EXPECT_EQ(first_invalid_utf8("xy\xf4\x90\x80\x80"), 2u);      // U+110000
  EXPECT_EQ(first_invalid_utf8("\xf5\x80\x80\x80"), 0u);        // lead byte beyond U+10FFFF
  for (const char* text : {"ab\xed\xa0\x80" "cd", "ab\xf4\x90\x80\x80" "cd", "ab\xc1\x81" "cd"})
    for (const std::string& token : tokenize(text))
      EXPECT_EQ(first_invalid_utf8(token), std::nullopt) << "token '" << token << "' of '" << text << "'";
  EXPECT_EQ(tokenize("ab\xed\xa0\x80" "cd"), (std::vector<std::string>{"ab", "cd"}));
}

TEST(CsrInput, MalformedFilesAreAgreedErrorsNamingTheProblem) {
  Comm comm(MPI_COMM_WORLD);
  const std::pair<const char*, const char*> cases[] = {
      {"csr_indptr_decreasing.h5", "indptr decreases at row 3"},
      {"csr_index_out_of_range.h5", "column index 4 outside [0, 4)"},
      {"csr_length_mismatch.h5", "'data' has 8 values but 'indices' has 7"},
      {"csr_indptr_length.h5", "'indptr' has 6 entries"},
      {"csr_indptr_end.h5", "indptr ends at 7"},
      {"csr_duplicate_column.h5", "column 1 more than once"},
      {"csr_no_shape.h5", "no 'shape' attribute"},
      {"csr_nan.h5", "row 4 contains NaN"},
      {"csr_huge.h5", "row 3 column 1 holds 1e+200: beyond 1.95e+143"},
  };
  for (const auto& [file, message] : cases) {
    const DatasetRef ref{data_path(std::string("bad/") + file), "/X"};
    try {
      const MatrixShape shape = inspect_matrix(comm, ref);
      read_csr_shard<double>(comm, ref, shape);
      ADD_FAILURE() << file << ": no error";
    } catch (const AgreedError& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << file << ": " << e.what();
    }
  }
}

TEST(CsrInput, DenseReadOfCsrFillsZeros) {
  Comm comm(MPI_COMM_WORLD);
  const DatasetRef ref{data_path("bad/csr_good.h5"), "/X"};
  const MatrixShape shape = inspect_matrix(comm, ref);
  EXPECT_TRUE(shape.sparse);
  const DenseShard<double> dense = read_shard<double>(comm, ref, shape);
  const std::vector<double> expected_rows[] = {{1, 0, 2, 0}, {0, 3, 0, 0}, {0, 0, 0, 4},
                                               {5, 6, 0, 0}, {0, 0, 7, 0}, {0, 0, 0, 8}};
  for (Eigen::Index i = 0; i < dense.local_rows(); ++i)
    for (Eigen::Index j = 0; j < 4; ++j)
      EXPECT_EQ(dense.rows(i, j), expected_rows[dense.global_index(i)][static_cast<std::size_t>(j)]);
}

TEST(CsrOutput, WrittenMatrixReadsBackIdentically) {
  Comm comm(MPI_COMM_WORLD);
  const DatasetRef source{data_path(kReference), "/sets/pruned/X"};
  const CsrShard<double> shard = read_csr_shard<double>(comm, source, inspect_matrix(comm, source));
  const std::string path = test::scratch_path(comm, "csr");
  {
    OutputFile file(comm, path, /*replace_existing=*/false);
    write_csr(comm, file, "/X", shard);
    file.commit();
  }
  const DatasetRef copy{path, "/X"};
  const CsrShard<double> back = read_csr_shard<double>(comm, copy, inspect_matrix(comm, copy));
  EXPECT_EQ(back.indptr, shard.indptr);
  EXPECT_EQ(back.indices, shard.indices);
  EXPECT_EQ(back.values, shard.values);
  comm.barrier();
  if (comm.rank() == 0) std::remove(path.c_str());
}

// The spherical fixture: the "pruned" matrix, its initial centres and the reference result.
struct SphericalFixture {
  CsrShard<double> rows;
  RowMatrix<double> init, centroids;
  std::vector<std::int32_t> labels;
  double objective = 0;
  std::int64_t n_iter = 0;
};

SphericalFixture spherical_fixture(const Comm& comm) {
  const std::string file = data_path(kReference);
  SphericalFixture f;
  const DatasetRef ref{file, "/sets/pruned/X"};
  f.rows = read_csr_shard<double>(comm, ref, inspect_matrix(comm, ref));
  normalize_rows(f.rows);
  f.init = read_matrix<double>(comm, {file, "/spherical/init"});
  f.centroids = read_matrix<double>(comm, {file, "/spherical/centroids"});
  Hid handle(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  Hid group(H5Gopen2(handle.get(), "/spherical", H5P_DEFAULT), H5Gclose);
  f.objective = read_attribute_double(group.get(), "objective");
  f.n_iter = read_attribute_int(group.get(), "n_iter");
  Hid labels(H5Dopen2(group.get(), "labels", H5P_DEFAULT), H5Dclose);
  f.labels.resize(f.rows.global_rows);
  H5Dread(labels.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, f.labels.data());
  return f;
}

TEST(Spherical, SparseFitFromFixedInitMatchesTheReference) {
  Comm comm(MPI_COMM_WORLD);
  const SphericalFixture f = spherical_fixture(comm);
  KMeansOptions options;
  options.k = static_cast<int>(f.init.rows());
  options.tol = 0;
  const KMeansResult<double> result = fit_spherical(comm, f.rows, options, &f.init);
  EXPECT_EQ(gather_all(comm, result.labels), f.labels);
  EXPECT_EQ(result.n_iter, f.n_iter);
  EXPECT_TRUE(result.converged);
  EXPECT_LE((result.centroids - f.centroids).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_NEAR(result.inertia, f.objective, 1e-12 * f.objective);
  for (Eigen::Index c = 0; c < result.centroids.rows(); ++c) EXPECT_NEAR(result.centroids.row(c).norm(), 1.0, 1e-12);
}

TEST(Spherical, DenseInputGivesTheSameBitsAsSparse) {
  Comm comm(MPI_COMM_WORLD);
  const SphericalFixture f = spherical_fixture(comm);
  KMeansOptions options;
  options.k = 5;
  options.seed = 3;
  const KMeansResult<double> sparse = fit_spherical(comm, f.rows, options);
  const KMeansResult<double> dense = fit_spherical(comm, to_csr(to_dense(f.rows)), options);
  EXPECT_EQ(sparse.labels, dense.labels);
  EXPECT_TRUE(sparse.centroids == dense.centroids);
  EXPECT_EQ(sparse.inertia, dense.inertia);
}

TEST(Spherical, SeedingAndThreadsDoNotChangeTheBits) {
  Comm comm(MPI_COMM_WORLD);
  const SphericalFixture f = spherical_fixture(comm);
  for (const InitMethod init : {InitMethod::KMeansPlusPlus, InitMethod::Forgy}) {
    KMeansOptions options;
    options.k = 6;
    options.seed = 11;
    options.n_init = 2;
    options.init = init;
    set_threads(1);
    const KMeansResult<double> one = fit_spherical(comm, f.rows, options);
    set_threads(3);
    const KMeansResult<double> three = fit_spherical(comm, f.rows, options);
    set_threads(1);
    EXPECT_EQ(one.labels, three.labels);
    EXPECT_TRUE(one.centroids == three.centroids);
    EXPECT_EQ(one.inertia, three.inertia);
    // Seeding quality: better than the fixed init of the reference, which is arbitrary rows.
    EXPECT_LT(one.inertia, 0.99 * static_cast<double>(f.rows.global_rows));
  }
}

TEST(Spherical, EmptyClustersAreRefilled) {
  Comm comm(MPI_COMM_WORLD);
  const SphericalFixture f = spherical_fixture(comm);
  RowMatrix<double> init = f.init;
  init.row(5) = init.row(4);  // a duplicate centre: it loses every row to the first copy
  KMeansOptions options;
  options.k = 6;
  const KMeansResult<double> result = fit_spherical(comm, f.rows, options, &init);
  std::vector<std::int64_t> sizes(6, 0);
  for (const auto label : gather_all(comm, result.labels)) ++sizes[static_cast<std::size_t>(label)];
  for (const auto size : sizes) EXPECT_GT(size, 0);
}

}  // namespace
}  // namespace lloyd
