// The document pipeline: TF-IDF against scikit-learn, CSR input and its validation, spherical
// K-Means against a scripted reference (scripts/fixtures/make_text_fixtures.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
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
const std::string kOptions = "tfidf_options.h5";      // option sets
const std::string kTransform = "tfidf_transform.h5";  // fit(corpus).transform(new documents)

// One TF-IDF matrix with named columns, as (row, term) -> value.
using TermMatrix = std::map<std::pair<std::uint64_t, std::string>, double>;

// A CSR matrix of a reference file (group: X and vocabulary) with its vocabulary, gathered.
TermMatrix reference_matrix(const Comm& comm, const std::string& set, const std::string& fixture = kReference,
                            const std::string& group = "/sets/") {
  const std::string file = data_path(fixture);
  const DatasetRef ref{file, group + set + "/X"};
  const MatrixShape shape = inspect_matrix(comm, ref);
  CsrShard<double> shard = read_csr_shard<double>(comm, ref, shape);
  const std::vector<std::string> vocabulary = read_strings(file, group + set + "/vocabulary");
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

// A TF-IDF result gathered as (row, term) -> value.
TermMatrix gathered_matrix(const Comm& comm, const TfidfResult<double>& result) {
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

// lloyd's TF-IDF of a fixture corpus, gathered as (row, term) -> value.
TermMatrix lloyd_matrix(const Comm& comm, const TfidfOptions& options, std::uint64_t* columns = nullptr,
                        const std::string& corpus_file = "tfidf_corpus.txt") {
  const Corpus corpus = read_corpus(comm, data_path(corpus_file));
  const TfidfResult<double> result = tfidf<double>(comm, corpus, options);
  if (columns) *columns = result.columns;
  return gathered_matrix(comm, result);
}

// Fits `options` on a corpus and writes the result as tfidf does; returns the file's path.
std::string fitted_vocabulary(const Comm& comm, const std::string& corpus_file, const TfidfOptions& options,
                              const std::string& stem) {
  const std::string path = test::scratch_path(comm, stem);
  const TfidfResult<double> fit = tfidf<double>(comm, read_corpus(comm, data_path(corpus_file)), options);
  OutputFile file(comm, path, /*replace_existing=*/false);
  write_tfidf(comm, file, fit, options);
  file.commit();
  return path;
}

// The vocabulary size of scikit-learn's vectorizer for a fixture group (its attribute n_terms).
std::uint64_t reference_terms(const std::string& fixture, const std::string& group) {
  Hid file = open_file(data_path(fixture));
  Hid object(H5Gopen2(file.get(), group.c_str(), H5P_DEFAULT), H5Gclose);
  return static_cast<std::uint64_t>(read_attribute_int(object.get(), "n_terms"));
}

void remove_scratch(const Comm& comm, const std::string& path) {
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove_all(path);
}

void expect_same_matrix(const TermMatrix& ours, const TermMatrix& reference) {
  ASSERT_EQ(ours.size(), reference.size());
  double worst = 0;
  for (const auto& [key, value] : reference) {
    const auto it = ours.find(key);
    ASSERT_NE(it, ours.end()) << "row " << key.first << " lacks term '" << key.second << "'";
    worst = std::max(worst, std::abs(it->second - value));
  }
  EXPECT_LE(worst, 1e-12);
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
  options.ngram_max = 2;
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

// scikit-learn's TfidfVectorizer options, one fixture set each (tfidf_options.h5).
TEST(Tfidf, OptionSetsEqualScikitLearn) {
  Comm comm(MPI_COMM_WORLD);
  struct Set {
    const char* name;
    const char* corpus;
    TfidfOptions options;
  };
  auto with = [](auto change) {
    TfidfOptions options;
    change(options);
    return options;
  };
  const Set sets[] = {
      {"norm_l1_no_smooth_idf", "tfidf_new.txt", with([](TfidfOptions& o) {
         o.norm = Norm::L1;
         o.smooth_idf = false;
         o.min_df = {2, false};
       })},
      {"norm_none_binary_sublinear", "tfidf_new.txt", with([](TfidfOptions& o) {
         o.norm = Norm::None;
         o.binary = true;
         o.sublinear_tf = true;
         o.min_df = {2, false};
       })},
      {"no_idf", "tfidf_new.txt", with([](TfidfOptions& o) {
         o.use_idf = false;
         o.min_df = {2, false};
       })},
      {"word_2_3", "tfidf_corpus.txt", with([](TfidfOptions& o) {
         o.ngram_min = 2;
         o.ngram_max = 3;
         o.min_df = {3, false};
       })},
      {"ml_default", "tfidf_multilingual.txt", {}},
      {"ml_strip_unicode", "tfidf_multilingual.txt", with([](TfidfOptions& o) { o.strip_accents = StripAccents::Unicode; })},
      {"ml_strip_ascii", "tfidf_multilingual.txt", with([](TfidfOptions& o) { o.strip_accents = StripAccents::Ascii; })},
      {"ml_no_lowercase", "tfidf_multilingual.txt", with([](TfidfOptions& o) { o.lowercase = false; })},
      {"ml_char_1_3", "tfidf_multilingual.txt", with([](TfidfOptions& o) {
         o.analyzer = Analyzer::Char;
         o.ngram_max = 3;
       })},
      {"ml_char_wb_2_4", "tfidf_multilingual.txt", with([](TfidfOptions& o) {
         o.analyzer = Analyzer::CharWb;
         o.ngram_min = 2;
         o.ngram_max = 4;
         o.strip_accents = StripAccents::Unicode;
       })},
  };
  for (const Set& set : sets) {
    SCOPED_TRACE(set.name);
    std::uint64_t columns = 0;
    expect_same_matrix(lloyd_matrix(comm, set.options, &columns, set.corpus), reference_matrix(comm, set.name, kOptions));
    EXPECT_EQ(columns, reference_terms(kOptions, std::string("/sets/") + set.name));
  }
}

// scikit-learn's TfidfVectorizer(...).fit(corpus).transform(new): lloyd fits, writes the
// vocabulary file, reads its options back and transforms the new documents.
TEST(Tfidf, TransformOfNewDocumentsEqualsScikitLearn) {
  Comm comm(MPI_COMM_WORLD);
  TfidfOptions bigrams;
  bigrams.ngram_max = 2;
  bigrams.stop_words = english_stop_words();
  bigrams.min_df = {2, false};
  bigrams.max_df = {0.5, true};
  bigrams.sublinear_tf = true;
  TfidfOptions char_wb;
  char_wb.analyzer = Analyzer::CharWb;
  char_wb.ngram_min = char_wb.ngram_max = 3;
  char_wb.min_df = {5, false};
  char_wb.norm = Norm::L1;
  char_wb.binary = true;
  const std::pair<const char*, TfidfOptions> sets[] = {{"default", {}}, {"bigrams_stop_words", bigrams}, {"char_wb_l1", char_wb}};
  for (const auto& [name, options] : sets) {
    SCOPED_TRACE(name);
    const std::string vocabulary = fitted_vocabulary(comm, "tfidf_corpus.txt", options, "vocabulary");
    const TfidfOptions fitted = read_fitted_options(vocabulary);
    EXPECT_EQ(fitted.analyzer, options.analyzer);
    EXPECT_EQ(fitted.ngram_min, options.ngram_min);
    EXPECT_EQ(fitted.ngram_max, options.ngram_max);
    EXPECT_EQ(fitted.norm, options.norm);
    EXPECT_EQ(fitted.binary, options.binary);
    EXPECT_EQ(fitted.sublinear_tf, options.sublinear_tf);
    EXPECT_EQ(fitted.stop_words, options.stop_words);
    const Corpus fresh = read_corpus(comm, data_path("tfidf_new.txt"));
    const TfidfResult<double> result = tfidf_transform<double>(comm, fresh, vocabulary, fitted);
    expect_same_matrix(gathered_matrix(comm, result), reference_matrix(comm, name, kTransform, "/transform/"));
    EXPECT_EQ(result.columns, reference_terms(kTransform, std::string("/transform/") + name));
    remove_scratch(comm, vocabulary);
  }
}

// Transforming the training corpus gives the fit's own matrix, bit for bit (the same terms,
// idf and arithmetic), whatever the options.
TEST(Tfidf, TransformOfTheFittedCorpusIsTheFitsMatrix) {
  Comm comm(MPI_COMM_WORLD);
  TfidfOptions options;
  options.ngram_max = 2;
  options.min_df = {2, false};
  options.max_features = 300;
  options.stop_words = english_stop_words();
  options.norm = Norm::L1;
  for (const auto& corpus_file : {"tfidf_corpus.txt", "tfidf_multilingual.txt"}) {
    SCOPED_TRACE(corpus_file);
    const Corpus corpus = read_corpus(comm, data_path(corpus_file));
    const TfidfResult<double> fit = tfidf<double>(comm, corpus, options);
    const std::string vocabulary = fitted_vocabulary(comm, corpus_file, options, "refit");
    const TfidfResult<double> again = tfidf_transform<double>(comm, corpus, vocabulary, read_fitted_options(vocabulary));
    EXPECT_EQ(again.matrix.indptr, fit.matrix.indptr);
    EXPECT_EQ(again.matrix.indices, fit.matrix.indices);
    EXPECT_EQ(again.matrix.values, fit.matrix.values);
    EXPECT_EQ(again.columns, fit.columns);
    EXPECT_EQ(again.first_column, fit.first_column);
    EXPECT_EQ(again.terms, fit.terms);
    EXPECT_EQ(again.idf, fit.idf);
    EXPECT_EQ(again.document_frequency, fit.document_frequency);
    remove_scratch(comm, vocabulary);
    options = {};  // then the defaults on the multilingual corpus
  }
}

// The vocabulary held in memory (the Python package's fitted Tfidf: every column on every rank)
// transforms as the file does: owned_vocabulary picks each rank's buckets, and transforming the
// training corpus gives the fit's matrix bit for bit. Terms out of lloyd's order are refused.
TEST(Tfidf, TransformWithTheVocabularyInMemoryIsTheFitsMatrix) {
  Comm comm(MPI_COMM_WORLD);
  TfidfOptions options;
  options.ngram_max = 2;
  options.sublinear_tf = true;
  const Corpus corpus = read_corpus(comm, data_path("tfidf_corpus.txt"));
  const TfidfResult<double> fit = tfidf<double>(comm, corpus, options);
  std::vector<char> packed;
  for (const auto& term : fit.terms) packed.insert(packed.end(), term.c_str(), term.c_str() + term.size() + 1);
  const std::vector<char> all = comm.allgatherv(std::span<const char>(packed));
  std::vector<std::string> terms;
  for (auto at = all.begin(); at != all.end(); at = std::find(at, all.end(), '\0') + 1) terms.emplace_back(&*at);
  const std::vector<double> idf = gather_all(comm, fit.idf);
  const std::vector<std::int64_t> frequency = gather_all(comm, fit.document_frequency);
  ASSERT_EQ(terms.size(), fit.columns);
  VocabularySlice slice = owned_vocabulary(comm, terms, idf, frequency, "in memory");
  EXPECT_EQ(slice.first, fit.first_column);
  EXPECT_EQ(slice.terms, fit.terms);
  const TfidfResult<double> again = tfidf_transform<double>(comm, corpus, std::move(slice), options);
  EXPECT_EQ(again.matrix.indptr, fit.matrix.indptr);
  EXPECT_EQ(again.matrix.indices, fit.matrix.indices);
  EXPECT_EQ(again.matrix.values, fit.matrix.values);
  EXPECT_EQ(again.idf, fit.idf);

  std::swap(terms[3], terms[4]);
  try {
    owned_vocabulary(comm, terms, idf, frequency, "in memory");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("in memory: /vocabulary is not in lloyd's column order at column 4"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(owned_vocabulary(comm, {"a"}, {1.0, 2.0}, {1}, "in memory"), Error);
}

// A vocabulary written before the options were stored (only `ngram`, `sublinear_tf` and
// `stop_words`) reads as the options lloyd tfidf had then.
TEST(Tfidf, OptionsOfAnOlderVocabularyFileAreThoseOfThen) {
  Comm comm(MPI_COMM_WORLD);
  TfidfOptions options;
  options.sublinear_tf = true;
  const std::string vocabulary = fitted_vocabulary(comm, "tfidf_new.txt", options, "older");
  if (comm.rank() == 0) {
    Hid file(H5Fopen(vocabulary.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    for (const char* added : {"analyzer", "ngram_min", "ngram_max", "lowercase", "strip_accents", "binary", "use_idf",
                              "smooth_idf", "norm"})
      ASSERT_GE(H5Adelete(file.get(), added), 0) << added;
    write_attribute(file.get(), "ngram", std::int64_t{2});
    write_attribute(file.get(), "stop_words", std::string("english"));
  }
  comm.barrier();
  const TfidfOptions older = read_fitted_options(vocabulary);
  EXPECT_EQ(older.analyzer, Analyzer::Word);
  EXPECT_EQ(older.ngram_min, 1);
  EXPECT_EQ(older.ngram_max, 2);
  EXPECT_TRUE(older.lowercase);
  EXPECT_EQ(older.strip_accents, StripAccents::None);
  EXPECT_FALSE(older.binary);
  EXPECT_TRUE(older.sublinear_tf);
  EXPECT_TRUE(older.use_idf);
  EXPECT_TRUE(older.smooth_idf);
  EXPECT_EQ(older.norm, Norm::L2);
  EXPECT_EQ(older.stop_words, english_stop_words());
  remove_scratch(comm, vocabulary);
}

TEST(Tfidf, TransformRefusesAFileThatIsNotAVocabulary) {
  Comm comm(MPI_COMM_WORLD);
  EXPECT_THROW(read_fitted_options(data_path("lloyd_blobs_f64.h5")), Error);
  const Corpus corpus = read_corpus(comm, data_path("tfidf_new.txt"));
  try {
    tfidf_transform<double>(comm, corpus, data_path("lloyd_blobs_f64.h5"), {});
    ADD_FAILURE() << "no error";
  } catch (const AgreedError& e) {
    EXPECT_NE(std::string(e.what()).find("was not written by lloyd tfidf"), std::string::npos) << e.what();
  }
}

// A directory corpus: binary files skipped and counted, --include/--exclude globs on the path
// under the directory, a symbolic link named by its own name.
TEST(Corpus, DirectorySkipsBinaryFilesFiltersAndKeepsLinkNames) {
  Comm comm(MPI_COMM_WORLD);
  const std::filesystem::path dir = test::scratch_path(comm, "corpus");
  if (comm.rank() == 0) {
    std::filesystem::create_directories(dir / "sub");
    std::filesystem::create_directories(dir.string() + "-outside");
    auto write = [](const std::filesystem::path& path, std::string_view bytes) {
      std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    };
    write(dir / "a.txt", "alpha text");
    write(dir / "sub/b.txt", "beta text");
    write(dir / "sub/c.md", "gamma notes");
    write(dir / "nul.txt", std::string_view("has a \0 byte", 12));
    write(dir / "latin1.txt", "caf\xe9");
    write(dir.string() + "-outside/target.txt", "linked text");
    std::filesystem::create_symlink(dir.string() + "-outside/target.txt", dir / "link.txt");
    std::filesystem::create_symlink(dir / "nowhere", dir / "dangling.txt");
  }
  comm.barrier();
  auto names = [&](const Corpus& corpus) { 
    std::vector<char> packed;
    for (const auto& name : corpus.names) packed.insert(packed.end(), name.c_str(), name.c_str() + name.size() + 1);
    const std::vector<char> all = comm.allgatherv(std::span<const char>(packed));
    std::vector<std::string> out;
    for (std::size_t at = 0; at < all.size(); at += out.back().size() + 1) out.emplace_back(all.data() + at);
    return out;
  };
  const Corpus all = read_corpus(comm, dir.string() + "/");
  EXPECT_EQ(names(all), (std::vector<std::string>{"a.txt", "link.txt", "sub/b.txt", "sub/c.md"}));
  EXPECT_EQ(all.skipped_binary, 2u);
  EXPECT_EQ(all.total, 4u);
  const Corpus texts = read_corpus(comm, dir.string(), {{"*.txt"}, {"link*", "nul.txt"}});
  EXPECT_EQ(names(texts), (std::vector<std::string>{"a.txt", "sub/b.txt"}));
  EXPECT_EQ(texts.skipped_binary, 1u);  // latin1.txt
  EXPECT_EQ(texts.total, 2u);
  const Corpus markdown = read_corpus(comm, dir.string(), {{"sub/*.md", "*.none"}, {}});
  EXPECT_EQ(names(markdown), (std::vector<std::string>{"sub/c.md"}));
  EXPECT_THROW(read_corpus(comm, dir.string(), {{"*.none"}, {}}), AgreedError);
  EXPECT_THROW(read_corpus(comm, dir.string(), {{"nul.txt", "latin1.txt"}, {}}), AgreedError);
  remove_scratch(comm, dir.string());
  remove_scratch(comm, dir.string() + "-outside");
}

TEST(Tfidf, NoTermLeftIsAnAgreedError) {
  Comm comm(MPI_COMM_WORLD);
  TfidfOptions options;
  options.min_df = {1000, false};
  EXPECT_THROW(lloyd_matrix(comm, options), AgreedError);
}

TEST(Tokenizer, FollowsScikitLearnsDefaultPattern) {
  EXPECT_EQ(tokenize("A b, CD-ef_1 x2 née"), (std::vector<std::string>{"cd", "ef_1", "x2", "née"}));
  // str.lower(): Cyrillic, Greek with its final sigma, 'İ' to "i" + U+0307 (a combining mark,
  // so not a word character: "İstanbul" gives "stanbul"), German ß kept.
  EXPECT_EQ(tokenize("ПРИВЕТ Мир ΟΔΟΣ ΣΟΦΙΑ İstanbul STRAẞE"),
            (std::vector<std::string>{"привет", "мир", "οδο\u03c2", "σοφια", "stanbul", "straße"}));
  // Word characters are Python's: letters and numerics of every script and '_'; symbols and
  // marks separate words.
  EXPECT_EQ(tokenize("Brand™x ©2024 x² ½½ ١٢ हिन्दी ab😀cd"),
            (std::vector<std::string>{"brand", "2024", "x²", "½½", "١٢", "ab", "cd"}));
  for (const char32_t c : {U'a', U'_', U'Ж', U'ǅ', U'٣', U'Ⅻ', U'²', U'東'}) EXPECT_TRUE(is_word_character(c)) << static_cast<int>(c);
  for (const char32_t c : {U'-', U'™', U'®', U'©', U'\u0301', U'\u093F', U'\U0001F600', U'\u00A0'})
    EXPECT_FALSE(is_word_character(c)) << static_cast<int>(c);
  for (const char32_t c : {U' ', U'\t', U'\x1f', U'\u00A0', U'\u2003', U'\u2028', U'\u0085'})
    EXPECT_TRUE(is_space_character(c)) << static_cast<int>(c);
  EXPECT_FALSE(is_space_character(U'\u200B'));
  EXPECT_EQ(tokenize("\xe2\x80\x9cquoted\xe2\x80\x9d ÉTÉ"), (std::vector<std::string>{"quoted", "été"}));
  TfidfOptions options;
  options.ngram_max = 2;
  options.stop_words = {"the"};
  EXPECT_EQ(document_terms("the cat the hat", options), (std::vector<std::string>{"cat", "hat", "cat hat"}));
}

TEST(Tokenizer, AnalyzersAndAccentsFollowScikitLearn) {
  TfidfOptions options;
  options.strip_accents = StripAccents::Unicode;
  EXPECT_EQ(document_terms("Café NAÏVE ﬁne", options), (std::vector<std::string>{"cafe", "naive", "fine"}));
  options.strip_accents = StripAccents::Ascii;
  EXPECT_EQ(document_terms("Café Ærø мир", options), (std::vector<std::string>{"cafe"}));
  options = {};
  options.analyzer = Analyzer::Char;
  options.ngram_min = 2;
  options.ngram_max = 3;
  EXPECT_EQ(document_terms("Ab  c", options), (std::vector<std::string>{"ab", "b ", " c", "ab ", "b c"}));
  options.analyzer = Analyzer::CharWb;
  EXPECT_EQ(document_terms("ab c", options),
            (std::vector<std::string>{" a", "ab", "b ", " ab", "ab ", " c", "c ", " c "}));
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
