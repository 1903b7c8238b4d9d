// lloyd tfidf: a corpus (one document per line, or a directory of files) to a TF-IDF CSR
// matrix in HDF5, computed by all ranks together (text/tfidf.hpp).
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

struct TfidfRequest {
  std::string input, output, stop_words;
  std::string min_df_text, max_df_text;
  TfidfOptions options;
  bool float32 = false, json = false, verbose = false, force = false;
};

template <class T>
int tfidf_typed(const Comm& comm, const TfidfRequest& request, double start) {
  auto progress = [&](const std::string& line) {
    if (request.verbose && comm.rank() == 0)
      std::fprintf(stderr, "lloyd tfidf: %s (rank 0)  %.2f s\n", line.c_str(), MPI_Wtime() - start);
  };
  double phase = MPI_Wtime();
  const Corpus corpus = read_corpus(comm, request.input);
  const double read_seconds = MPI_Wtime() - phase;
  progress("read " + std::to_string(corpus.total) + " documents");
  phase = MPI_Wtime();
  const TfidfResult<T> result = tfidf<T>(comm, corpus, request.options, progress);
  const double tfidf_seconds = MPI_Wtime() - phase;

  phase = MPI_Wtime();
  OutputFile file(comm, request.output, request.force);
  write_csr(comm, file, "/X", result.matrix);
  const auto owned = static_cast<std::uint64_t>(result.terms.size());
  write_strings(comm, file, "/vocabulary", result.terms, result.first_column, result.columns);
  file.write_distributed("/idf", result.idf.data(), owned, result.first_column, result.columns, 0);
  file.write_distributed("/document_frequency", result.document_frequency.data(), owned, result.first_column,
                         result.columns, 0);
  if (corpus.from_directory) write_strings(comm, file, "/document_names", corpus.names, corpus.first, corpus.total);
  file.collective_step([&] {  // a failure on any rank stops every rank
    const hid_t root = file.root();
    write_attribute(root, "input", request.input);
    write_attribute(root, "n_documents", static_cast<std::int64_t>(corpus.total));
    write_attribute(root, "n_terms", static_cast<std::int64_t>(result.columns));
    write_attribute(root, "min_df", request.min_df_text);
    write_attribute(root, "max_df", request.max_df_text);
    write_attribute(root, "max_features", std::int64_t{request.options.max_features});
    write_attribute(root, "stop_words", request.stop_words.empty() ? std::string("none") : request.stop_words);
    write_attribute(root, "ngram", std::int64_t{request.options.ngram});
    write_attribute(root, "sublinear_tf", std::int64_t{request.options.sublinear_tf});
    write_attribute(root, "weights", std::string("tf x idf, idf = ln((1 + n) / (1 + df)) + 1, rows L2-normalised"));
    write_attribute(root, "column_order", std::string("FNV-1a hash bucket of the term (mod 4096), then the term"));
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
          .add("nonzeros", nonzeros).add("dtype", request.float32 ? "float32" : "float64")
          .add("n_ranks", comm.size()).add("seconds", seconds).add("phases", times)
          .add("peak_rss_mb", peak_rss_mb).add("output", request.output);
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
      ("min-df", po::value<std::string>()->default_value("1"), "keep terms in at least N documents (integer) or a fraction F of them")
      ("max-df", po::value<std::string>()->default_value("1.0"), "keep terms in at most a fraction F of the documents (or N of them)")
      ("max-features", po::value<std::int64_t>()->default_value(0), "keep the M terms with the largest total count (0: all)")
      ("stop-words", po::value<std::string>()->default_value(""), "english (scikit-learn's list) or FILE (one word a line)")
      ("ngram", po::value<int>()->default_value(1), "1: words; 2: words and pairs of consecutive words")
      ("sublinear-tf", po::bool_switch(), "tf = 1 + ln(count)")
      ("dtype", po::value<std::string>()->default_value("float64"), "float64 (as scikit-learn) or float32 (half the memory)")
      ("json", po::bool_switch(), "print one JSON object with the result on rank 0")
      ("verbose", po::bool_switch(), "print progress on rank 0 (stderr)")
      ("force", po::bool_switch(), "overwrite --output if it exists");
  const auto vm = parse(comm, "tfidf", "--input CORPUS --output CORPUS.h5 [options]", description, args);
  if (!vm) return 0;
  TfidfRequest request;
  request.input = required<std::string>(*vm, "tfidf", "input");
  request.output = required<std::string>(*vm, "tfidf", "output");
  request.min_df_text = (*vm)["min-df"].as<std::string>();
  request.max_df_text = (*vm)["max-df"].as<std::string>();
  request.options.min_df = parse_bound("min-df", request.min_df_text);
  request.options.max_df = parse_bound("max-df", request.max_df_text);
  request.options.max_features = (*vm)["max-features"].as<std::int64_t>();
  if (request.options.max_features < 0) throw UsageError("lloyd tfidf: --max-features must be >= 0 (0: all)");
  request.options.ngram = (*vm)["ngram"].as<int>();
  if (request.options.ngram != 1 && request.options.ngram != 2) throw UsageError("lloyd tfidf: --ngram must be 1 or 2");
  request.options.sublinear_tf = (*vm)["sublinear-tf"].as<bool>();
  const std::string dtype = (*vm)["dtype"].as<std::string>();
  if (dtype != "float64" && dtype != "float32")
    throw UsageError("lloyd tfidf: --dtype must be float64 or float32");
  request.float32 = dtype == "float32";
  request.json = (*vm)["json"].as<bool>();
  request.verbose = (*vm)["verbose"].as<bool>();
  request.stop_words = (*vm)["stop-words"].as<std::string>();
  request.force = (*vm)["force"].as<bool>();
  // Every file tfidf reads is protected: the corpus (a file, or every file of a directory)
  // and a stop-word file.
  std::vector<std::string> inputs{request.input};
  if (request.stop_words != "english" && request.stop_words != "none") inputs.push_back(request.stop_words);
  run_agreed(comm, [&] { check_output_path(request.output, request.force, inputs); });
  request.options.stop_words = read_stop_words(comm, request.stop_words);
  return request.float32 ? tfidf_typed<float>(comm, request, start) : tfidf_typed<double>(comm, request, start);
}

}  // namespace lloyd::cli
