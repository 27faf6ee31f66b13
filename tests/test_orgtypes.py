"""The type read from a name (baltetl.orgtypes): the shipped model applied without scikit-learn gives
scikit-learn's own numbers, on real names."""

from __future__ import annotations

import csv

import numpy as np
from helpers.common import ROOT

from baltetl import orgtypes
from baltetl.normalise import fold


def _real_names() -> list[str]:
    """Both sides of the hand-labelled organisation pairs: real names of every source and language."""
    with open(ROOT / "tests" / "fixtures" / "matching" / "pairs.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return sorted({r[k] for r in rows for k in ("left_name", "right_name") if r[k]})


def test_the_n_grams_are_scikit_learns_char_wb():
    from sklearn.feature_extraction.text import TfidfVectorizer

    model = orgtypes.load()
    analyse = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(model["ngram"])).build_analyzer()
    names = [fold(n) for n in _real_names()] + ["a", "ab", "x  y", "x\ty\n  z", ""]
    assert all(orgtypes.grams(n, *model["ngram"]) == analyse(n) for n in names)


def test_the_chances_are_scikit_learns():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    model = orgtypes.load()
    vocab = list(model["grams"])
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(model["ngram"]), sublinear_tf=True, use_idf=False,
                          vocabulary=vocab).fit(["a fixed vocabulary: nothing is learned"])  # fmt: skip
    lr = LogisticRegression()
    lr.classes_ = np.array(model["classes"])
    lr.coef_ = np.array([model["grams"][g] for g in vocab]).T
    lr.intercept_ = np.array(model["intercept"])
    names = _real_names()
    theirs = lr.predict_proba(vec.transform([fold(n) for n in names]))
    ours = orgtypes.probabilities(model, names)
    assert np.allclose(ours, theirs, atol=1e-9)
    inferred = orgtypes.infer(names, model)
    assert [t for t, _p in inferred] == [model["classes"][k] if p >= model["threshold"] else None
                                         for k, p in zip(theirs.argmax(1), theirs.max(1))]  # fmt: skip
    assert any(t == "HES" for t, _ in inferred) and any(t == "PUB" for t, _ in inferred)


def test_the_model_file_says_what_it_was_trained_on_and_how_it_did():
    model = orgtypes.load()
    assert set(model["classes"]) == {"HES", "REC", "PRC", "PUB", "OTH"} and 0.5 <= model["threshold"] < 1
    assert "CORDIS participants" in model["trained_on"]
    assert {"matched held-out", "labelled pairs held-out"} <= set(model["figures"])


def test_a_missing_or_foreign_model_infers_nothing(tmp_path):
    (tmp_path / "m.json").write_text('{"format": 99}')
    assert orgtypes.load(tmp_path / "m.json") is None and orgtypes.load(tmp_path / "none.json") is None
    assert orgtypes.infer(["Riga City Council"], {"format": 1, "classes": ["PUB"], "ngram": [3, 5], "threshold": 1.01,
                                                  "intercept": [0.0], "grams": {}}) == [(None, 1.0)]  # fmt: skip

