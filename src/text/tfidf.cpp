#include "lloyd/text/tfidf.hpp"
#include "lloyd/io/text_lines.hpp"

#include <fnmatch.h>
#include <unicode/bytestream.h>
#include <unicode/casemap.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <climits>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <unordered_map>

#include "lloyd/io/csr.hpp"

namespace lloyd {

namespace {

// ------------------------------------------------------------------ characters (ICU)

// The code point at text[pos], moving pos past it; an invalid sequence (ICU's U8_NEXT: RFC
// 3629 — no overlong forms, surrogates, values above U+10FFFF or truncated sequences) is a
// negative value and pos moves past its maximal invalid part. U8_NEXT counts in int32_t, so
// it sees a window of at most one sequence (4 bytes) and documents may exceed 2 GiB.
UChar32 next_code_point(std::string_view text, std::size_t& pos) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(text.data()) + pos;
  const auto window = static_cast<std::int32_t>(std::min<std::size_t>(4, text.size() - pos));
  std::int32_t used = 0;
  UChar32 c = 0;
  U8_NEXT(bytes, used, window, c);
  pos += static_cast<std::size_t>(used);
  return c;
}

void append_utf8(std::string& out, UChar32 c) {
  char bytes[U8_MAX_LENGTH];
  std::int32_t length = 0;
  U8_APPEND_UNSAFE(bytes, length, c);
  out.append(bytes, static_cast<std::size_t>(length));
}

void check_icu(UErrorCode status, const char* what) {
  if (U_FAILURE(status)) throw Error(std::string("ICU ") + what + " failed: " + u_errorName(status));
}

icu::StringPiece piece(std::string_view text) {
  if (text.size() > static_cast<std::size_t>(INT32_MAX))
    throw Error("a document of " + std::to_string(text.size() >> 20) + " MB: ICU handles at most 2 GB at once");
  return {text.data(), static_cast<std::int32_t>(text.size())};
}

// Python's str.lower(): the full, locale-independent case mapping (ICU's root locale).
std::string lower_case(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  icu::StringByteSink<std::string> sink(&out);
  UErrorCode status = U_ZERO_ERROR;
  icu::CaseMap::utf8ToLower("", 0, piece(text), sink, nullptr, status);
  check_icu(status, "lower-casing");
  return out;
}

std::string nfkd(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = icu::Normalizer2::getNFKDInstance(status);
  check_icu(status, "NFKD normaliser");
  std::string out;
  icu::StringByteSink<std::string> sink(&out);
  normalizer->normalizeUTF8(0, piece(text), sink, nullptr, status);
  check_icu(status, "NFKD normalisation");
  return out;
}

// scikit-learn's strip_accents_unicode (NFKD, then no combining characters; ASCII text is
// left as it is) and strip_accents_ascii (NFKD, then ASCII characters only).
std::string strip_accents(std::string_view text, StripAccents how) {
  if (std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
    return std::string(text);
  const std::string decomposed = nfkd(text);
  std::string out;
  out.reserve(decomposed.size());
  for (std::size_t pos = 0; pos < decomposed.size();) {
    const UChar32 c = next_code_point(decomposed, pos);
    const bool keep = how == StripAccents::Ascii ? c < 0x80 : u_getCombiningClass(c) == 0;
    if (keep) append_utf8(out, c);
  }
  return out;
}

// The offsets of the code points of valid UTF-8 `text`, and its size at the end.
std::vector<std::size_t> code_point_offsets(std::string_view text) {
  std::vector<std::size_t> offsets;
  offsets.reserve(text.size() + 1);
  for (std::size_t pos = 0; pos < text.size();) {
    offsets.push_back(pos);
    next_code_point(text, pos);
  }
  offsets.push_back(text.size());
  return offsets;
}

// scikit-learn's _white_spaces.sub(" ", text): a run of two or more whitespace characters
// becomes one space (a single one stays as it is).
std::string collapse_whitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t start = pos;
    const UChar32 c = next_code_point(text, pos);
    if (!is_space_character(static_cast<char32_t>(c))) {
      out.append(text.substr(start, pos - start));
      continue;
    }
    std::size_t end = pos, runs = 1;
    for (std::size_t next = end; next < text.size();) {
      if (!is_space_character(static_cast<char32_t>(next_code_point(text, next)))) break;
      end = next;
      ++runs;
    }
    if (runs >= 2) out += ' ';
    else out.append(text.substr(start, end - start));
    pos = end;
  }
  return out;
}

// scikit-learn's _word_ngrams (stop words already removed).
std::vector<std::string> word_ngrams(std::vector<std::string> tokens, int min_n, int max_n) {
  if (max_n == 1) return tokens;
  std::vector<std::string> terms;
  if (min_n == 1) {
    terms = tokens;
    min_n = 2;
  }
  const auto count = static_cast<int>(tokens.size());
  for (int n = min_n; n <= std::min(max_n, count); ++n)
    for (int i = 0; i + n <= count; ++i) {
      std::string gram = tokens[static_cast<std::size_t>(i)];
      for (int j = 1; j < n; ++j) (gram += ' ') += tokens[static_cast<std::size_t>(i + j)];
      terms.push_back(std::move(gram));
    }
  return terms;
}

// scikit-learn's _char_ngrams: n-grams of code points of the whitespace-collapsed text.
void char_ngrams(std::string_view text, int min_n, int max_n, std::vector<std::string>& terms) {
  const std::vector<std::size_t> at = code_point_offsets(text);
  const auto length = static_cast<int>(at.size()) - 1;
  for (int n = min_n; n <= std::min(max_n, length); ++n)
    for (int i = 0; i + n <= length; ++i)
      terms.emplace_back(text.substr(at[static_cast<std::size_t>(i)], at[static_cast<std::size_t>(i + n)] - at[static_cast<std::size_t>(i)]));
}

// scikit-learn's _char_wb_ngrams: for each word (str.split()), padded " word ", its n-grams
// for n = min_n..max_n; a padded word no longer than n counts once, as a whole.
void char_wb_ngrams(std::string_view text, int min_n, int max_n, std::vector<std::string>& terms) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t start = pos;
    if (is_space_character(static_cast<char32_t>(next_code_point(text, pos)))) continue;
    std::size_t end = pos;
    for (std::size_t next = end; next < text.size();) {
      if (is_space_character(static_cast<char32_t>(next_code_point(text, next)))) break;
      end = next;
    }
    pos = end;
    const std::string padded = " " + std::string(text.substr(start, end - start)) + " ";
    const std::vector<std::size_t> at = code_point_offsets(padded);
    const auto length = static_cast<int>(at.size()) - 1;
    for (int n = min_n; n <= max_n; ++n) {
      int offset = 0;
      auto gram = [&](int from) {
        const auto begin = at[static_cast<std::size_t>(from)];
        const auto stop = at[static_cast<std::size_t>(std::min(from + n, length))];
        terms.emplace_back(padded.substr(begin, stop - begin));
      };
      gram(offset);
      while (offset + n < length) gram(++offset);
      if (offset == 0) break;  // a short word (length <= n) only once
    }
  }
}

// Maximal runs of two or more word characters of valid UTF-8 `text` (`(?u)\b\w\w+\b`).
std::vector<std::string> word_tokens(std::string_view text) {
  std::vector<std::string> tokens;
  std::size_t start = 0, characters = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t before = pos;
    const UChar32 c = next_code_point(text, pos);
    if (is_word_character(static_cast<char32_t>(c))) {
      if (characters++ == 0) start = before;
      continue;
    }
    if (characters >= 2) tokens.emplace_back(text.substr(start, before - start));
    characters = 0;
  }
  if (characters >= 2) tokens.emplace_back(text.substr(start));
  return tokens;
}

// ------------------------------------------------------------------ messages

// Byte packing for the term exchanges.
struct Packer {
  std::vector<char>& out;
  template <class V>
  void put(const V& value) {
    const auto* bytes = reinterpret_cast<const char*>(&value);
    out.insert(out.end(), bytes, bytes + sizeof(V));
  }
  void put_string(const std::string& text) {
    put(static_cast<std::uint32_t>(text.size()));
    out.insert(out.end(), text.begin(), text.end());
  }
};

struct Unpacker {
  const char* at;
  template <class V>
  V get() {
    V value;
    std::memcpy(&value, at, sizeof(V));
    at += sizeof(V);
    return value;
  }
  std::string get_string() {
    const auto length = get<std::uint32_t>();
    std::string text(at, length);
    at += length;
    return text;
  }
};

// Collective over comm: outgoing[r] goes to rank r; returns what the ranks sent here,
// concatenated in rank order, and where each rank's part starts (size + 1 entries).
std::vector<char> exchange(const Comm& comm, const std::vector<std::vector<char>>& outgoing,
                           std::vector<std::size_t>& starts) {
  const auto p = static_cast<std::size_t>(comm.size());
  std::vector<int> send_counts(p), send_offsets(p), receive_counts(p), receive_offsets(p);
  std::size_t total_send = 0;
  for (const auto& part : outgoing) total_send += part.size();
  run_agreed(comm, [&] {
    if (total_send > static_cast<std::size_t>(INT_MAX))
      throw Error("a term exchange of " + std::to_string(total_send >> 20) +
                  " MB from one rank exceeds MPI's 2 GB message limit; use more ranks");
  });
  std::vector<char> send;
  send.reserve(total_send);
  for (std::size_t r = 0; r < p; ++r) {
    send_offsets[r] = static_cast<int>(send.size());
    send_counts[r] = static_cast<int>(outgoing[r].size());
    send.insert(send.end(), outgoing[r].begin(), outgoing[r].end());
  }
  check_mpi(MPI_Alltoall(send_counts.data(), 1, MPI_INT, receive_counts.data(), 1, MPI_INT, comm.get()),
            "MPI_Alltoall");
  std::size_t total = 0;
  starts.assign(p + 1, 0);
  for (std::size_t r = 0; r < p; ++r) {
    starts[r] = total;
    total += static_cast<std::size_t>(receive_counts[r]);
  }
  starts[p] = total;
  run_agreed(comm, [&] {
    if (total > static_cast<std::size_t>(INT_MAX))
      throw Error("a term exchange of " + std::to_string(total >> 20) +
                  " MB to one rank exceeds MPI's 2 GB message limit; use more ranks");
  });
  for (std::size_t r = 0; r < p; ++r) receive_offsets[r] = static_cast<int>(starts[r]);
  std::vector<char> received(std::max<std::size_t>(total, 1));
  check_mpi(MPI_Alltoallv(send.data(), send_counts.data(), send_offsets.data(), MPI_CHAR, received.data(),
                          receive_counts.data(), receive_offsets.data(), MPI_CHAR, comm.get()),
            "MPI_Alltoallv");
  return received;
}

// A term held by its owner: global counts and, when kept, its column.
struct OwnedTerm {
  std::string term;
  std::uint64_t bucket = 0;
  std::int64_t df = 0, total_count = 0;
  bool kept = false;
  std::int64_t column = -1;
  double idf = 0;
};

// Collective over comm: applies max_features to the kept terms (global rule: the largest
// total counts; ties by term, alphabetically — scikit-learn's stable order on its
// alphabetical vocabulary).
void limit_features(const Comm& comm, std::vector<OwnedTerm>& owned, std::int64_t limit) {
  auto count_at_least = [&](std::int64_t threshold) {
    std::int64_t count = 0;
    for (const auto& t : owned) count += t.kept && t.total_count >= threshold;
    return comm.allreduce(count, MPI_SUM);
  };
  if (limit <= 0 || count_at_least(1) <= limit) return;
  std::int64_t largest = 0;
  for (const auto& t : owned)
    if (t.kept) largest = std::max(largest, t.total_count);
  largest = comm.allreduce(largest, MPI_MAX);
  // The largest threshold that still keeps at least `limit` terms.
  std::int64_t lo = 1, hi = largest;
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo + 1) / 2;
    if (count_at_least(mid) >= limit) lo = mid;
    else hi = mid - 1;
  }
  const std::int64_t needed = limit - count_at_least(lo + 1);  // from the terms tied at lo
  std::vector<std::string> tied;
  for (const auto& t : owned)
    if (t.kept && t.total_count == lo) tied.push_back(t.term);
  std::sort(tied.begin(), tied.end());
  if (static_cast<std::int64_t>(tied.size()) > needed) tied.resize(static_cast<std::size_t>(needed));
  std::vector<char> packed;
  for (const auto& term : tied) packed.insert(packed.end(), term.c_str(), term.c_str() + term.size() + 1);
  const std::vector<char> all = comm.allgatherv(std::span<const char>(packed));
  std::vector<std::string> candidates;
  for (std::size_t at = 0; at < all.size(); at += candidates.back().size() + 1) candidates.emplace_back(all.data() + at);
  std::sort(candidates.begin(), candidates.end());
  const std::string& cutoff = candidates[static_cast<std::size_t>(needed - 1)];
  for (auto& t : owned)
    if (t.kept) t.kept = t.total_count > lo || (t.total_count == lo && t.term <= cutoff);
}

// The refusal of a corpus that is not UTF-8 text (a binary file, another encoding): the
// vocabulary is stored as UTF-8, so such bytes cannot become terms.
std::string not_utf8(const std::string& what, std::uint64_t offset) {
  return what + " is not UTF-8 text: invalid byte sequence at byte offset " + std::to_string(offset) +
         " (convert it, e.g. with iconv, or remove it from the corpus)";
}

// ------------------------------------------------------------------ the shared steps of fit and transform

// This rank's documents as term ids: every distinct term once, with its document count and
// total count here; each document as (term id, count) entries.
struct LocalTerms {
  std::vector<std::string> terms;
  std::vector<std::int64_t> df, count;
  std::vector<std::pair<std::int32_t, std::int32_t>> entries;
  std::vector<std::size_t> document_start{0};
};

LocalTerms count_terms(const Corpus& corpus, const TfidfOptions& options) {
  LocalTerms local;
  std::unordered_map<std::string, std::int32_t> ids;
  std::vector<std::int32_t> document;
  for (const std::string& text : corpus.texts) {
    document.clear();
    for (std::string& term : document_terms(text, options)) {
      auto [it, added] = ids.try_emplace(std::move(term), static_cast<std::int32_t>(local.terms.size()));
      if (added) {
        local.terms.push_back(it->first);
        local.df.push_back(0);
        local.count.push_back(0);
      }
      document.push_back(it->second);
    }
    std::sort(document.begin(), document.end());
    for (std::size_t i = 0; i < document.size();) {
      std::size_t j = i;
      while (j < document.size() && document[j] == document[i]) ++j;
      local.entries.emplace_back(document[i], static_cast<std::int32_t>(j - i));
      ++local.df[static_cast<std::size_t>(document[i])];
      local.count[static_cast<std::size_t>(document[i])] += static_cast<std::int64_t>(j - i);
      i = j;
    }
    local.document_start.push_back(local.entries.size());
  }
  return local;
}

// Every rank's distinct terms at their owners (the rank of the term's hash bucket).
struct TermRequests {
  std::vector<char> received;                     ///< (term, df, count) records, by sending rank
  std::vector<std::size_t> starts;                ///< where each sending rank's records start
  std::vector<std::vector<std::int32_t>> asked;   ///< this rank's term ids sent to each owner, in order
};

// Collective over comm: sends every distinct local term with its counts to its owner; the
// local term strings are released.
TermRequests send_terms_to_owners(const Comm& comm, LocalTerms& local) {
  const auto p = static_cast<std::size_t>(comm.size());
  std::vector<std::vector<char>> outgoing(p);
  TermRequests requests;
  requests.asked.resize(p);
  for (std::size_t id = 0; id < local.terms.size(); ++id) {
    const auto owner = static_cast<std::size_t>(owner_of_row(kTermBuckets, comm.size(), term_bucket(local.terms[id])));
    Packer pack{outgoing[owner]};
    pack.put_string(local.terms[id]);
    pack.put(local.df[id]);
    pack.put(local.count[id]);
    requests.asked[owner].push_back(static_cast<std::int32_t>(id));
  }
  local.terms = {};
  requests.received = exchange(comm, outgoing, requests.starts);
  return requests;
}

// Calls visit(rank, term, df, count) for every request received, by rank, in the order sent.
template <class Visit>
void for_each_request(const TermRequests& requests, Visit&& visit) {
  for (std::size_t r = 0; r + 1 < requests.starts.size(); ++r) {
    Unpacker unpack{requests.received.data() + requests.starts[r]};
    while (unpack.at < requests.received.data() + requests.starts[r + 1]) {
      std::string term = unpack.get_string();
      const auto df = unpack.get<std::int64_t>(), count = unpack.get<std::int64_t>();
      visit(r, std::move(term), df, count);
    }
  }
}

// An owner's answer about one term: its column (-1: not in the vocabulary) and idf.
struct TermAnswer {
  std::int64_t column = -1;
  double idf = 0;
};

// Collective over comm: answers[r] (for the requests of rank r, in their order) go back; the
// answer for each local term id.
std::vector<TermAnswer> return_answers(const Comm& comm, const std::vector<std::vector<TermAnswer>>& answers,
                                       const TermRequests& requests, std::size_t local_terms) {
  const auto p = static_cast<std::size_t>(comm.size());
  std::vector<std::vector<char>> outgoing(p);
  for (std::size_t r = 0; r < p; ++r) {
    Packer pack{outgoing[r]};
    for (const TermAnswer& answer : answers[r]) {
      pack.put(answer.column);
      pack.put(answer.idf);
    }
  }
  std::vector<std::size_t> starts;
  const std::vector<char> received = exchange(comm, outgoing, starts);
  std::vector<TermAnswer> of_local(local_terms);
  for (std::size_t r = 0; r < p; ++r) {
    Unpacker unpack{received.data() + starts[r]};
    for (const std::int32_t id : requests.asked[r]) {
      of_local[static_cast<std::size_t>(id)].column = unpack.get<std::int64_t>();
      of_local[static_cast<std::size_t>(id)].idf = unpack.get<double>();
    }
  }
  return of_local;
}

// The rows: tf × idf over the terms that have a column, sorted by column, normalised.
template <class T>
CsrShard<T> weigh_rows(const LocalTerms& local, const std::vector<TermAnswer>& answers, const TfidfOptions& options,
                       std::uint64_t first_row, std::uint64_t rows, std::uint64_t columns) {
  CsrShard<T> matrix;
  matrix.global_rows = rows;
  matrix.first_row = first_row;
  matrix.columns = columns;
  std::vector<std::pair<std::int64_t, double>> row;
  for (std::size_t d = 0; d + 1 < local.document_start.size(); ++d) {
    row.clear();
    for (std::size_t e = local.document_start[d]; e < local.document_start[d + 1]; ++e) {
      const TermAnswer& answer = answers[static_cast<std::size_t>(local.entries[e].first)];
      if (answer.column < 0) continue;
      double tf = options.binary ? 1.0 : static_cast<double>(local.entries[e].second);
      if (options.sublinear_tf) tf = 1.0 + std::log(tf);
      row.emplace_back(answer.column, options.use_idf ? tf * answer.idf : tf);
    }
    std::sort(row.begin(), row.end());
    double norm = 0;
    for (const auto& [column, weight] : row) norm += options.norm == Norm::L1 ? std::abs(weight) : weight * weight;
    if (options.norm == Norm::L2) norm = std::sqrt(norm);
    for (const auto& [column, weight] : row) {
      matrix.indices.push_back(static_cast<std::int32_t>(column));
      matrix.values.push_back(static_cast<T>(options.norm == Norm::None || norm == 0 ? weight : weight / norm));
    }
    matrix.indptr.push_back(static_cast<std::int64_t>(matrix.values.size()));
  }
  return matrix;
}

TfidfOptions with_sorted_stop_words(TfidfOptions options) {
  std::sort(options.stop_words.begin(), options.stop_words.end());
  return options;
}

// How the columns of a vocabulary file are ordered (its attribute column_order): a transform
// relies on it to find the columns of a rank's buckets.
const char* const kColumnOrder = "FNV-1a hash bucket of the term (mod 4096), then the term";

// A 1-D numeric dataset's values [first, first + count), read by this rank alone.
template <class V>
std::vector<V> read_range(hid_t file, const std::string& file_name, const std::string& name, std::uint64_t first,
                          std::uint64_t count, std::uint64_t expected_length) {
  using h5::checked;
  using h5::checked_status;
  if (!h5::path_exists(file, name)) throw Error("vocabulary '" + file_name + "' has no dataset " + name);
  Hid dataset(checked(H5Dopen2(file, name.c_str(), H5P_DEFAULT), "open " + name), H5Dclose);
  Hid space(checked(H5Dget_space(dataset.get()), "H5Dget_space"), H5Sclose);
  hsize_t length = 0;
  if (H5Sget_simple_extent_ndims(space.get()) != 1 || (H5Sget_simple_extent_dims(space.get(), &length, nullptr), length) != expected_length)
    throw Error("vocabulary '" + file_name + "': " + name + " is not a 1-D dataset of " +
                std::to_string(expected_length) + " values (one per term of /vocabulary)");
  std::vector<V> values(count);
  if (count == 0) return values;
  const hsize_t start = first, size = count;
  checked_status(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, &start, nullptr, &size, nullptr), "select " + name);
  Hid memory(checked(H5Screate_simple(1, &size, nullptr), "H5Screate_simple"), H5Sclose);
  checked_status(H5Dread(dataset.get(), h5::native_type<V>(), memory.get(), space.get(), H5P_DEFAULT, values.data()),
                 "read " + name + " of '" + file_name + "'");
  return values;
}

// A slice's terms in lloyd's column order, each in `buckets`, with a positive idf: what a
// transform relies on to find a term's column (`what` names the vocabulary in the message).
void check_vocabulary_slice(const VocabularySlice& slice, const RowRange& buckets, const std::string& what) {
  for (std::size_t i = 0; i < slice.terms.size(); ++i) {
    const std::uint64_t bucket = term_bucket(slice.terms[i]);
    if (bucket < buckets.begin || bucket >= buckets.end ||
        (i > 0 && std::make_pair(term_bucket(slice.terms[i - 1]), slice.terms[i - 1]) >=
                      std::make_pair(bucket, slice.terms[i])))
      throw Error(what + ": /vocabulary is not in lloyd's column order at column " +
                  std::to_string(slice.first + i) + " ('" + slice.terms[i] + "')");
  }
  for (std::size_t i = 0; i < slice.idf.size(); ++i)
    if (!std::isfinite(slice.idf[i]) || slice.idf[i] <= 0)
      throw Error(what + ": /idf[" + std::to_string(slice.first + i) + "] is " + std::to_string(slice.idf[i]) +
                  ", not a positive number");
}

// The columns of this rank's buckets in a vocabulary file: found by bisection on the bucket
// of the terms (columns are in (bucket, term) order), so that the rank reads only its slice.
VocabularySlice read_vocabulary_slice(const Comm& comm, const std::string& file_name) {
  VocabularySlice slice;
  run_agreed(comm, [&] {
    Hid file = open_file(file_name, "vocabulary");
    const std::string order = read_attribute_string(file.get(), "column_order", "");
    if (order != kColumnOrder)
      throw Error("vocabulary '" + file_name + "' was not written by lloyd tfidf (its column_order attribute is '" +
                  order + "', expected '" + kColumnOrder + "')");
    const StringDataset vocabulary(file_name, "/vocabulary");
    slice.columns = vocabulary.size();
    const RowRange buckets = block_rows(kTermBuckets, comm.size(), comm.rank());
    auto first_column_of_bucket = [&](std::uint64_t bucket) {  // the first column whose bucket is >= bucket
      std::uint64_t lo = 0, hi = slice.columns;
      while (lo < hi) {
        const std::uint64_t mid = lo + (hi - lo) / 2;
        if (term_bucket(vocabulary.read(mid, 1).front()) < bucket) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    slice.first = first_column_of_bucket(buckets.begin);
    const std::uint64_t end = first_column_of_bucket(buckets.end);
    slice.terms = vocabulary.read(slice.first, end - slice.first);
    slice.idf = read_range<double>(file.get(), file_name, "/idf", slice.first, slice.terms.size(), slice.columns);
    slice.document_frequency = read_range<std::int64_t>(file.get(), file_name, "/document_frequency", slice.first,
                                                        slice.terms.size(), slice.columns);
    check_vocabulary_slice(slice, buckets, "vocabulary '" + file_name + "'");
  });
  return slice;
}

}  // namespace

bool is_word_character(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  const auto code = static_cast<UChar32>(c);
  return (U_GET_GC_MASK(code) & U_GC_L_MASK) != 0 || u_getIntPropertyValue(code, UCHAR_NUMERIC_TYPE) != U_NT_NONE;
}

bool is_space_character(char32_t c) {
  const auto code = static_cast<UChar32>(c);
  const UCharDirection direction = u_charDirection(code);
  return direction == U_WHITE_SPACE_NEUTRAL || direction == U_BLOCK_SEPARATOR || direction == U_SEGMENT_SEPARATOR ||
         u_charType(code) == U_SPACE_SEPARATOR;
}

std::string preprocess(std::string_view text, const TfidfOptions& options) {
  std::string valid;
  if (first_invalid_utf8(text)) {
    for (std::size_t pos = 0; pos < text.size();) {
      const UChar32 c = next_code_point(text, pos);
      append_utf8(valid, c < 0 ? 0xFFFD : c);
    }
    text = valid;
  }
  std::string out = options.lowercase ? lower_case(text) : std::string(text);
  if (options.strip_accents != StripAccents::None) out = strip_accents(out, options.strip_accents);
  return out;
}

std::optional<std::size_t> first_invalid_utf8(std::string_view text) {
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t start = pos;
    if (next_code_point(text, pos) < 0) return start;
  }
  return std::nullopt;
}

std::vector<std::string> tokenize(std::string_view text) { return word_tokens(preprocess(text, TfidfOptions{})); }

std::vector<std::string> document_terms(std::string_view text, const TfidfOptions& options) {
  const std::string processed = preprocess(text, options);
  std::vector<std::string> terms;
  switch (options.analyzer) {
    case Analyzer::Word: {
      std::vector<std::string> tokens = word_tokens(processed);
      if (!options.stop_words.empty())  // sorted (tfidf sorts its copy)
        std::erase_if(tokens, [&](const std::string& token) {
          return std::binary_search(options.stop_words.begin(), options.stop_words.end(), token);
        });
      return word_ngrams(std::move(tokens), options.ngram_min, options.ngram_max);
    }
    case Analyzer::Char:
      char_ngrams(collapse_whitespace(processed), options.ngram_min, options.ngram_max, terms);
      return terms;
    case Analyzer::CharWb:
      char_wb_ngrams(processed, options.ngram_min, options.ngram_max, terms);
      return terms;
  }
  return terms;
}

const char* analyzer_name(Analyzer analyzer) {
  return analyzer == Analyzer::Word ? "word" : analyzer == Analyzer::Char ? "char" : "char_wb";
}
const char* norm_name(Norm norm) { return norm == Norm::L1 ? "l1" : norm == Norm::L2 ? "l2" : "none"; }
const char* strip_accents_name(StripAccents strip) {
  return strip == StripAccents::Unicode ? "unicode" : strip == StripAccents::Ascii ? "ascii" : "none";
}
std::optional<Analyzer> parse_analyzer(std::string_view name) {
  for (const Analyzer a : {Analyzer::Word, Analyzer::Char, Analyzer::CharWb})
    if (name == analyzer_name(a)) return a;
  return std::nullopt;
}
std::optional<Norm> parse_norm(std::string_view name) {
  for (const Norm n : {Norm::None, Norm::L1, Norm::L2})
    if (name == norm_name(n)) return n;
  return std::nullopt;
}
std::optional<StripAccents> parse_strip_accents(std::string_view name) {
  for (const StripAccents s : {StripAccents::None, StripAccents::Unicode, StripAccents::Ascii})
    if (name == strip_accents_name(s)) return s;
  return std::nullopt;
}

std::uint64_t term_bucket(std::string_view term) {
  std::uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a: the same on every platform
  for (const char c : term) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ull;
  }
  return hash % kTermBuckets;
}

bool FileFilter::accepts(const std::string& relative_path) const {
  auto matches = [&](const std::string& glob) { return fnmatch(glob.c_str(), relative_path.c_str(), 0) == 0; };
  return (include.empty() || std::any_of(include.begin(), include.end(), matches)) &&
         std::none_of(exclude.begin(), exclude.end(), matches);
}

bool looks_binary(std::string_view bytes) {
  return bytes.find('\0') != std::string_view::npos || first_invalid_utf8(bytes).has_value();
}

Corpus read_corpus(const Comm& comm, const std::string& path, const FileFilter& filter) {
  Corpus corpus;
  std::error_code ec;
  run_agreed(comm, [&] {
    if (!std::filesystem::exists(path, ec)) throw Error("corpus '" + path + "' does not exist");
  });
  if (std::filesystem::is_directory(path, ec)) {
    // Named by the path under the directory as listed: std::filesystem::relative would
    // resolve a symbolic link to its target's name.
    const std::filesystem::path root = std::filesystem::path(path).lexically_normal();
    std::vector<std::string> files;
    std::uint64_t listed = 0;
    run_agreed(comm, [&] {
      for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        std::error_code type_ec;  // a dangling link is no document
        if (!it->is_regular_file(type_ec)) continue;
        ++listed;
        std::string relative = it->path().lexically_normal().lexically_relative(root).generic_string();
        if (filter.accepts(relative)) files.push_back(std::move(relative));
      }
      if (ec) throw Error("cannot list corpus directory '" + path + "': " + ec.message());
      if (listed == 0) throw Error("corpus directory '" + path + "' holds no files (no documents)");
      if (files.empty())
        throw Error("none of the " + std::to_string(listed) + " files of corpus directory '" + path +
                    "' passes --include/--exclude (no documents)");
    });
    std::sort(files.begin(), files.end());
    const RowRange mine = block_rows(files.size(), comm.size(), comm.rank());
    corpus.from_directory = true;
    std::uint64_t skipped = 0;
    run_agreed(comm, [&] {
      for (std::uint64_t f = mine.begin; f < mine.end; ++f) {
        const std::filesystem::path file = root / files[f];
        std::ifstream in(file, std::ios::binary);
        if (!in) throw Error("cannot read corpus file '" + file.string() + "': " + std::strerror(errno));
        std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        if (in.bad()) throw Error("cannot read corpus file '" + file.string() + "': " + std::strerror(errno));
        // scikit-learn would fail on such a file (decode_error="strict"); an input directory
        // often holds a stray binary file, so it is left out and counted instead.
        if (looks_binary(text)) {
          ++skipped;
          continue;
        }
        corpus.texts.push_back(std::move(text));
        corpus.names.push_back(files[f]);
      }
    });
    corpus.skipped_binary = comm.allreduce(skipped, MPI_SUM);
    if (corpus.skipped_binary == files.size())
      throw AgreedError("every file of corpus directory '" + path + "' (" + std::to_string(files.size()) +
                        ") is binary (a NUL byte or invalid UTF-8): no documents");
  } else {
    // One document per line. Rank r takes the lines that start in its byte range.
    std::uint64_t size = 0;
    run_agreed(comm, [&] {
      size = std::filesystem::file_size(path, ec);
      if (ec) throw Error("cannot read corpus '" + path + "': " + ec.message());
      if (size == 0) throw Error("corpus '" + path + "' is empty (no documents)");
    });
    const RowRange bytes = block_rows(size, comm.size(), comm.rank());
    run_agreed(comm, [&] {
      for_each_line_starting_in(path, bytes, "corpus", [&](std::string& line, std::uint64_t at) {
        if (const auto offset = first_invalid_utf8(line))
          throw Error(not_utf8("corpus '" + path + "'", at + *offset));
        corpus.texts.push_back(std::move(line));
      });
    });
  }
  const std::uint64_t local = corpus.texts.size();
  const std::vector<std::uint64_t> counts = comm.allgatherv(std::span<const std::uint64_t>(&local, 1));
  corpus.first = std::accumulate(counts.begin(), counts.begin() + comm.rank(), std::uint64_t{0});
  corpus.total = std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});
  return corpus;
}

template <class T>
TfidfResult<T> tfidf(const Comm& comm, const Corpus& corpus, const TfidfOptions& options,
                     const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  const int p = comm.size();

  // 1. Local terms; 2. every distinct term to its owner, with this rank's counts.
  LocalTerms local = count_terms(corpus, with_sorted_stop_words(options));
  say("tokenized " + std::to_string(corpus.texts.size()) + " documents, " + std::to_string(local.terms.size()) +
      " distinct terms on this rank");
  const std::size_t local_terms = local.terms.size();
  TermRequests requests = send_terms_to_owners(comm, local);

  // 3. The owner's global counts; which owned term each rank asked about, in its order.
  std::vector<OwnedTerm> owned;
  std::unordered_map<std::string, std::size_t> owned_index;
  std::vector<std::vector<std::size_t>> asked_by(static_cast<std::size_t>(p));
  for_each_request(requests, [&](std::size_t r, std::string&& term, std::int64_t df, std::int64_t count) {
    auto [it, added] = owned_index.try_emplace(std::move(term), owned.size());
    if (added) owned.push_back({it->first, term_bucket(it->first), 0, 0, false, -1, 0});
    owned[it->second].df += df;
    owned[it->second].total_count += count;
    asked_by[r].push_back(it->second);
  });
  requests.received = {};
  owned_index.clear();

  // 4. Document-frequency bounds, then max_features.
  const std::uint64_t n = corpus.total;
  const double min_documents = options.min_df.documents(n), max_documents = options.max_df.documents(n);
  if (max_documents < min_documents)
    throw AgreedError("--max-df corresponds to fewer documents than --min-df (" + std::to_string(max_documents) +
                      " < " + std::to_string(min_documents) + ")");
  for (auto& t : owned)
    t.kept = static_cast<double>(t.df) >= min_documents && static_cast<double>(t.df) <= max_documents;
  limit_features(comm, owned, options.max_features);

  // 5. Columns: buckets in order, terms alphabetically within a bucket.
  std::vector<std::int64_t> bucket_offset(kTermBuckets + 1, 0);
  for (const auto& t : owned)
    if (t.kept) ++bucket_offset[t.bucket + 1];
  comm.allreduce(std::span<std::int64_t>(bucket_offset), MPI_SUM);
  for (std::size_t b = 0; b < kTermBuckets; ++b) bucket_offset[b + 1] += bucket_offset[b];
  TfidfResult<T> result;
  result.columns = static_cast<std::uint64_t>(bucket_offset[kTermBuckets]);
  if (result.columns == 0)
    throw AgreedError("after pruning, no terms remain; try a lower --min-df or a higher --max-df");
  const RowRange my_buckets = block_rows(kTermBuckets, p, comm.rank());
  result.first_column = static_cast<std::uint64_t>(bucket_offset[my_buckets.begin]);
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < owned.size(); ++i)
    if (owned[i].kept) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::tie(owned[a].bucket, owned[a].term) < std::tie(owned[b].bucket, owned[b].term);
  });
  // scikit-learn: df and n both one larger with smooth_idf (a document holding every term).
  const double smooth = options.smooth_idf ? 1.0 : 0.0;
  for (std::size_t q = 0; q < order.size(); ++q) {
    OwnedTerm& t = owned[order[q]];
    t.column = static_cast<std::int64_t>(result.first_column + q);
    t.idf = options.use_idf
                ? std::log((smooth + static_cast<double>(n)) / (smooth + static_cast<double>(t.df))) + 1.0
                : 1.0;
    result.terms.push_back(t.term);
    result.idf.push_back(t.idf);
    result.document_frequency.push_back(t.df);
  }
  say("vocabulary: " + std::to_string(result.columns) + " terms, " + std::to_string(order.size()) +
      " owned by this rank");

  // 6. Each rank learns the column and idf of the terms it asked about (-1: dropped).
  std::vector<std::vector<TermAnswer>> answers(static_cast<std::size_t>(p));
  for (int r = 0; r < p; ++r)
    for (const std::size_t index : asked_by[static_cast<std::size_t>(r)])
      answers[static_cast<std::size_t>(r)].push_back({owned[index].column, owned[index].idf});
  owned = {};
  const std::vector<TermAnswer> of_local = return_answers(comm, answers, requests, local_terms);

  // 7. The rows.
  result.matrix = weigh_rows<T>(local, of_local, options, corpus.first, n, result.columns);
  return result;
}

VocabularySlice owned_vocabulary(const Comm& comm, std::vector<std::string> terms, std::vector<double> idf,
                                 std::vector<std::int64_t> document_frequency, const std::string& what) {
  VocabularySlice all;
  all.columns = terms.size();
  if (idf.size() != terms.size() || document_frequency.size() != terms.size())
    throw Error(what + ": " + std::to_string(terms.size()) + " terms but " + std::to_string(idf.size()) +
                " idf values and " + std::to_string(document_frequency.size()) + " document frequencies");
  all.terms = std::move(terms);
  all.idf = std::move(idf);
  all.document_frequency = std::move(document_frequency);
  check_vocabulary_slice(all, RowRange{0, kTermBuckets}, what);
  const RowRange buckets = block_rows(kTermBuckets, comm.size(), comm.rank());
  const auto first_of_bucket = [&](std::uint64_t bucket) {
    return static_cast<std::size_t>(
        std::partition_point(all.terms.begin(), all.terms.end(),
                             [&](const std::string& term) { return term_bucket(term) < bucket; }) -
        all.terms.begin());
  };
  const std::size_t begin = first_of_bucket(buckets.begin), end = first_of_bucket(buckets.end);
  VocabularySlice slice;
  slice.first = begin;
  slice.columns = all.columns;
  slice.terms.assign(std::make_move_iterator(all.terms.begin() + static_cast<std::ptrdiff_t>(begin)),
                     std::make_move_iterator(all.terms.begin() + static_cast<std::ptrdiff_t>(end)));
  slice.idf.assign(all.idf.begin() + static_cast<std::ptrdiff_t>(begin), all.idf.begin() + static_cast<std::ptrdiff_t>(end));
  slice.document_frequency.assign(all.document_frequency.begin() + static_cast<std::ptrdiff_t>(begin),
                                  all.document_frequency.begin() + static_cast<std::ptrdiff_t>(end));
  return slice;
}

template <class T>
TfidfResult<T> tfidf_transform(const Comm& comm, const Corpus& corpus, const std::string& vocabulary_file,
                               const TfidfOptions& options,
                               const std::function<void(const std::string&)>& progress) {
  // The vocabulary is model-sized, yet each rank reads only the columns of its own buckets
  // and answers for them, as in the fit: memory per rank stays V/p however large V is, and
  // one all-to-all of the new documents' distinct terms replaces every rank reading all V.
  return tfidf_transform<T>(comm, corpus, read_vocabulary_slice(comm, vocabulary_file), options, progress);
}

template <class T>
TfidfResult<T> tfidf_transform(const Comm& comm, const Corpus& corpus, VocabularySlice slice,
                               const TfidfOptions& options,
                               const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  say("vocabulary: " + std::to_string(slice.columns) + " terms, " + std::to_string(slice.terms.size()) +
      " owned by this rank");
  LocalTerms local = count_terms(corpus, with_sorted_stop_words(options));
  say("tokenized " + std::to_string(corpus.texts.size()) + " documents, " + std::to_string(local.terms.size()) +
      " distinct terms on this rank");
  const std::size_t local_terms = local.terms.size();
  TermRequests requests = send_terms_to_owners(comm, local);

  std::unordered_map<std::string_view, std::size_t> column_index;
  for (std::size_t i = 0; i < slice.terms.size(); ++i) column_index.emplace(slice.terms[i], i);
  std::vector<std::vector<TermAnswer>> answers(static_cast<std::size_t>(comm.size()));
  for_each_request(requests, [&](std::size_t r, std::string&& term, std::int64_t, std::int64_t) {
    const auto it = column_index.find(term);
    answers[r].push_back(it == column_index.end()
                             ? TermAnswer{}
                             : TermAnswer{static_cast<std::int64_t>(slice.first + it->second), slice.idf[it->second]});
  });
  requests.received = {};
  const std::vector<TermAnswer> of_local = return_answers(comm, answers, requests, local_terms);

  TfidfResult<T> result;
  result.matrix = weigh_rows<T>(local, of_local, options, corpus.first, corpus.total, slice.columns);
  result.terms = std::move(slice.terms);
  result.idf = std::move(slice.idf);
  result.document_frequency = std::move(slice.document_frequency);
  result.first_column = slice.first;
  result.columns = slice.columns;
  return result;
}

TfidfOptions read_fitted_options(const std::string& vocabulary_file) {
  Hid file = open_file(vocabulary_file, "vocabulary");
  const hid_t root = file.get();
  auto problem = [&](const std::string& what) { return Error("vocabulary '" + vocabulary_file + "': " + what); };
  if (!h5::path_exists(root, "/vocabulary") || !h5::path_exists(root, "/idf"))
    throw problem("no /vocabulary and /idf: not a file written by lloyd tfidf");
  auto flag = [&](const char* name, bool fallback) {
    return H5Aexists(root, name) > 0 ? read_attribute_int(root, name) != 0 : fallback;
  };
  TfidfOptions options;
  const std::string analyzer = read_attribute_string(root, "analyzer", "word");
  const std::string norm = read_attribute_string(root, "norm", "l2");
  const std::string strip = read_attribute_string(root, "strip_accents", "none");
  if (!parse_analyzer(analyzer)) throw problem("unknown analyzer '" + analyzer + "'");
  if (!parse_norm(norm)) throw problem("unknown norm '" + norm + "'");
  if (!parse_strip_accents(strip)) throw problem("unknown strip_accents '" + strip + "'");
  options.analyzer = *parse_analyzer(analyzer);
  options.norm = *parse_norm(norm);
  options.strip_accents = *parse_strip_accents(strip);
  if (H5Aexists(root, "ngram_min") > 0) {
    options.ngram_min = static_cast<int>(read_attribute_int(root, "ngram_min"));
    options.ngram_max = static_cast<int>(read_attribute_int(root, "ngram_max"));
  } else if (H5Aexists(root, "ngram") > 0) {  // before ngram_min/ngram_max: N meant 1..N
    options.ngram_max = static_cast<int>(read_attribute_int(root, "ngram"));
  }
  if (options.ngram_min < 1 || options.ngram_max < options.ngram_min)
    throw problem("n-gram range " + std::to_string(options.ngram_min) + ".." + std::to_string(options.ngram_max) +
                  " is not 1 <= min <= max");
  options.lowercase = flag("lowercase", true);
  options.binary = flag("binary", false);
  options.sublinear_tf = flag("sublinear_tf", false);
  options.use_idf = flag("use_idf", true);
  options.smooth_idf = flag("smooth_idf", true);
  const std::string stop_words = read_attribute_string(root, "stop_words", "none");
  if (h5::path_exists(root, "/stop_words")) {
    options.stop_words = read_strings(vocabulary_file, "/stop_words");
  } else if (stop_words == "english") {
    options.stop_words = english_stop_words();
  } else if (stop_words != "none" && options.analyzer == Analyzer::Word && options.ngram_max > 1) {
    // Stop words only change word n-grams of two or more: the others are not in the vocabulary.
    throw problem("fitted with the stop words of '" + stop_words +
                  "', which an older lloyd did not store in the file; fit the corpus again");
  }
  return options;
}

namespace {

// The root attributes that read_fitted_options reads back (every rank, one collective step).
void write_fitted_options(hid_t root, const TfidfOptions& options) {
  write_attribute(root, "analyzer", std::string(analyzer_name(options.analyzer)));
  write_attribute(root, "ngram_min", std::int64_t{options.ngram_min});
  write_attribute(root, "ngram_max", std::int64_t{options.ngram_max});
  write_attribute(root, "lowercase", std::int64_t{options.lowercase});
  write_attribute(root, "strip_accents", std::string(strip_accents_name(options.strip_accents)));
  write_attribute(root, "binary", std::int64_t{options.binary});
  write_attribute(root, "sublinear_tf", std::int64_t{options.sublinear_tf});
  write_attribute(root, "use_idf", std::int64_t{options.use_idf});
  write_attribute(root, "smooth_idf", std::int64_t{options.smooth_idf});
  write_attribute(root, "norm", std::string(norm_name(options.norm)));
  const std::string tf = options.binary ? "1 if present" : "count";
  write_attribute(root, "weights",
                  (options.sublinear_tf ? "(1 + ln(" + tf + "))" : "(" + tf + ")") +
                      (options.use_idf ? options.smooth_idf ? " x idf, idf = ln((1 + n) / (1 + df)) + 1"
                                                            : " x idf, idf = ln(n / df) + 1"
                                       : "") +
                      ", rows normalised: " + norm_name(options.norm));
  write_attribute(root, "column_order", std::string(kColumnOrder));
}

}  // namespace

template <class T>
void write_tfidf(const Comm& comm, OutputFile& file, const TfidfResult<T>& result, const TfidfOptions& options) {
  write_csr(comm, file, "/X", result.matrix);
  const auto owned = static_cast<std::uint64_t>(result.terms.size());
  write_strings(comm, file, "/vocabulary", result.terms, result.first_column, result.columns);
  file.write_distributed("/idf", result.idf.data(), owned, result.first_column, result.columns, 0);
  file.write_distributed("/document_frequency", result.document_frequency.data(), owned, result.first_column,
                         result.columns, 0);
  // The stop-word list itself, so that a transform forms the same n-grams (rank 0 writes it).
  if (!options.stop_words.empty())
    write_strings(comm, file, "/stop_words", comm.rank() == 0 ? options.stop_words : std::vector<std::string>{}, 0,
                  options.stop_words.size());
  file.collective_step([&] { write_fitted_options(file.root(), options); });
}


template TfidfResult<float> tfidf(const Comm&, const Corpus&, const TfidfOptions&,
                                  const std::function<void(const std::string&)>&);
template TfidfResult<double> tfidf(const Comm&, const Corpus&, const TfidfOptions&,
                                   const std::function<void(const std::string&)>&);
template void write_tfidf(const Comm&, OutputFile&, const TfidfResult<float>&, const TfidfOptions&);
template void write_tfidf(const Comm&, OutputFile&, const TfidfResult<double>&, const TfidfOptions&);
template TfidfResult<float> tfidf_transform(const Comm&, const Corpus&, const std::string&, const TfidfOptions&,
                                            const std::function<void(const std::string&)>&);
template TfidfResult<double> tfidf_transform(const Comm&, const Corpus&, const std::string&, const TfidfOptions&,
                                             const std::function<void(const std::string&)>&);

template TfidfResult<float> tfidf_transform(const Comm&, const Corpus&, VocabularySlice, const TfidfOptions&,
                                            const std::function<void(const std::string&)>&);
template TfidfResult<double> tfidf_transform(const Comm&, const Corpus&, VocabularySlice, const TfidfOptions&,
                                             const std::function<void(const std::string&)>&);

}  // namespace lloyd
