#pragma once
// Parallel TF-IDF: documents split over the ranks, terms owned by ranks by hash, scikit-learn's
// TfidfVectorizer weights (smooth idf, l2 norm) so that the two can be compared.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lloyd/comm.hpp"
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
};

/// Collective over comm: reads a corpus. A regular file holds one document per line ('\n'
/// ends a line; a last line without it counts; a final '\n' does not start an empty one);
/// each rank reads one byte range of it, moved to line starts, so no rank reads it all. A
/// directory holds one document per regular file (recursively, sorted by relative path; the
/// files are split in blocks of consecutive paths). Errors (missing, unreadable, no
/// documents, not UTF-8 — naming the file and the byte offset) are AgreedError.
Corpus read_corpus(const Comm& comm, const std::string& path);

/// Document-frequency bound: a count of documents, or a fraction of them.
struct DocumentBound {
  double value = 1;
  bool fraction = false;
  /// The bound in documents for a corpus of n (scikit-learn: an int is a count, a float a
  /// fraction of n).
  double documents(std::uint64_t n) const { return fraction ? value * static_cast<double>(n) : value; }
};

struct TfidfOptions {
  DocumentBound min_df{1, false};  ///< keep terms in ≥ this many documents
  DocumentBound max_df{1, true};   ///< ... and in ≤ this many
  std::int64_t max_features = 0;   ///< keep the most frequent (total count) terms; 0: all
  std::vector<std::string> stop_words;  ///< removed before n-grams are formed
  int ngram = 1;                   ///< 1: words; 2: words and pairs of consecutive words
  bool sublinear_tf = false;       ///< tf = 1 + ln(count)
};

/// scikit-learn's list of English stop words.
const std::vector<std::string>& english_stop_words();

/// The byte offset of the first invalid UTF-8 sequence in `text` (RFC 3629: overlong forms,
/// surrogates, code points above U+10FFFF and truncated sequences are invalid), or
/// std::nullopt when it is all valid UTF-8.
std::optional<std::size_t> first_invalid_utf8(std::string_view text);

/// scikit-learn's default analyzer: lower-cased, tokens are maximal runs of two or more word
/// characters (`(?u)\b\w\w+\b`). Word characters: ASCII letters, digits and '_', and every
/// non-ASCII UTF-8 character except the Latin-1 and general punctuation and symbol blocks;
/// lower-casing covers ASCII and Latin-1 letters.
std::vector<std::string> tokenize(std::string_view text);

/// The terms of one document: tokens less stop words, then (ngram 2) each pair of
/// consecutive remaining tokens joined by a space.
std::vector<std::string> document_terms(std::string_view text, const TfidfOptions& options);

/// Columns are ordered by a hash bucket of the term, then alphabetically within the bucket:
/// buckets are owned by ranks in blocks, so each rank owns a contiguous range of columns,
/// and the order does not depend on the number of ranks.
constexpr std::uint64_t kTermBuckets = 4096;
std::uint64_t term_bucket(std::string_view term);

template <class T>
struct TfidfResult {
  CsrShard<T> matrix;                  ///< this rank's documents (rows), L2-normalised
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
/// idf = ln((1 + n) / (1 + df)) + 1; row weights tf × idf, L2-normalised. `progress` (may
/// be empty) gets a line per phase on every rank.
template <class T>
TfidfResult<T> tfidf(const Comm& comm, const Corpus& corpus, const TfidfOptions& options,
                     const std::function<void(const std::string&)>& progress = {});

}  // namespace lloyd
