// libFuzzer target: the analyzers of tfidf (text/tfidf.hpp) on arbitrary bytes: terms are
// valid UTF-8 (word terms of at least two characters), whatever the analyzer and accent
// stripping, and the UTF-8 check agrees with the decoder.
#include <cstdlib>
#include <string_view>

#include "lloyd/text/tfidf.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace lloyd;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto invalid = first_invalid_utf8(text);
  if (invalid && (*invalid >= size || first_invalid_utf8(text.substr(0, *invalid)))) std::abort();
  TfidfOptions options;
  options.ngram_max = 2;
  options.stop_words = {"and", "the"};
  for (const std::string& term : document_terms(text, options)) {
    if (first_invalid_utf8(term) || term.size() < 2) std::abort();
    if (term_bucket(term) >= kTermBuckets) std::abort();
  }
  TfidfOptions characters;
  characters.ngram_min = 1;
  characters.ngram_max = 3;
  characters.strip_accents = StripAccents::Unicode;
  for (const Analyzer analyzer : {Analyzer::Char, Analyzer::CharWb}) {
    characters.analyzer = analyzer;
    for (const std::string& term : document_terms(text, characters))
      if (term.empty() || first_invalid_utf8(term)) std::abort();
  }
  return 0;
}
