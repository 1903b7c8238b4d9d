#include "lloyd/text/tfidf.hpp"
#include "lloyd/io/text_lines.hpp"

#include <algorithm>
#include <climits>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <unordered_map>

namespace lloyd {

namespace {

// ------------------------------------------------------------------ tokenizer

// Python's \w outside ASCII is "alphanumeric in Unicode"; this keeps out the punctuation and
// symbol blocks that occur in ordinary text (quotes, dashes, bullets, arrows, currency, emoji).
bool is_word_character(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (c <= 0xBF)
    return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA || (c >= 0xBC && c <= 0xBE);
  if (c == 0xD7 || c == 0xF7) return false;
  if ((c >= 0x2000 && c <= 0x206F) || (c >= 0x20A0 && c <= 0x20CF) || (c >= 0x2190 && c <= 0x2BFF) ||
      (c >= 0x3000 && c <= 0x303F) || (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF0F) ||
      (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65) ||
      (c >= 0xFFF0 && c <= 0xFFFF))
    return false;
  if (c >= 0x1F000 && c <= 0x1FAFF) return false;
  return true;
}

char32_t lower(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  return c;
}

// The code point at text[pos] and its length in bytes. A byte that does not start a valid
// UTF-8 sequence (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF, no
// truncated sequence) is U+FFFD, 1 byte: the tokenizer never emits invalid UTF-8.
std::pair<char32_t, std::size_t> decode(std::string_view text, std::size_t pos) {
  constexpr std::pair<char32_t, std::size_t> invalid{0xFFFD, 1};
  const auto b = static_cast<unsigned char>(text[pos]);
  if (b < 0x80) return {b, 1};
  const std::size_t length = b >= 0xF0 && b < 0xF8 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
  if (length == 0 || pos + length > text.size()) return invalid;
  char32_t c = b & (0x7F >> length);
  for (std::size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[pos + k]);
    if ((next & 0xC0) != 0x80) return invalid;
    c = (c << 6) | (next & 0x3F);
  }
  constexpr char32_t kShortest[5] = {0, 0, 0x80, 0x800, 0x10000};  // smallest code point per length
  if (c < kShortest[length] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return invalid;
  return {c, length};
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
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

}  // namespace

std::optional<std::size_t> first_invalid_utf8(std::string_view text) {
  for (std::size_t pos = 0; pos < text.size();) {
    const auto [c, length] = decode(text, pos);
    // U+FFFD itself is three bytes (EF BF BD); the 1-byte stand-in is an invalid byte.
    if (c == 0xFFFD && length == 1) return pos;
    pos += length;
  }
  return std::nullopt;
}

std::vector<std::string> tokenize(std::string_view text) {
  std::vector<std::string> tokens;
  std::string current;
  std::size_t characters = 0;
  auto finish = [&] {
    if (characters >= 2) tokens.push_back(current);
    current.clear();
    characters = 0;
  };
  for (std::size_t pos = 0; pos < text.size();) {
    const auto [c, length] = decode(text, pos);
    pos += length;
    if (is_word_character(c)) {
      append_utf8(current, lower(c));
      ++characters;
    } else {
      finish();
    }
  }
  finish();
  return tokens;
}

std::vector<std::string> document_terms(std::string_view text, const TfidfOptions& options) {
  std::vector<std::string> tokens = tokenize(text);
  if (!options.stop_words.empty())
    std::erase_if(tokens, [&](const std::string& token) {
      return std::binary_search(options.stop_words.begin(), options.stop_words.end(), token);
    });
  if (options.ngram < 2) return tokens;
  std::vector<std::string> terms = tokens;
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) terms.push_back(tokens[i] + " " + tokens[i + 1]);
  return terms;
}

std::uint64_t term_bucket(std::string_view term) {
  std::uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a: the same on every platform
  for (const char c : term) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ull;
  }
  return hash % kTermBuckets;
}

Corpus read_corpus(const Comm& comm, const std::string& path) {
  Corpus corpus;
  std::error_code ec;
  run_agreed(comm, [&] {
    if (!std::filesystem::exists(path, ec)) throw Error("corpus '" + path + "' does not exist");
  });
  if (std::filesystem::is_directory(path, ec)) {
    std::vector<std::string> files;
    run_agreed(comm, [&] {
      for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file()) files.push_back(std::filesystem::relative(it->path(), path).generic_string());
      if (ec) throw Error("cannot list corpus directory '" + path + "': " + ec.message());
      if (files.empty()) throw Error("corpus directory '" + path + "' holds no files (no documents)");
    });
    std::sort(files.begin(), files.end());
    const RowRange mine = block_rows(files.size(), comm.size(), comm.rank());
    corpus.first = mine.begin;
    corpus.total = files.size();
    corpus.from_directory = true;
    run_agreed(comm, [&] {
      for (std::uint64_t f = mine.begin; f < mine.end; ++f) {
        const std::filesystem::path file = std::filesystem::path(path) / files[f];
        std::ifstream in(file, std::ios::binary);
        if (!in) throw Error("cannot read corpus file '" + file.string() + "': " + std::strerror(errno));
        corpus.texts.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        if (const auto offset = first_invalid_utf8(corpus.texts.back()))
          throw Error(not_utf8("corpus file '" + file.string() + "'", *offset));
        corpus.names.push_back(files[f]);
      }
    });
    return corpus;
  }

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
  TfidfOptions sorted_options = options;
  std::sort(sorted_options.stop_words.begin(), sorted_options.stop_words.end());
  const int p = comm.size();

  // 1. Local terms: an id per distinct term of this rank; each document as (id, count).
  std::unordered_map<std::string, std::int32_t> ids;
  std::vector<std::string> local_terms;
  std::vector<std::int64_t> local_df, local_count;
  std::vector<std::pair<std::int32_t, std::int32_t>> entries;  // (term id, count) per document
  std::vector<std::size_t> document_start{0};
  std::vector<std::int32_t> document;
  for (const std::string& text : corpus.texts) {
    document.clear();
    for (std::string& term : document_terms(text, sorted_options)) {
      auto [it, added] = ids.try_emplace(std::move(term), static_cast<std::int32_t>(local_terms.size()));
      if (added) {
        local_terms.push_back(it->first);
        local_df.push_back(0);
        local_count.push_back(0);
      }
      document.push_back(it->second);
    }
    std::sort(document.begin(), document.end());
    for (std::size_t i = 0; i < document.size();) {
      std::size_t j = i;
      while (j < document.size() && document[j] == document[i]) ++j;
      entries.emplace_back(document[i], static_cast<std::int32_t>(j - i));
      ++local_df[static_cast<std::size_t>(document[i])];
      local_count[static_cast<std::size_t>(document[i])] += static_cast<std::int64_t>(j - i);
      i = j;
    }
    document_start.push_back(entries.size());
  }
  ids.clear();
  say("tokenized " + std::to_string(corpus.texts.size()) + " documents, " + std::to_string(local_terms.size()) +
      " distinct terms on this rank");

  // 2. Every distinct term to its owner, with this rank's counts.
  std::vector<std::vector<char>> outgoing(static_cast<std::size_t>(p));
  std::vector<std::vector<std::int32_t>> asked(static_cast<std::size_t>(p));  // term ids, per owner
  for (std::size_t id = 0; id < local_terms.size(); ++id) {
    const auto owner = static_cast<std::size_t>(owner_of_row(kTermBuckets, p, term_bucket(local_terms[id])));
    Packer pack{outgoing[owner]};
    pack.put_string(local_terms[id]);
    pack.put(local_df[id]);
    pack.put(local_count[id]);
    asked[owner].push_back(static_cast<std::int32_t>(id));
  }
  local_terms.clear();
  local_terms.shrink_to_fit();
  std::vector<std::size_t> starts;
  std::vector<char> received = exchange(comm, outgoing, starts);
  outgoing.assign(static_cast<std::size_t>(p), {});

  // 3. The owner's global counts; which owned term each rank asked about, in its order.
  std::vector<OwnedTerm> owned;
  std::unordered_map<std::string, std::size_t> owned_index;
  std::vector<std::vector<std::size_t>> asked_by(static_cast<std::size_t>(p));
  for (int r = 0; r < p; ++r) {
    Unpacker unpack{received.data() + starts[static_cast<std::size_t>(r)]};
    while (unpack.at < received.data() + starts[static_cast<std::size_t>(r) + 1]) {
      std::string term = unpack.get_string();
      const auto df = unpack.get<std::int64_t>(), count = unpack.get<std::int64_t>();
      auto [it, added] = owned_index.try_emplace(std::move(term), owned.size());
      if (added) owned.push_back({it->first, term_bucket(it->first), 0, 0, false, -1, 0});
      owned[it->second].df += df;
      owned[it->second].total_count += count;
      asked_by[static_cast<std::size_t>(r)].push_back(it->second);
    }
  }
  received = {};
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
  for (std::size_t q = 0; q < order.size(); ++q) {
    OwnedTerm& t = owned[order[q]];
    t.column = static_cast<std::int64_t>(result.first_column + q);
    t.idf = std::log((1.0 + static_cast<double>(n)) / (1.0 + static_cast<double>(t.df))) + 1.0;
    result.terms.push_back(t.term);
    result.idf.push_back(t.idf);
    result.document_frequency.push_back(t.df);
  }
  say("vocabulary: " + std::to_string(result.columns) + " terms, " + std::to_string(order.size()) +
      " owned by this rank");

  // 6. Each rank learns the column and idf of the terms it asked about (-1: dropped).
  for (int r = 0; r < p; ++r) {
    Packer pack{outgoing[static_cast<std::size_t>(r)]};
    for (const std::size_t index : asked_by[static_cast<std::size_t>(r)]) {
      pack.put(owned[index].column);
      pack.put(owned[index].idf);
    }
  }
  owned = {};
  received = exchange(comm, outgoing, starts);
  std::vector<std::int64_t> column_of(local_df.size(), -1);
  std::vector<double> idf_of(local_df.size(), 0);
  for (int r = 0; r < p; ++r) {
    Unpacker unpack{received.data() + starts[static_cast<std::size_t>(r)]};
    for (const std::int32_t id : asked[static_cast<std::size_t>(r)]) {
      column_of[static_cast<std::size_t>(id)] = unpack.get<std::int64_t>();
      idf_of[static_cast<std::size_t>(id)] = unpack.get<double>();
    }
  }

  // 7. The rows: tf × idf over the kept terms, sorted by column, L2-normalised.
  CsrShard<T>& matrix = result.matrix;
  matrix.global_rows = n;
  matrix.first_row = corpus.first;
  matrix.columns = result.columns;
  std::vector<std::pair<std::int64_t, double>> row;
  for (std::size_t d = 0; d + 1 < document_start.size(); ++d) {
    row.clear();
    for (std::size_t e = document_start[d]; e < document_start[d + 1]; ++e) {
      const auto id = static_cast<std::size_t>(entries[e].first);
      if (column_of[id] < 0) continue;
      const double count = entries[e].second;
      const double tf = options.sublinear_tf ? 1.0 + std::log(count) : count;
      row.emplace_back(column_of[id], tf * idf_of[id]);
    }
    std::sort(row.begin(), row.end());
    double squares = 0;
    for (const auto& [column, weight] : row) squares += weight * weight;
    const double norm = std::sqrt(squares);
    for (const auto& [column, weight] : row) {
      matrix.indices.push_back(static_cast<std::int32_t>(column));
      matrix.values.push_back(static_cast<T>(weight / norm));
    }
    matrix.indptr.push_back(static_cast<std::int64_t>(matrix.values.size()));
  }
  return result;
}

template TfidfResult<float> tfidf(const Comm&, const Corpus&, const TfidfOptions&,
                                  const std::function<void(const std::string&)>&);
template TfidfResult<double> tfidf(const Comm&, const Corpus&, const TfidfOptions&,
                                   const std::function<void(const std::string&)>&);

}  // namespace lloyd
