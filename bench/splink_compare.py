#!/usr/bin/env python
"""splink (DuckDB backend) beside baltetl's matcher, on the same records and the same labelled pairs:
m/u by EM and random sampling, term frequencies on names, blocking rules, clustering at a threshold chosen
on the dev half only; prints dev figures per threshold, then both halves at the chosen one (only when a
threshold reaches precision 0.98 on dev).

    pip install -e '.[eval]'; python bench/splink_compare.py WAREHOUSE   (a build of the full real data with ROR)

Result 2026-12-06 (full data, 74,213 records, 18 s): dev precision 0.811 / recall 0.925 at 0.5, 0.969 / 0.467
at 0.99, 0.977 / 0.432 at 0.999; no threshold reaches 0.98 on dev, so the holdout half was not scored.  The
rule matcher with the same evidence: dev 0.987 / 0.789.  Names are one noisy field here (other languages);
the identifiers are exact and sparse: EM gives a name match in one country too much weight, and a shared
address or city too little against 'two records of one city'."""
import csv, sys, time
from collections import Counter, defaultdict
import duckdb, pandas as pd
from baltetl import resolve
from splink import Linker, SettingsCreator, block_on
import splink.comparison_library as cl
from splink.internals.duckdb.database_api import DuckDBAPI

WH = sys.argv[1]
PAIRS = "/work/main/tests/fixtures/matching/pairs.csv"
t0 = time.time()
con = duckdb.connect(WH, read_only=True)
recs = resolve.load_records(con)
resolve.link_ror(recs, resolve.registry_index(con))
trusted = resolve.trusted_domains(recs)
df_tok = defaultdict(Counter)
for r in recs:
    df_tok[r.country].update(set(r.norm.split()))
rows = []
for r in recs:
    toks = sorted(set(r.norm.split()), key=lambda t: (df_tok[r.country][t], t))
    rows.append({"unique_id": r.key, "country": r.country, "norm": r.norm or None, "tok1": toks[0] if toks else None,
                 "place": r.place, "address": r.address, "domain": r.domain if r.domain in trusted else None,
                 "vat": r.vat, "ror": r.ror, "city": r.city_f or None, "cordis_id": r.cordis_id})
df = pd.DataFrame(rows)
print("records", len(df), round(time.time() - t0, 1), flush=True)
db = duckdb.connect()
api = DuckDBAPI(db)
settings = SettingsCreator(
    link_type="dedupe_only",
    comparisons=[
        cl.JaroWinklerAtThresholds("norm", [0.97, 0.92, 0.85]).configure(term_frequency_adjustments=True),
        cl.ExactMatch("place"), cl.ExactMatch("address"), cl.ExactMatch("domain"), cl.ExactMatch("vat"),
        cl.ExactMatch("ror"), cl.ExactMatch("city"), cl.ExactMatch("cordis_id"),
    ],
    blocking_rules_to_generate_predictions=[
        block_on("country", "norm"), block_on("country", "tok1"), block_on("country", "address"),
        block_on("country", "ror"), block_on("country", "domain"), block_on("vat"), block_on("country", "place"),
        block_on("cordis_id"),
    ],
    retain_intermediate_calculation_columns=False,
)
sdf = api.register(df, table_name="recs")
linker = Linker(sdf, settings)
linker.training.estimate_probability_two_random_records_match([block_on("country", "norm")], recall=0.7)
linker.training.estimate_u_using_random_sampling(max_pairs=2e6)
linker.training.estimate_parameters_using_expectation_maximisation(block_on("country", "tok1"))
linker.training.estimate_parameters_using_expectation_maximisation(block_on("country", "address"))
pred = linker.inference.predict(threshold_match_probability=0.3)
print("predicted", round(time.time() - t0, 1), flush=True)
pairs = list(csv.DictReader(open(PAIRS, encoding="utf-8")))
key = lambda row, s: f"{row[s + '_source']}:{row[s + '_id']}"
known = set(df.unique_id)
pairs = [p for p in pairs if key(p, "left") in known and key(p, "right") in known]


def score(cl_of, split):
    c = Counter()
    for p in pairs:
        if split and p["split"] != split:
            continue
        same = cl_of.get(key(p, "left"), key(p, "left")) == cl_of.get(key(p, "right"), key(p, "right"))
        lab = p["label"] == "1"
        c[("tp" if lab else "fp") if same else ("fn" if lab else "tn")] += 1
    prec = c["tp"] / max(1, c["tp"] + c["fp"]); rec = c["tp"] / max(1, c["tp"] + c["fn"])
    return prec, rec, sum(c.values())


best = None
for th in (0.5, 0.8, 0.9, 0.95, 0.99, 0.999):
    clus = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, threshold_match_probability=th).as_pandas_dataframe()
    cl_of = dict(zip(clus["unique_id"], clus["cluster_id"]))
    p, r, n = score(cl_of, "dev")
    print(f"threshold {th}: dev precision={p:.3f} recall={r:.3f} clusters={clus['cluster_id'].nunique()}", flush=True)
    if p >= 0.98 and (best is None or r > best[1]):
        best = (th, r, cl_of)
if best:
    th, _, cl_of = best
    for split in ("dev", "holdout"):
        p, r, n = score(cl_of, split)
        print(f"splink at {th}: {split} precision={p:.3f} recall={r:.3f} pairs={n}")
print("seconds", round(time.time() - t0, 1))
