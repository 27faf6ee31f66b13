"""An organisation's type from its name, where no source gives one (issue 14: "a type for every organisation").

CORDIS gives every participant an activity type (HES higher or secondary education, REC research, PRC company,
PUB public body, OTH other); keep.eu, the networks and Eurocities give none.  A logistic regression on the
character n-grams of 30,720 CORDIS participants' names (scikit-learn, trained by scripts/make_type_model.py
from a full-data warehouse) reads the type from a name in any of the region's languages ('Latvian Institute of
Organic Synthesis' REC, 'Vantaan kaupunki' PUB).  The model ships as plain numbers (reference/type_model.json):
a build applies it without scikit-learn, and only where the model is sure enough (its `threshold`, chosen on
matched records of other sources; the figures are in the file and the README).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

from .normalise import fold

MODEL = Path(__file__).parent / "reference" / "type_model.json"
FORMAT = 1
_SPACES = re.compile(r"\s\s+")


def grams(text: str, low: int, high: int) -> list[str]:
    """scikit-learn's `char_wb` analyser: the n-grams (low..high) of each word padded with a space."""
    out = []
    for w in _SPACES.sub(" ", text).split():
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


def probabilities(model: dict, name: str) -> list[float]:
    """The model's chance of each class (model['classes']) for one name (folded: case and accents set aside)."""
    low, high = model["ngram"]
    counts = Counter(g for g in grams(fold(name), low, high) if g in model["grams"])
    # sublinear term frequency, L2 norm over the model's n-grams (TfidfVectorizer without idf)
    tf = {g: 1.0 + math.log(c) for g, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in tf.values())) or 1.0
    z = list(model["intercept"])
    for g, v in tf.items():
        for k, c in enumerate(model["grams"][g]):
            z[k] += c * v / norm
    top = max(z)
    e = [math.exp(x - top) for x in z]
    s = sum(e)
    return [x / s for x in e]


def infer(names: list[str], model: dict | None = None) -> list[tuple[str | None, float]]:
    """(activity type, its chance) per name; (None, chance) where the model is not sure enough."""
    model = model or load()
    if model is None:
        return [(None, 0.0)] * len(names)
    out = []
    for name in names:
        p = probabilities(model, name or "")
        k = max(range(len(p)), key=p.__getitem__)
        out.append((model["classes"][k] if p[k] >= model["threshold"] else None, round(p[k], 3)))
    return out
