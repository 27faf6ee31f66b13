"""An organisation's type from its name, where no source gives one (issue 14: "a type for every organisation").

CORDIS gives every participant an activity type (HES higher or secondary education, REC research, PRC company,
PUB public body, OTH other); keep.eu and the city networks give none.  A logistic regression on the character
n-grams of CORDIS participants' names (half of the 30,720, the other half held out by a hash; scikit-learn,
trained by scripts/make_type_model.py from a full-data warehouse, the intercepts moved to the mix of types of the
other sources' records) reads the type from a name in any of the region's languages.  The model ships as plain
numbers (reference/type_model.json): a build applies it without scikit-learn, and only where the model is sure
enough (its `threshold`, chosen on matched records of other sources; the figures are in the file and the README).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

from .normalise import fold

MODEL = Path(__file__).parent / "reference" / "type_model.json"
FORMAT = 1


def grams(text: str, low: int, high: int) -> list[str]:
    """scikit-learn's `char_wb` analyser: the n-grams (low..high) of each word padded with a space."""
    out = []
    for w in text.split():  # any run of white space splits, as scikit-learn's collapsing then split() does
        w = f" {w} "
        for n in range(low, high + 1):
            out += [w[i:i + n] for i in range(max(len(w) - n + 1, 1))]
            if len(w) <= n:  # a short word counts once
                break
    return out


@lru_cache(maxsize=2)
def load(path: Path = MODEL) -> dict | None:
    """The shipped model, or None when it is missing or of another format (no types are then inferred)."""
    try:
        m = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return m if m.get("format") == FORMAT else None


def _arrays(model: dict) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """The model's n-gram index, coefficients (n-grams x classes) and intercepts as arrays, kept for the last
    model asked for (held with them: an id alone could be a new dict's once the old one is gone)."""
    if _ARRAYS.get("model") is not model:
        _ARRAYS.update(model=model, arrays=({g: i for i, g in enumerate(model["grams"])},
                                            np.array(list(model["grams"].values()), dtype=float),
                                            np.array(model["intercept"], dtype=float)))  # fmt: skip
    return _ARRAYS["arrays"]


_ARRAYS: dict[str, object] = {}


def probabilities(model: dict, names: list[str]) -> np.ndarray:
    """The model's chance of each class (model['classes']) per name (folded: case and accents set aside), as
    scikit-learn computes it: sublinear term frequency of the model's n-grams, L2 norm, softmax."""
    index, coef, intercept = _arrays(model)
    low, high = model["ngram"]
    rows, cols, tf = [], [], []
    for r, name in enumerate(names):
        for i, c in Counter(index[g] for g in grams(fold(name), low, high) if g in index).items():
            rows.append(r)
            cols.append(i)
            tf.append(1.0 + math.log(c))
    rows, cols, tf = np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(tf)
    norm = np.sqrt(np.bincount(rows, weights=tf * tf, minlength=len(names)))
    z = np.tile(intercept, (len(names), 1))
    if len(rows):
        np.add.at(z, rows, coef[cols] * (tf / norm[rows])[:, None])
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def infer(names: list[str], model: dict | None = None) -> list[tuple[str | None, float]]:
    """(activity type, its chance) per name; (None, chance) where the model is not sure enough."""
    model = model or load()
    if model is None:
        return [(None, 0.0)] * len(names)
    if not names:
        return []
    p = probabilities(model, names)
    best, chance = p.argmax(axis=1), p.max(axis=1)
    return [(model["classes"][k] if c >= model["threshold"] else None, round(float(c), 3)) for k, c in zip(best, chance)]
