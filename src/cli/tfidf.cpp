// lloyd tfidf: a corpus (one document per line, or a directory of files) to a TF-IDF CSR
// matrix in HDF5, computed by all ranks together (text/tfidf.hpp); with --vocabulary, new
// documents in the columns of a fitted one (scikit-learn's transform).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "common.hpp"
#include "lloyd/io/csr.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/text/tfidf.hpp"

namespace lloyd::cli {

namespace {

// --min-df / --max-df: an integer is a count of documents, a number with '.' or an exponent
// a fraction of them (scikit-learn's int/float distinction).
DocumentBound parse_bound(const std::string& option, const std::string& text) {
  DocumentBound bound;
  bound.fraction = text.find_first_of(".eE") != std::string::npos;
  std::size_t used = 0;
  try {
    bound.value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || !(bound.value >= 0) || (bound.fraction && bound.value > 1) ||
      (!bound.fraction && bound.value != static_cast<double>(static_cast<std::int64_t>(bound.value))))
    throw UsageError("lloyd tfidf: --" + option + " '" + text +
                     "': expected a count of documents (an integer >= 0) or a fraction in [0.0, 1.0]");
  return bound;
}

std::vector<std::string> read_stop_words(const Comm& comm, const std::string& spec) {
  if (spec.empty() || spec == "none") return {};
  if (spec == "english") return english_stop_words();
  std::vector<std::string> words;
  run_agreed(comm, [&] {
    std::error_code ec;
    std::ifstream in(spec);
    if (!std::filesystem::is_regular_file(spec, ec) || !in)
      throw Error("cannot read stop-word file '" + spec + "' (expected 'english' or a file, one word a line)");
    for (std::string line; std::getline(in, line);) {
      const auto first = line.find_first_not_of(" \t\r"), last = line.find_last_not_of(" \t\r");
      if (first != std::string::npos) words.push_back(line.substr(first, last - first + 1));
    }
  });
  return words;
}

// --ngram N (n-grams of 1..N, as before MIN,MAX existed) or MIN,MAX (scikit-learn's ngram_range).
std::pair<int, int> parse_ngram(const std::string& text) {
  const auto comma = text.find(',');
  auto number = [&](const std::string& part) {
    std::size_t used = 0;
    int value = 0;
    try {
      value = std::stoi(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != part.size()) value = 0;
    return value;
  };
  const int min_n = comma == std::string::npos ? 1 : number(text.substr(0, comma));
  const int max_n = number(comma == std::string::npos ? text : text.substr(comma + 1));
  if (min_n < 1 || max_n < min_n)
    throw UsageError("lloyd tfidf: --ngram '" + text + "': expected N (n-grams of 1 to N) or MIN,MAX with 1 <= MIN <= MAX");
  return {min_n, max_n};
}

struct TfidfRequest {
  std::string input, output, stop_words, vocabulary;
  std::string min_df_text, max_df_text;
  TfidfOptions options;
  FileFilter filter;
  bool float32 = false, json = false, verbose = false, force = false;
};

template <class T>
int tfidf_typed(const Comm& comm, const TfidfRequest& request, double start) {
  auto progress = [&](const std::string& line) {
    if (request.verbose && comm.rank() == 0)
      std::fprintf(stderr, "lloyd tfidf: %s (rank 0)  %.2f s\n", line.c_str(), MPI_Wtime() - start);
  };
  double phase = MPI_Wtime();
  const Corpus corpus = read_corpus(comm, request.input, request.filter);
  const double read_seconds = MPI_Wtime() - phase;
  if (corpus.skipped_binary > 0 && comm.rank() == 0)
    std::fprintf(stderr, "lloyd tfidf: skipped %llu binary file%s (a NUL byte or invalid UTF-8) in '%s'\n",
                 static_cast<unsigned long long>(corpus.skipped_binary), corpus.skipped_binary == 1 ? "" : "s",
                 request.input.c_str());
  progress("read " + std::to_string(corpus.total) + " documents");
  phase = MPI_Wtime();
  const TfidfResult<T> result = request.vocabulary.empty()
                                    ? tfidf<T>(comm, corpus, request.options, progress)
                                    : tfidf_transform<T>(comm, corpus, request.vocabulary, request.options, progress);
  const double tfidf_seconds = MPI_Wtime() - phase;

  phase = MPI_Wtime();
  OutputFile file(comm, request.output, request.force);
  write_tfidf(comm, file, result, request.options);
  if (corpus.from_directory) write_strings(comm, file, "/document_names", corpus.names, corpus.first, corpus.total);
  file.collective_step([&] {  // a failure on any rank stops every rank
    const hid_t root = file.root();
    write_attribute(root, "input", request.input);
    write_attribute(root, "n_documents", static_cast<std::int64_t>(corpus.total));
    write_attribute(root, "n_terms", static_cast<std::int64_t>(result.columns));
    if (request.vocabulary.empty()) {
      write_attribute(root, "min_df", request.min_df_text);
      write_attribute(root, "max_df", request.max_df_text);
      write_attribute(root, "max_features", std::int64_t{request.options.max_features});
    } else {
      write_attribute(root, "vocabulary", request.vocabulary);
    }
    write_attribute(root, "stop_words", request.stop_words.empty() ? std::string("none") : request.stop_words);
  });
  file.commit();
  const double write_seconds = MPI_Wtime() - phase;

  const std::uint64_t nonzeros = comm.allreduce(static_cast<std::uint64_t>(result.matrix.nonzeros()), MPI_SUM);
  double phases[] = {read_seconds, tfidf_seconds, write_seconds};
  comm.allreduce(std::span<double>(phases), MPI_MAX);
  const double peak_rss_mb = peak_memory_mb(comm);
  const double seconds = elapsed_max(comm, start);
  if (comm.rank() == 0) {
    if (request.json) {
      JsonObject times;
      times.add("read", phases[0]).add("tfidf", phases[1]).add("write", phases[2]);
      JsonObject json;
      json.add("command", "tfidf").add("n_documents", corpus.total).add("n_terms", result.columns)
          .add("nonzeros", nonzeros).add("skipped_binary_files", corpus.skipped_binary).add("dtype", request.float32 ? "float32" : "float64")
          .add("n_ranks", comm.size()).add("seconds", seconds).add("phases", times)
          .add("peak_rss_mb", peak_rss_mb).add("output", request.output);
      if (!request.vocabulary.empty()) json.add("vocabulary", request.vocabulary);
      std::cout << json.str() << std::endl;
    } else {
      std::printf("lloyd tfidf: %llu documents x %llu terms, %llu nonzeros  ranks=%d  %.3f s  -> %s\n",
                  static_cast<unsigned long long>(corpus.total), static_cast<unsigned long long>(result.columns),
                  static_cast<unsigned long long>(nonzeros), comm.size(), seconds, request.output.c_str());
    }
  }
  return 0;
}

}  // namespace

int run_tfidf(const Comm& comm, const Args& args) {
  const double start = MPI_Wtime();
  po::options_description description("options");
  description.add_options()
      ("input", po::value<std::string>(), "corpus: a text file with one document per line, or a directory of text files (one document each, sorted by path)")
      ("output", po::value<std::string>(), "HDF5 file to write: CSR group /X, /vocabulary, /idf, /document_frequency, /document_names")
      ("vocabulary", po::value<std::string>(), "a file written by 'lloyd tfidf': transform --input with its vocabulary, idf and options (scikit-learn's transform); the options below that shape the vocabulary are then not given")
      ("include", po::value<std::vector<std::string>>(), "directory input: only files whose path under it matches GLOB (fnmatch; repeatable)")
      ("exclude", po::value<std::vector<std::string>>(), "directory input: leave out files whose path under it matches GLOB (repeatable)")
      ("min-df", po::value<std::string>()->default_value("1"), "keep terms in at least N documents (integer) or a fraction F of them")
      ("max-df", po::value<std::string>()->default_value("1.0"), "keep terms in at most a fraction F of the documents (or N of them)")
      ("max-features", po::value<std::int64_t>()->default_value(0), "keep the M terms with the largest total count (0: all)")
      ("stop-words", po::value<std::string>()->default_value(""), "english (scikit-learn's list) or FILE (one word a line); word analyzer only")
      ("analyzer", po::value<std::string>()->default_value("word"), "word, char (character n-grams) or char_wb (character n-grams within words)")
      ("ngram", po::value<std::string>()->default_value("1"), "MIN,MAX: n-grams of MIN to MAX words (characters); N: 1,N")
      ("no-lowercase", po::bool_switch(), "keep the case (scikit-learn's lowercase=False)")
      ("strip-accents", po::value<std::string>()->default_value("none"), "unicode or ascii: NFKD, then drop combining marks (unicode) or every non-ASCII character (ascii)")
      ("binary", po::bool_switch(), "tf = 1 for every term present")
      ("sublinear-tf", po::bool_switch(), "tf = 1 + ln(count)")
      ("no-idf", po::bool_switch(), "weights tf alone (use_idf=False)")
      ("no-smooth-idf", po::bool_switch(), "idf = ln(n / df) + 1 (smooth_idf=False)")
      ("norm", po::value<std::string>()->default_value("l2"), "l2, l1 or none: how each row is scaled")
      ("dtype", po::value<std::string>()->default_value("float64"), "float64 (as scikit-learn) or float32 (half the memory)")
      ("json", po::bool_switch(), "print one JSON object with the result on rank 0")
      ("verbose", po::bool_switch(), "print progress on rank 0 (stderr)")
      ("force", po::bool_switch(), "overwrite --output if it exists");
  const auto vm = parse(comm, "tfidf", "--input CORPUS --output CORPUS.h5 [--vocabulary FITTED.h5] [options]", description, args);
  if (!vm) return 0;
  TfidfRequest request;
  request.input = required<std::string>(*vm, "tfidf", "input");
  request.output = required<std::string>(*vm, "tfidf", "output");
  if (vm->count("vocabulary")) request.vocabulary = (*vm)["vocabulary"].as<std::string>();
  if (vm->count("include")) request.filter.include = (*vm)["include"].as<std::vector<std::string>>();
  if (vm->count("exclude")) request.filter.exclude = (*vm)["exclude"].as<std::vector<std::string>>();
  const std::string dtype = (*vm)["dtype"].as<std::string>();
  if (dtype != "float64" && dtype != "float32")
    throw UsageError("lloyd tfidf: --dtype must be float64 or float32");
  request.float32 = dtype == "float32";
  request.json = (*vm)["json"].as<bool>();
  request.verbose = (*vm)["verbose"].as<bool>();
  request.force = (*vm)["force"].as<bool>();
  std::vector<std::string> inputs{request.input};
  if (!request.vocabulary.empty()) {
    // A transform takes every option that shapes a row from the vocabulary file.
    for (const char* fitted : {"min-df", "max-df", "max-features", "stop-words", "analyzer", "ngram", "no-lowercase",
                               "strip-accents", "binary", "sublinear-tf", "no-idf", "no-smooth-idf", "norm"})
      if (!(*vm)[fitted].defaulted())
        throw UsageError(std::string("lloyd tfidf: --") + fitted + " does not apply with --vocabulary: the vocabulary file '" +
                         request.vocabulary + "' holds the options it was fitted with");
    inputs.push_back(request.vocabulary);
    run_agreed(comm, [&] {
      check_output_path(request.output, request.force, inputs);
      request.options = read_fitted_options(request.vocabulary);
      request.stop_words = read_attribute_string(open_file(request.vocabulary, "vocabulary").get(), "stop_words", "none");
    });
    return request.float32 ? tfidf_typed<float>(comm, request, start) : tfidf_typed<double>(comm, request, start);
  }
  request.min_df_text = (*vm)["min-df"].as<std::string>();
  request.max_df_text = (*vm)["max-df"].as<std::string>();
  request.options.min_df = parse_bound("min-df", request.min_df_text);
  request.options.max_df = parse_bound("max-df", request.max_df_text);
  request.options.max_features = (*vm)["max-features"].as<std::int64_t>();
  if (request.options.max_features < 0) throw UsageError("lloyd tfidf: --max-features must be >= 0 (0: all)");
  const std::string analyzer = (*vm)["analyzer"].as<std::string>();
  if (!parse_analyzer(analyzer)) throw UsageError("lloyd tfidf: --analyzer '" + analyzer + "': expected word, char or char_wb");
  request.options.analyzer = *parse_analyzer(analyzer);
  std::tie(request.options.ngram_min, request.options.ngram_max) = parse_ngram((*vm)["ngram"].as<std::string>());
  request.options.lowercase = !(*vm)["no-lowercase"].as<bool>();
  const std::string strip = (*vm)["strip-accents"].as<std::string>();
  if (!parse_strip_accents(strip))
    throw UsageError("lloyd tfidf: --strip-accents '" + strip + "': expected unicode, ascii or none");
  request.options.strip_accents = *parse_strip_accents(strip);
  request.options.binary = (*vm)["binary"].as<bool>();
  request.options.sublinear_tf = (*vm)["sublinear-tf"].as<bool>();
  request.options.use_idf = !(*vm)["no-idf"].as<bool>();
  request.options.smooth_idf = !(*vm)["no-smooth-idf"].as<bool>();
  if (!request.options.use_idf && (*vm)["no-smooth-idf"].as<bool>())
    throw UsageError("lloyd tfidf: --no-smooth-idf does not apply with --no-idf (no idf is computed)");
  const std::string norm = (*vm)["norm"].as<std::string>();
  if (!parse_norm(norm)) throw UsageError("lloyd tfidf: --norm '" + norm + "': expected l2, l1 or none");
  request.options.norm = *parse_norm(norm);
  request.stop_words = (*vm)["stop-words"].as<std::string>();
  if (request.options.analyzer != Analyzer::Word && !request.stop_words.empty() && request.stop_words != "none")
    throw UsageError("lloyd tfidf: --stop-words applies to --analyzer word only (scikit-learn ignores it for " +
                     analyzer + ")");
  // Every file tfidf reads is protected: the corpus (a file, or every file of a directory)
  // and a stop-word file.
  if (request.stop_words != "english" && request.stop_words != "none") inputs.push_back(request.stop_words);
  run_agreed(comm, [&] { check_output_path(request.output, request.force, inputs); });
  request.options.stop_words = read_stop_words(comm, request.stop_words);
  return request.float32 ? tfidf_typed<float>(comm, request, start) : tfidf_typed<double>(comm, request, start);
}

}  // namespace lloyd::cli
