#pragma once
// Parallel TF-IDF: documents split over the ranks, terms owned by ranks by hash, scikit-learn's
// TfidfVectorizer (its analyzers, options and weights) so that the two can be compared; text
// handling (lower-casing, accents, word and space characters) from ICU, as Python's str does.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// This rank's documents of a corpus, in corpus order: documents [first, first + texts.size())
/// of `total`.
struct Corpus {
  std::vector<std::string> texts;
  std::vector<std::string> names;  ///< this rank's file names (relative paths) of a directory corpus
  std::uint64_t first = 0, total = 0;
  /// A directory corpus (the same on every rank; a rank may hold none of its files).
  bool from_directory = false;
  /// Files of a directory corpus skipped as binary (a NUL byte or invalid UTF-8), over all
  /// ranks.
  std::uint64_t skipped_binary = 0;
};

/// Which files of a directory corpus are documents: globs (fnmatch(3) without flags, so '*'
/// also matches '/') on the path relative to the directory. With `include` given, a file
/// must match one of them; it must match none of `exclude`.
struct FileFilter {
  std::vector<std::string> include, exclude;
  bool accepts(const std::string& relative_path) const;
};

/// Whether a file's bytes are not a text document: a NUL byte or invalid UTF-8.
bool looks_binary(std::string_view bytes);

/// Collective over comm: reads a corpus. A regular file holds one document per line ('\n'
/// ends a line; a last line without it counts; a final '\n' does not start an empty one);
/// each rank reads one byte range of it, moved to line starts, so no rank reads it all. A
/// directory holds one document per regular file that `filter` accepts (recursively, sorted
/// by relative path, named by it — a symbolic link by its own name, not its target's; the
/// files are split in blocks of consecutive paths); binary files are skipped and counted.
/// Errors (missing, unreadable, no documents, a file corpus not UTF-8 — naming the file and
/// the byte offset) are AgreedError.
Corpus read_corpus(const Comm& comm, const std::string& path, const FileFilter& filter = {});

/// Document-frequency bound: a count of documents, or a fraction of them.
struct DocumentBound {
  double value = 1;
  bool fraction = false;
  /// The bound in documents for a corpus of n (scikit-learn: an int is a count, a float a
  /// fraction of n).
  double documents(std::uint64_t n) const { return fraction ? value * static_cast<double>(n) : value; }
};

/// scikit-learn's analyzers: word n-grams of the tokens, character n-grams of the text, or
/// character n-grams of each whitespace-separated word padded with one space on each side.
enum class Analyzer { Word, Char, CharWb };
enum class Norm { None, L1, L2 };
/// NFKD, then drop combining characters (Unicode) or everything not ASCII (Ascii).
enum class StripAccents { None, Unicode, Ascii };

/// scikit-learn's TfidfVectorizer parameters of the same names. The fit stores the ones that
/// shape a row (everything below max_features) in its output, and a transform reuses them.
struct TfidfOptions {
  DocumentBound min_df{1, false};  ///< keep terms in ≥ this many documents
  DocumentBound max_df{1, true};   ///< ... and in ≤ this many
  std::int64_t max_features = 0;   ///< keep the most frequent (total count) terms; 0: all
  std::vector<std::string> stop_words;  ///< word analyzer: removed before n-grams are formed (document_terms: sorted)
  Analyzer analyzer = Analyzer::Word;
  int ngram_min = 1, ngram_max = 1;  ///< ngram_range: n-grams of ngram_min..ngram_max tokens (characters)
  bool lowercase = true;
  StripAccents strip_accents = StripAccents::None;
  bool binary = false;             ///< tf = 1 for every term present
  bool sublinear_tf = false;       ///< tf = 1 + ln(count)
  bool use_idf = true;             ///< false: weights tf (idf 1)
  bool smooth_idf = true;          ///< idf = ln((1 + n) / (1 + df)) + 1; false: ln(n / df) + 1
  Norm norm = Norm::L2;
};

const char* analyzer_name(Analyzer analyzer);
const char* norm_name(Norm norm);
const char* strip_accents_name(StripAccents strip);
/// The inverses of the names above; std::nullopt for another name.
std::optional<Analyzer> parse_analyzer(std::string_view name);
std::optional<Norm> parse_norm(std::string_view name);
std::optional<StripAccents> parse_strip_accents(std::string_view name);

/// scikit-learn's list of English stop words.
const std::vector<std::string>& english_stop_words();

/// The byte offset of the first invalid UTF-8 sequence in `text` (RFC 3629: overlong forms,
/// surrogates, code points above U+10FFFF and truncated sequences are invalid), or
/// std::nullopt when it is all valid UTF-8.
std::optional<std::size_t> first_invalid_utf8(std::string_view text);

/// Python's character classes (Unicode 15 here through ICU; Python 3.11 has Unicode 14):
/// `\w` of re is str.isalnum() or '_' (general categories L*, and every character with a
/// numeric type — Nd, Nl, No, and CJK numerals); `\s` is str.isspace() (bidirectional class
/// WS, B or S, or category Zs). Combining marks (Mn, Mc) are not word characters.
bool is_word_character(char32_t c);
bool is_space_character(char32_t c);

/// scikit-learn's preprocessing: str.lower() (full case mapping: 'İ' becomes "i̇", a final
/// 'Σ' 'ς') when `lowercase`, then strip_accents_unicode / strip_accents_ascii. Invalid UTF-8
/// sequences become U+FFFD first, so that every term is valid UTF-8.
std::string preprocess(std::string_view text, const TfidfOptions& options);

/// scikit-learn's default analyzer: lower-cased, tokens are maximal runs of two or more word
/// characters (`(?u)\b\w\w+\b`).
std::vector<std::string> tokenize(std::string_view text);

/// The terms of one document (scikit-learn's build_analyzer()): preprocess, then for words
/// the tokens less stop words and their n-grams (joined by one space); for characters the
/// n-grams of the text with runs of whitespace made one space (char), or of each word
/// padded with a space on each side (char_wb).
std::vector<std::string> document_terms(std::string_view text, const TfidfOptions& options);

/// Columns are ordered by a hash bucket of the term, then alphabetically within the bucket:
/// buckets are owned by ranks in blocks, so each rank owns a contiguous range of columns,
/// and the order does not depend on the number of ranks.
constexpr std::uint64_t kTermBuckets = 4096;
std::uint64_t term_bucket(std::string_view term);

template <class T>
struct TfidfResult {
  CsrShard<T> matrix;                  ///< this rank's documents (rows), normalised by options.norm
  std::vector<std::string> terms;      ///< this rank's columns [first_column, + terms.size())
  std::vector<double> idf;             ///< of those columns
  std::vector<std::int64_t> document_frequency;
  std::uint64_t first_column = 0;
  std::uint64_t columns = 0;           ///< vocabulary size
};

/// Collective over comm: the TF-IDF matrix of a corpus. Each rank tokenizes its documents
/// and sends each distinct term with its local document count and total count to the
/// term's owner (MPI_Alltoallv); owners add them up, apply min_df/max_df, then the
/// max_features limit (a global threshold on the total count found by bisection, ties by
/// term), number their terms, and answer each rank with the column and idf of every term it
/// asked about (a second MPI_Alltoallv). No rank holds the corpus or the whole vocabulary.
/// idf = ln((1 + n) / (1 + df)) + 1 (smooth_idf; 1 without use_idf); row weights tf × idf,
/// normalised. `progress` (may be empty) gets a line per phase on every rank.
template <class T>
TfidfResult<T> tfidf(const Comm& comm, const Corpus& corpus, const TfidfOptions& options,
                     const std::function<void(const std::string&)>& progress = {});

/// The options a fitted TF-IDF file (tfidf's output) was made with, from its root attributes
/// and its /stop_words; an attribute an older file lacks has the value tfidf used then
/// (its defaults; its `ngram` N meant n-grams 1..N). Not collective; a file that is not a
/// vocabulary or holds an unknown option value is an Error naming it.
TfidfOptions read_fitted_options(const std::string& vocabulary_file);

/// Collective over comm: writes a TF-IDF result into `file`: the CSR group /X, /vocabulary,
/// /idf and /document_frequency (each rank its rows and its slice of the columns), the stop
/// words as /stop_words, and the root attributes of the options that shape a row, which
/// read_fitted_options reads back (analyzer, ngram_min, ngram_max, lowercase, strip_accents,
/// binary, sublinear_tf, use_idf, smooth_idf, norm), with `weights` and `column_order`.
template <class T>
void write_tfidf(const Comm& comm, OutputFile& file, const TfidfResult<T>& result, const TfidfOptions& options);

/// Collective over comm: scikit-learn's TfidfVectorizer.transform — the TF-IDF rows of new
/// documents in the columns of a fitted vocabulary file (read_fitted_options gives `options`):
/// terms outside the vocabulary are dropped, the fitted idf is applied. Each rank sends its
/// documents' distinct terms to the term's owner (the same hash buckets as the fit); the
/// owner reads only its own slice of /vocabulary and /idf — the columns of its buckets,
/// found by bisection — and answers with column and idf. The result's terms, idf and
/// document_frequency are that slice. Errors (not a vocabulary written by tfidf, columns not
/// in bucket order) are AgreedError.
template <class T>
TfidfResult<T> tfidf_transform(const Comm& comm, const Corpus& corpus, const std::string& vocabulary_file,
                               const TfidfOptions& options,
                               const std::function<void(const std::string&)>& progress = {});

/// The columns of a fitted vocabulary that one rank owns (the terms of its hash buckets):
/// columns [first, first + terms.size()) of `columns`, with their idf and document frequency.
struct VocabularySlice {
  std::uint64_t first = 0, columns = 0;
  std::vector<std::string> terms;
  std::vector<double> idf;
  std::vector<std::int64_t> document_frequency;
};

/// This rank's slice of a whole fitted vocabulary held in memory (every column of a fit, in
/// its order): the columns of the rank's buckets. Not collective; an Error starting with
/// `what` when the terms are not in lloyd's column order, an idf is not a positive number or
/// the lengths differ.
VocabularySlice owned_vocabulary(const Comm& comm, std::vector<std::string> terms, std::vector<double> idf,
                                 std::vector<std::int64_t> document_frequency, const std::string& what);

/// Collective over comm: tfidf_transform with this rank's slice of the vocabulary given
/// (owned_vocabulary) instead of read from a file — the same rows.
template <class T>
TfidfResult<T> tfidf_transform(const Comm& comm, const Corpus& corpus, VocabularySlice slice,
                               const TfidfOptions& options,
                               const std::function<void(const std::string&)>& progress = {});

}  // namespace lloyd
