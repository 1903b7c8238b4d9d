// Text: TF-IDF of Python strings (the library's tfidf and tfidf_transform, as `lloyd tfidf` and
// `lloyd tfidf --vocabulary` compute them) and a TF-IDF file `lloyd tfidf` wrote, read back
// through the library's CSR and string readers.
#include <pybind11/stl.h>

#include "bridge.hpp"
#include "lloyd/error.hpp"
#include "lloyd/io/csr.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/text/tfidf.hpp"

namespace lloyd::python {

using namespace pybind11::literals;

namespace {

// The options the Python layer checked (python/lloyd/_text.py) as the library's struct.
TfidfOptions options_from(const py::dict& d) {
  TfidfOptions o;
  const auto bound = [](const py::handle& value) {
    DocumentBound b;
    b.fraction = py::isinstance<py::float_>(value);
    b.value = value.cast<double>();
    return b;
  };
  o.min_df = bound(d["min_df"]);
  o.max_df = bound(d["max_df"]);
  o.max_features = d["max_features"].cast<std::int64_t>();
  o.stop_words = py::isinstance<py::str>(d["stop_words"]) ? english_stop_words()
                                                          : d["stop_words"].cast<std::vector<std::string>>();
  const auto analyzer = parse_analyzer(d["analyzer"].cast<std::string>());
  const auto norm = parse_norm(d["norm"].cast<std::string>());
  const auto strip = parse_strip_accents(d["strip_accents"].cast<std::string>());
  if (!analyzer || !norm || !strip) throw Error("tfidf: unknown analyzer, norm or strip_accents");
  o.analyzer = *analyzer;
  o.norm = *norm;
  o.strip_accents = *strip;
  o.ngram_min = d["ngram_min"].cast<int>();
  o.ngram_max = d["ngram_max"].cast<int>();
  o.lowercase = d["lowercase"].cast<bool>();
  o.binary = d["binary"].cast<bool>();
  o.sublinear_tf = d["sublinear_tf"].cast<bool>();
  o.use_idf = d["use_idf"].cast<bool>();
  o.smooth_idf = d["smooth_idf"].cast<bool>();
  return o;
}

// Collective over comm: this rank's documents (UTF-8 bytes, encoded by Python) as a corpus
// that is the concatenation of every rank's documents in rank order.
Corpus corpus_from(const Comm& comm, std::vector<std::string> documents) {
  Corpus corpus;
  const RowBlock block = distribute_rows(comm, static_cast<std::int64_t>(documents.size()), 0);
  corpus.texts = std::move(documents);
  corpus.first = block.first_row;
  corpus.total = block.global_rows;
  return corpus;
}

template <class T>
py::dict csr_to_dict(const CsrShard<T>& matrix) {
  py::dict d;
  d["data"] = to_numpy(matrix.values);
  d["indices"] = to_numpy(matrix.indices);
  d["indptr"] = to_numpy(matrix.indptr);
  d["columns"] = matrix.columns;
  return d;
}

// The rows and this rank's slice of the vocabulary (its columns [first_column, + terms)).
template <class T>
py::dict result_to_dict(const TfidfResult<T>& result) {
  py::dict d = csr_to_dict(result.matrix);
  d["terms"] = result.terms;
  d["idf"] = to_numpy(result.idf);
  d["document_frequency"] = to_numpy(result.document_frequency);
  d["first_column"] = result.first_column;
  return d;
}

template <class T>
py::dict fit_typed(std::vector<std::string> documents, const TfidfOptions& options, const py::object& comm_handle) {
  TfidfResult<T> result;
  {
    py::gil_scoped_release unlocked;
    const Comm comm = communicator(comm_handle);
    result = tfidf<T>(comm, corpus_from(comm, std::move(documents)), options);
  }
  return result_to_dict(result);
}

py::dict fit(std::vector<std::string> documents, const py::dict& options, bool float32, const py::object& comm_handle) {
  const TfidfOptions o = options_from(options);
  return float32 ? fit_typed<float>(std::move(documents), o, comm_handle)
                 : fit_typed<double>(std::move(documents), o, comm_handle);
}

template <class T>
py::dict transform_typed(std::vector<std::string> documents, const TfidfOptions& options, VocabularySlice slice,
                         const py::object& comm_handle) {
  TfidfResult<T> result;
  {
    py::gil_scoped_release unlocked;
    const Comm comm = communicator(comm_handle);
    result = tfidf_transform<T>(comm, corpus_from(comm, std::move(documents)), std::move(slice), options);
  }
  return csr_to_dict(result.matrix);
}

// New documents in the columns of a fitted vocabulary (every rank holds all of it; each
// answers for the columns of its own buckets, as the file transform does).
py::dict transform(std::vector<std::string> documents, const py::dict& options, std::vector<std::string> terms,
                   const py::handle& idf, const py::handle& document_frequency, bool float32,
                   const py::object& comm_handle) {
  const TfidfOptions o = options_from(options);
  const Comm comm = communicator(comm_handle);
  VocabularySlice slice;
  run_agreed(comm, [&] {
    slice = owned_vocabulary(comm, std::move(terms), vector_from<double>(idf), vector_from<std::int64_t>(document_frequency),
                             "the fitted vocabulary");
  });
  return float32 ? transform_typed<float>(std::move(documents), o, std::move(slice), comm_handle)
                 : transform_typed<double>(std::move(documents), o, std::move(slice), comm_handle);
}

// A file `lloyd tfidf` wrote: this rank's block of rows of /X (read_csr_shard validates the
// group) in the file's precision, and the whole /vocabulary.
py::tuple read_tfidf(const std::string& path, const py::object& comm_handle) {
  std::optional<CsrShard<float>> single;
  std::optional<CsrShard<double>> twice;
  std::vector<std::string> vocabulary;
  {
    py::gil_scoped_release unlocked;
    const Comm comm = communicator(comm_handle);
    const DatasetRef ref(path, "/X");
    const MatrixShape shape = inspect_matrix(comm, ref);
    run_agreed(comm, [&] {
      if (!shape.sparse)
        throw Error("'" + path + "': /X is a dense dataset, not the CSR group lloyd tfidf writes");
      vocabulary = read_strings(path, "/vocabulary");
      if (vocabulary.size() != shape.cols)
        throw Error("'" + path + "': /vocabulary has " + std::to_string(vocabulary.size()) + " terms for the " +
                    std::to_string(shape.cols) + " columns of /X");
    });
    if (shape.type == ElementType::Float32) single = read_csr_shard<float>(comm, ref, shape);
    else twice = read_csr_shard<double>(comm, ref, shape);
  }
  return py::make_tuple(single ? csr_to_dict(*single) : csr_to_dict(*twice), vocabulary);
}

}  // namespace

void register_text(py::module_& m) {
  m.def("tfidf_fit", &fit, "documents"_a, "options"_a, "float32"_a, "comm"_a);
  m.def("tfidf_transform", &transform, "documents"_a, "options"_a, "terms"_a, "idf"_a, "document_frequency"_a,
        "float32"_a, "comm"_a);
  m.def("read_tfidf", &read_tfidf, "path"_a, "comm"_a);
}

}  // namespace lloyd::python
