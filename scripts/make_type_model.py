"""Trains the type-from-name model (src/baltetl/reference/type_model.json, see baltetl/orgtypes.py) on a
warehouse built from the full real data: CORDIS participants' names and activity types.

    python scripts/make_type_model.py WAREHOUSE

Test sets, each split in two by a hash of the record's key fixed before any fitting:
  cordis   CORDIS participants not trained on (the held-out half of them);
  matched  records of other sources in a golden organisation whose type CORDIS gives (the matcher joined them:
           its dev half sets the mix of types the intercepts are moved to, and the threshold, the least chance at
           which 90 % of the types are right);
  labelled the other-source side of the hand-labelled same-organisation pairs with a CORDIS side
           (tests/fixtures/matching/pairs.csv, labelled from addresses, VAT numbers, websites: independent of
           this model and of the matcher), each half reported.
"""

import csv
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

import duckdb
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from baltetl import orgtypes
from baltetl.normalise import fold

TYPES = ("HES", "REC", "PRC", "PUB", "OTH")
NGRAM, C, MAX_FEATURES, MIN_ACCURACY = (3, 5), 10.0, 20000, 0.9
ROOT = Path(__file__).resolve().parents[1]


def held_out(key: str) -> bool:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % 2 == 1


def scores(model, vec, rows):
    if not rows:
        return np.array([]), np.array([]), np.array([])
    p = model.predict_proba(vec.transform([fold(n) for n, _ in rows]))
    return model.classes_[p.argmax(1)], p.max(1), np.array([t for _, t in rows])


def line(pred, conf, truth, threshold):
    sure = conf >= threshold
    return (f"{len(truth)} records: all {np.mean(pred == truth):.3f} right; at p >= {threshold:.2f} "
            f"{sure.mean():.2f} typed, {np.mean(pred[sure] == truth[sure]):.3f} right")


def main(warehouse: str) -> None:
    con = duckdb.connect(warehouse, read_only=True)
    types = ", ".join(f"'{t}'" for t in TYPES)
    cordis = con.execute(f"SELECT org_key, name, activity_type FROM organisations WHERE source = 'cordis' "
                         f"AND activity_type IN ({types}) ORDER BY org_key").fetchall()  # fmt: skip
    matched = con.execute(f"""
        SELECT o.org_key, o.name, g.activity_type FROM organisations o JOIN organisation_sources s USING (org_key)
        JOIN golden_organisations g USING (golden_id)
        WHERE o.source <> 'cordis' AND g.activity_type IN ({types}) ORDER BY o.org_key""").fetchall()
    by_id = {k: t for k, _n, t in cordis}
    labelled = {"dev": [], "holdout": []}
    with open(ROOT / "tests" / "fixtures" / "matching" / "pairs.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["label"] != "1" or {r["left_source"], r["right_source"]} == {"cordis"}:
                continue
            for side, other in (("left", "right"), ("right", "left")):
                t = by_id.get(f"cordis:{r[other + '_id']}") if r[other + "_source"] == "cordis" else None
                if t and r[side + "_source"] != "cordis":
                    labelled[r["split"]].append((r[side + "_name"], t))
    train = [(fold(n), t) for k, n, t in cordis if not held_out(k)]
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAM, min_df=3, sublinear_tf=True, use_idf=False,
                          max_features=MAX_FEATURES)  # fmt: skip
    x = vec.fit_transform([n for n, _ in train])
    model = LogisticRegression(C=C, max_iter=3000).fit(x, [t for _, t in train])
    # the types of the other sources' organisations are not CORDIS's mix (far fewer companies): the intercepts
    # move by the log ratio of the two mixes, the matched records' dev half against the training names
    dev = [(n, t) for k, n, t in matched if not held_out(k)]
    mix_dev, mix_train = Counter(t for _, t in dev), Counter(t for _, t in train)
    model.intercept_ = model.intercept_ + np.log([(mix_dev[c] / len(dev)) / (mix_train[c] / len(train)) for c in model.classes_])
    pred, conf, truth = scores(model, vec, dev)
    threshold = next((th for th in np.arange(0.5, 0.96, 0.05) if np.mean(pred[conf >= th] == truth[conf >= th]) >= MIN_ACCURACY), 0.95)
    figures = {
        "cordis held-out": line(*scores(model, vec, [(n, t) for k, n, t in cordis if held_out(k)]), threshold),
        "matched dev (chose the threshold)": line(pred, conf, truth, threshold),
        "matched held-out": line(*scores(model, vec, [(n, t) for k, n, t in matched if held_out(k)]), threshold),
        "labelled pairs dev": line(*scores(model, vec, labelled["dev"]), threshold),
        "labelled pairs held-out": line(*scores(model, vec, labelled["holdout"]), threshold),
    }
    names = vec.get_feature_names_out()
    doc = {"format": orgtypes.FORMAT, "classes": [str(c) for c in model.classes_], "ngram": list(NGRAM),
           "threshold": round(float(threshold), 2), "intercept": [round(float(v), 4) for v in model.intercept_],
           "trained_on": f"{len(train)} CORDIS participants (Horizon Europe XML edition of 2025-12-06, CC BY 4.0), "
                         f"activity types {dict(sorted(Counter(t for _, t in train).items()))}",
           "figures": figures,
           "grams": {str(g): [round(float(v), 4) for v in model.coef_[:, i]] for i, g in enumerate(names)}}  # fmt: skip
    orgtypes.MODEL.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    for k, v in figures.items():
        print(f"{k}: {v}")
    print(orgtypes.MODEL, f"threshold={doc['threshold']}")


if __name__ == "__main__":
    main(sys.argv[1])
