"""lloyd.tfidf and lloyd.read_tfidf: scikit-learn's TfidfVectorizer matrix on the committed corpora
(max |difference| <= 4e-15 after putting the columns in its order: row norms summed in another
column order; 1e-15 or less but for char n-grams of the long corpus), the same bits as
`lloyd tfidf` (fit and --vocabulary transform), and bad input raising ValueError."""

import h5py
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

import lloyd
from mpi_analysis import launch
from conftest import DATA


def lines(name):
    text = (DATA / name).read_text(encoding="utf-8")
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")


def sklearn_order(fitted):
    """X's columns in scikit-learn's (alphabetical) order."""
    return fitted.X[:, np.argsort(np.array(fitted.vocabulary, dtype=object))]


OPTIONS = [
    {},
    dict(stop_words="english", ngram_range=(1, 2), min_df=2, max_df=0.9),
    # 140: no tie in total count at the limit (scikit-learn breaks ties by an unstable argsort)
    dict(max_features=140, sublinear_tf=True, norm="l1"),
    dict(use_idf=False, binary=True, norm=None),
    dict(smooth_idf=False, min_df=0.02, max_df=40),
    dict(analyzer="char_wb", ngram_range=(2, 4), strip_accents="unicode"),
    dict(analyzer="char", ngram_range=(1, 3), lowercase=False, strip_accents="ascii"),
    dict(stop_words=["the", "and", "of"], ngram_range=(2, 3)),
]


@pytest.mark.parametrize("corpus", ["tfidf_corpus.txt", "tfidf_multilingual.txt"])
@pytest.mark.parametrize("options", OPTIONS, ids=[",".join(o) or "defaults" for o in OPTIONS])
def test_matrix_is_scikit_learns(corpus, options):
    documents = lines(corpus)
    vectorizer = TfidfVectorizer(**options)
    expected = vectorizer.fit_transform(documents)
    fitted = lloyd.tfidf(documents, **options)
    assert sorted(fitted.vocabulary) == list(vectorizer.get_feature_names_out())
    X = sklearn_order(fitted)
    assert X.shape == expected.shape and X.dtype == np.float64
    assert abs(X - expected).max() <= 4e-15
    np.testing.assert_allclose(fitted.idf_[np.argsort(np.array(fitted.vocabulary, dtype=object))],
                               vectorizer.idf_ if vectorizer.use_idf else 1.0, rtol=1e-15)
    # transform: scikit-learn's, on documents with unseen terms
    new = lines("tfidf_new.txt")
    assert abs(fitted.transform(new)[:, np.argsort(np.array(fitted.vocabulary, dtype=object))]
               - vectorizer.transform(new)).max() <= 4e-15


def test_unpacks_and_names_columns():
    X, vocabulary = fitted = lloyd.tfidf(["the cat sat", "the dog sat", "a cat and a dog"])
    assert isinstance(X, sp.csr_matrix) and X.shape == (3, len(vocabulary))
    assert fitted.vocabulary_["cat"] == vocabulary.index("cat")
    assert list(fitted.get_feature_names_out()) == vocabulary
    assert lloyd.tfidf([b"caf\xc3\xa9 bar", "café bar"]).X.toarray().tolist()[0] == \
        lloyd.tfidf([b"caf\xc3\xa9 bar", "café bar"]).X.toarray().tolist()[1]


def cli_tfidf(cli, tmp_path, corpus, *options):
    out = tmp_path / f"tfidf{len(list(tmp_path.iterdir()))}.h5"
    cli("tfidf", "--input", DATA / corpus, "--output", out, *options)
    return out


def assert_same_csr(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("cli_options,options", [
    ([], {}),
    (["--stop-words", "english", "--ngram", "1,2", "--min-df", "2", "--sublinear-tf"],
     dict(stop_words="english", ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
    (["--dtype", "float32", "--analyzer", "char_wb", "--ngram", "2,3", "--norm", "l1", "--max-features", "500"],
     dict(dtype=np.float32, analyzer="char_wb", ngram_range=(2, 3), norm="l1", max_features=500)),
], ids=["defaults", "words", "float32_chars"])
def test_same_bits_as_lloyd_tfidf(cli, tmp_path, cli_options, options):
    path = cli_tfidf(cli, tmp_path, "tfidf_corpus.txt", *cli_options)
    X, vocabulary = lloyd.read_tfidf(path)
    fitted = lloyd.tfidf(lines("tfidf_corpus.txt"), **options)
    assert fitted.vocabulary == vocabulary
    assert_same_csr(fitted.X, X)
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(fitted.idf_, f["/idf"][()])
        np.testing.assert_array_equal(fitted.document_frequency_, f["/document_frequency"][()])
    # transform: `lloyd tfidf --vocabulary`
    transformed = tmp_path / "new.h5"
    cli("tfidf", "--input", DATA / "tfidf_new.txt", "--vocabulary", path, "--output", transformed,
        *(["--dtype", "float32"] if "float32" in cli_options else []))
    assert_same_csr(fitted.transform(lines("tfidf_new.txt")), lloyd.read_tfidf(transformed)[0])


def test_read_tfidf_refuses_other_files(tmp_path):
    with pytest.raises(ValueError, match="cannot open|does not exist|no such|No such"):
        lloyd.read_tfidf(tmp_path / "missing.h5")
    with pytest.raises(ValueError, match="dense dataset, not the CSR group"):
        lloyd.read_tfidf(DATA / "metrics_blobs_f64.h5")
    with pytest.raises(ValueError, match="vocabulary"):
        lloyd.read_tfidf(DATA / "cosine_sparse.h5")  # a CSR matrix, but no /vocabulary


@pytest.mark.parametrize("call,message", [
    (lambda: lloyd.tfidf("one document"), "Iterable over raw text documents expected"),
    (lambda: lloyd.tfidf(["a b", 3]), "document 1 is a int, not a str"),
    (lambda: lloyd.tfidf(["ab cd"], min_df=0), "The 'min_df' parameter of tfidf must be"),
    (lambda: lloyd.tfidf(["ab cd"], max_df=1.5), "The 'max_df' parameter of tfidf must be"),
    (lambda: lloyd.tfidf(["ab cd"], ngram_range=(2, 1)), "Invalid value for ngram_range=(2, 1)"),
    (lambda: lloyd.tfidf(["ab cd"], analyzer=str.split), "analyzer must be one of"),
    (lambda: lloyd.tfidf(["ab cd", "ab"], min_df=2, max_df=1), "max_df corresponds to < documents than min_df"),
    (lambda: lloyd.tfidf(["ab cd", "ef"], min_df=2), "no terms remain"),
    (lambda: lloyd.tfidf(["ab"], norm="l3"), "norm must be"),
    (lambda: lloyd.tfidf([b"\xff bad"]), "can't decode byte 0xff"),
])
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value)


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_with_comm_every_rank_its_documents(cli, tmp_path, ranks):
    path = cli_tfidf(cli, tmp_path, "tfidf_corpus.txt", "--dtype", "float32")
    assert launch(ranks, "tfidf", LLOYD_TFIDF_FILE=str(path)).count("OK") == ranks
