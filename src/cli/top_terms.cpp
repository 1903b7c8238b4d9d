// lloyd top-terms: the highest-weight terms of each centre of a model fitted on a TF-IDF
// matrix, and the size of each cluster — what a reader needs to name the clusters.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <numeric>

#include "common.hpp"
#include "lloyd/io/csr.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/io/model.hpp"
#include "lloyd/metrics/labels.hpp"

namespace lloyd::cli {

namespace {

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

int run_top_terms(const Comm& comm, const Args& args) {
  po::options_description description("options");
  description.add_options()
      ("model", po::value<std::string>(), "model written by 'lloyd fit' on a TF-IDF matrix (MODEL.h5)")
      ("vocabulary", po::value<std::string>(), "the file written by 'lloyd tfidf' (its /vocabulary names the columns), or FILE.h5:/strings")
      ("n", po::value<int>()->default_value(10), "terms per cluster")
      ("json", po::bool_switch(), "print one JSON object on rank 0");
  const auto vm = parse(comm, "top-terms", "--model MODEL.h5 --vocabulary CORPUS.h5 [--n 10]", description, args);
  if (!vm) return 0;
  const std::string model = required<std::string>(*vm, "top-terms", "model");
  const DatasetRef vocabulary_ref = parse_dataset_ref(required<std::string>(*vm, "top-terms", "vocabulary"), "/vocabulary");
  const int n = (*vm)["n"].as<int>();
  if (n < 1) throw UsageError("lloyd top-terms: --n must be at least 1");

  const Model<double> fitted = read_model<double>(comm, {model, "/centroids"});
  const RowMatrix<double>& centroids = fitted.centroids;
  if (fitted.label_rows == 0)
    throw AgreedError("model '" + model + "' has no /labels (written by 'lloyd fit --output')");
  const std::vector<std::int32_t> labels = read_labels(comm, {model, "/labels"}, fitted.label_rows);
  const LabelCounts counts = count_labels(comm, labels);
  if (counts.min < 0 || counts.max >= centroids.rows())
    throw AgreedError("model '" + model + "': /labels holds label " +
                      std::to_string(counts.min < 0 ? counts.min : counts.max) + ", outside [0, k = " +
                      std::to_string(centroids.rows()) + ")");
  // Only rank 0 prints, so only rank 0 reads the vocabulary.
  std::vector<std::string> vocabulary;
  run_agreed(comm, [&] {
    if (comm.rank() != 0) return;
    vocabulary = read_strings(vocabulary_ref.file, vocabulary_ref.path);
    if (vocabulary.size() != static_cast<std::size_t>(centroids.cols()))
      throw Error("vocabulary " + vocabulary_ref.text() + " has " + std::to_string(vocabulary.size()) +
                  " terms but the centroids of '" + model + "' have " + std::to_string(centroids.cols()) +
                  " columns");
  });
  if (comm.rank() != 0) return 0;

  const auto terms = static_cast<Eigen::Index>(std::min<std::int64_t>(n, centroids.cols()));
  std::string json = "{\"command\":\"top-terms\",\"model\":" + json_string(model) + ",\"clusters\":[";
  std::vector<Eigen::Index> order(static_cast<std::size_t>(centroids.cols()));
  for (Eigen::Index c = 0; c < centroids.rows(); ++c) {
    std::iota(order.begin(), order.end(), Eigen::Index{0});
    std::partial_sort(order.begin(), order.begin() + terms, order.end(), [&](Eigen::Index a, Eigen::Index b) {
      return centroids(c, a) > centroids(c, b) || (centroids(c, a) == centroids(c, b) && a < b);
    });
    const std::int64_t size = c >= counts.min && c <= counts.max ? counts.counts[static_cast<std::size_t>(c - counts.min)] : 0;
    std::string line, names, weights;
    for (Eigen::Index t = 0; t < terms; ++t) {
      const auto column = order[static_cast<std::size_t>(t)];
      if (t) {
        line += ", ";
        names += ',';
        weights += ',';
      }
      line += vocabulary[static_cast<std::size_t>(column)];
      names += json_string(vocabulary[static_cast<std::size_t>(column)]);
      char weight[32];
      std::snprintf(weight, sizeof weight, "%.6g", centroids(c, column));
      weights += weight;
    }
    if ((*vm)["json"].as<bool>()) {
      if (c) json += ',';
      json += "{\"cluster\":";
      json += std::to_string(c);
      json += ",\"size\":";
      json += std::to_string(size);
      json += ",\"terms\":[";
      json += names;
      json += "],\"weights\":[";
      json += weights;
      json += "]}";
    } else {
      std::printf("cluster %lld (%lld documents): %s\n", static_cast<long long>(c), static_cast<long long>(size),
                  line.c_str());
    }
  }
  if ((*vm)["json"].as<bool>()) std::cout << json << "]}" << std::endl;
  return 0;
}

}  // namespace lloyd::cli
