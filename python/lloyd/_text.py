"""lloyd.tfidf and lloyd.read_tfidf: TF-IDF as `lloyd tfidf` computes it, from Python."""

import numbers
import warnings

import numpy as np
import scipy.sparse as sp

from . import _lloyd, _mpi

_ANALYZERS = ("word", "char", "char_wb")


def _csr(arrays, dtype=None):
    rows = len(arrays["indptr"]) - 1
    return sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=(rows, arrays["columns"]),
                         dtype=dtype)


def _encoded(documents):
    """The documents as UTF-8 bytes (str, or bytes that are UTF-8, as scikit-learn's default
    encoding and decode_error="strict")."""
    if isinstance(documents, (str, bytes)):
        raise ValueError("Iterable over raw text documents expected, string object received.")
    out = []
    for i, document in enumerate(documents):
        if isinstance(document, str):
            out.append(document.encode("utf-8"))
        elif isinstance(document, bytes):
            document.decode("utf-8")  # UnicodeDecodeError (a ValueError) names the byte
            out.append(document)
        else:
            raise ValueError(f"document {i} is a {type(document).__name__}, not a str")
    return out


class Tfidf:
    """A fitted TF-IDF: what lloyd.tfidf returns.

    It unpacks as ``X, vocabulary = lloyd.tfidf(documents)``.

    X : scipy.sparse.csr_matrix (n_documents, n_terms), float64 (or float32 with dtype)
        This rank's documents with comm.
    vocabulary : list of str, the term of each column (all columns, on every rank).
    vocabulary_ : dict term -> column (scikit-learn's attribute).
    idf_ : array (n_terms,), document_frequency_ : array (n_terms,).

    Columns are in lloyd's order — by a hash bucket of the term, then alphabetically — the
    order of `lloyd tfidf`'s files, the same for any number of ranks; scikit-learn sorts its
    columns alphabetically: ``X[:, np.argsort(vocabulary)]`` is scikit-learn's matrix.
    """

    def __init__(self, X, vocabulary, idf, document_frequency, options, dtype, comm):
        self.X = X
        self.vocabulary = vocabulary
        self.idf_ = idf
        self.document_frequency_ = document_frequency
        self._options = options
        self._dtype = dtype
        self._comm = comm

    def __iter__(self):
        return iter((self.X, self.vocabulary))

    @property
    def vocabulary_(self):
        return {term: column for column, term in enumerate(self.vocabulary)}

    def get_feature_names_out(self):
        return np.asarray(self.vocabulary, dtype=object)

    def transform(self, documents):
        """New documents in these columns, with this fit's idf and options (scikit-learn's
        transform; `lloyd tfidf --vocabulary`): terms outside the vocabulary are dropped.
        Collective over the fit's comm: each rank passes its own documents."""
        comm = self._comm
        encoded = _mpi.agreed(comm, lambda: _encoded(documents))
        arrays = _lloyd.tfidf_transform(encoded, self._options, self.vocabulary, self.idf_,
                                        self.document_frequency_, self._dtype == np.float32, _mpi.handle(comm))
        return _csr(arrays)


def _bound(name, value):
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"The '{name}' parameter of tfidf must be a float in the range [0.0, 1.0] or an int "
                             f"in the range [1, inf). Got {value!r} instead.")
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    raise ValueError(f"The '{name}' parameter of tfidf must be a float in the range [0.0, 1.0] or an int in the "
                     f"range [1, inf). Got {value!r} instead.")


def _options(lowercase, strip_accents, stop_words, analyzer, ngram_range, max_df, min_df, max_features, binary,
             norm, use_idf, smooth_idf, sublinear_tf, dtype):
    if analyzer not in _ANALYZERS:
        raise ValueError(f"analyzer must be one of {', '.join(_ANALYZERS)} (a callable is not supported), "
                         f"got {analyzer!r}")
    if strip_accents not in (None, "ascii", "unicode"):
        raise ValueError(f"strip_accents must be None, 'ascii' or 'unicode', got {strip_accents!r}")
    if norm not in (None, "l1", "l2"):
        raise ValueError(f"norm must be 'l1', 'l2' or None, got {norm!r}")
    try:
        low, high = ngram_range
    except (TypeError, ValueError):
        raise ValueError(f"ngram_range must be a tuple (min_n, max_n), got {ngram_range!r}") from None
    if any(not isinstance(n, numbers.Integral) or isinstance(n, bool) for n in (low, high)) or not 1 <= low <= high:
        raise ValueError(f"Invalid value for ngram_range={ngram_range!r}: expected 1 <= min_n <= max_n")
    if max_features is not None and (not isinstance(max_features, numbers.Integral) or isinstance(max_features, bool)
                                     or max_features < 1):
        raise ValueError(f"max_features must be an integer >= 1 or None, got {max_features!r}")
    if np.dtype(dtype) not in (np.float64, np.float32):
        raise ValueError(f"dtype must be float64 or float32, got {dtype!r}")
    if stop_words is None:
        words = []
    elif isinstance(stop_words, str):
        if stop_words != "english":
            raise ValueError(f"stop_words must be 'english', a list of words or None, got {stop_words!r}")
        words = "english"  # the library's copy of scikit-learn's list
    else:
        words = [str(w) for w in stop_words]
    if analyzer != "word" and stop_words is not None:
        warnings.warn("The parameter 'stop_words' will not be used since 'analyzer' != 'word'", UserWarning)
        words = []
    return {
        "lowercase": bool(lowercase), "strip_accents": strip_accents or "none", "stop_words": words,
        "analyzer": analyzer, "ngram_min": int(low), "ngram_max": int(high),
        "min_df": _bound("min_df", min_df), "max_df": _bound("max_df", max_df),
        "max_features": int(max_features or 0), "binary": bool(binary), "norm": norm or "none",
        "use_idf": bool(use_idf), "smooth_idf": bool(smooth_idf), "sublinear_tf": bool(sublinear_tf),
    }


def tfidf(documents, *, lowercase=True, strip_accents=None, stop_words=None, analyzer="word", ngram_range=(1, 1),
          max_df=1.0, min_df=1, max_features=None, binary=False, norm="l2", use_idf=True, smooth_idf=True,
          sublinear_tf=False, dtype=np.float64, comm=None):
    """TF-IDF of a list of strings: scikit-learn's TfidfVectorizer(...).fit_transform on lloyd's
    engine (`lloyd tfidf`), with the parameters of the same names and defaults.

        X, vocabulary = lloyd.tfidf(documents, stop_words="english", min_df=2)
        fitted = lloyd.tfidf(documents); fitted.transform(new_documents)

    The weights are scikit-learn's (same tokens through Python's Unicode classes, same idf and
    norms: equal to ~1e-16); the columns are in lloyd's order (see Tfidf). With comm (mpi4py),
    each rank passes its own documents (in rank order they make up the corpus): X is that
    rank's rows, the vocabulary is counted by all ranks together (no rank gathers the corpus)
    and every rank gets all of it.

    Not supported: callable analyzers, preprocessor, tokenizer, token_pattern (the default
    `(?u)\\b\\w\\w+\\b` is lloyd's), a fixed vocabulary (use transform), input="file"/"filename".
    Returns a Tfidf (unpacks as X, vocabulary).
    """
    def prepare():
        options = _options(lowercase, strip_accents, stop_words, analyzer, ngram_range, max_df, min_df,
                           max_features, binary, norm, use_idf, smooth_idf, sublinear_tf, dtype)
        return options, _encoded(documents)

    options, encoded = _mpi.agreed(comm, prepare)
    n = _mpi.total(comm, len(encoded))

    def check_bounds():
        documents_of = lambda b: b * n if isinstance(b, float) else b  # noqa: E731
        if documents_of(options["max_df"]) < documents_of(options["min_df"]):
            raise ValueError("max_df corresponds to < documents than min_df")

    _mpi.agreed(comm, check_bounds)
    float32 = np.dtype(dtype) == np.float32
    fitted = _lloyd.tfidf_fit(encoded, options, float32, _mpi.handle(comm))
    terms, idf, frequency = fitted["terms"], fitted["idf"], fitted["document_frequency"]
    if comm is not None:  # each rank fitted the columns of its buckets: every rank gets them all
        slices = comm.allgather((terms, idf, frequency))
        terms = [t for s in slices for t in s[0]]
        idf = np.concatenate([s[1] for s in slices])
        frequency = np.concatenate([s[2] for s in slices])
    return Tfidf(_csr(fitted), terms, idf, frequency, options, np.dtype(dtype), comm)


def read_tfidf(path, comm=None):
    """The matrix and vocabulary of a file `lloyd tfidf` wrote: (X, vocabulary).

    X : scipy.sparse.csr_matrix in the file's precision (float64, or float32 for --dtype
        float32), read and validated by lloyd's CSR reader; with comm, this rank's block of
        rows (as `lloyd` splits rows over ranks).
    vocabulary : list of str, the term of each column.
    """
    arrays, vocabulary = _lloyd.read_tfidf(str(path), _mpi.handle(comm))
    return _csr(arrays), list(vocabulary)
