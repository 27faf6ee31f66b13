"""Co-operation marts and the opportunity report: hand-made rows, the bundled sample, the full real data."""

import re
import time

import duckdb
import pytest

from helpers.common import run_refresh
from helpers.topics import PAST, Mini, config_with


@pytest.fixture
def mini(tmp_path):
    m = Mini(tmp_path / "mini.duckdb")
    yield m
    m.con.close()


def pairs(mini) -> dict:
    return {(r["golden_a"], r["golden_b"]): r for r in mini.rows("SELECT * FROM opportunities")}


def build_network(mini, cfg):
    """Riga, Helsinki and Tallinn organisations on smart cities, innovation and urban policy."""
    m = mini
    for i in range(1, 8):
        m.project(f"cordis:sc{i}", keywords="smart city")
    m.project("cordis:inno1", objective="regional innovation ecosystems")
    m.project("cordis:inno2", objective="regional innovation ecosystems")
    m.project("cordis:joint", keywords="smart city")  # rtu and uh share it: they are no opportunity
    m.project("cordis:old", keywords="smart city", end=PAST)  # ended: no existing link
    m.project("cordis:secret", keywords="smart city", hidden=True)
    m.org("rtu", "riga", activity_type="HES", projects=["cordis:sc1", "cordis:sc2", "cordis:inno1", "cordis:joint"])
    m.org("riga_city", "riga", org_type="City", networks=["Eurocities", "UBC"], projects=["cordis:sc3"])
    m.org("riga_sme", "riga", activity_type="PRC", projects=["cordis:sc4", "cordis:old"])
    m.org("uh", "helsinki", activity_type="HES", projects=["cordis:sc5", "cordis:joint"])
    m.org("vtt", "helsinki", activity_type="REC", projects=["cordis:sc6", "cordis:inno2", "cordis:old"])
    m.org("hel_city", "helsinki", org_type="City", networks=["Eurocities", "UBC"], projects=["cordis:sc7"])
    m.org("tallinn_co", "tallinn", activity_type="PRC", projects=["cordis:sc1"])  # shares sc1 with rtu
    m.org("hidden_co", "tallinn", activity_type="PRC", projects=["cordis:sc2"], hidden=True)
    m.org("secret_co", "tallinn", activity_type="PRC", projects=["cordis:secret"])
    m.org("outside", None, activity_type="PRC", projects=["cordis:sc3"])  # in no metropolis
    return m.build(cfg)


def test_opportunities_exclude_shared_projects_same_metropolis_and_hidden(mini, cfg):
    build_network(mini, cfg)
    opp = pairs(mini)
    assert opp, "some opportunities"
    for (a, b), r in opp.items():
        assert r["metro_a"] < r["metro_b"]  # different metropolises, each pair once
    ids = {g for p in opp for g in p}
    assert ("helsinki", "riga") in {(r["metro_a"], r["metro_b"]) for r in opp.values()}
    assert ("uh", "rtu") not in opp and ("rtu", "uh") not in opp  # they share cordis:joint
    assert ("rtu", "tallinn_co") not in opp  # share cordis:sc1
    assert not ids & {"hidden_co", "outside"}
    # secret_co's only project is hidden: no topics, no opportunity
    assert "secret_co" not in ids
    assert ("vtt", "rtu") in opp and ("hel_city", "riga_city") in opp
    # riga_sme and vtt took part in the same project, which ended: still no opportunity (they know each other)
    assert ("vtt", "riga_sme") not in opp


def test_the_score_is_the_sum_of_its_parts_and_the_reasons_say_them(mini, cfg):
    from baltetl.topics import opportunity_settings

    build_network(mini, cfg)
    s = opportunity_settings(cfg)
    weights = {(r["golden_id"], r["topic"]): r["weight"] for r in mini.rows("SELECT * FROM organisation_topics")}
    for (a, b), r in pairs(mini).items():
        assert r["score"] == pytest.approx(r["topic_score"] + r["network_score"] + r["complementary_score"], abs=1e-3)
        # topic part: per shared topic, the weaker side's strength w / (w + topic_half)
        shared = sorted(t for (g, t) in weights if g == a and (b, t) in weights)
        assert sorted(r["shared_topics"]) == shared
        expected = s["topic_weight"] * sum(min(weights[(g, t)] / (weights[(g, t)] + s["topic_half"]) for g in (a, b)) for t in shared)
        assert r["topic_score"] == pytest.approx(expected, abs=1e-3)
        # the sentence names each part with its points, and only the parts that count
        text = r["reasons"]
        assert re.search(r"topics \+([\d.]+)", text).group(1) == f"{r['topic_score']:.2f}"
        labels = dict((x["topic"], x["label"]) for x in mini.rows("SELECT DISTINCT topic, label FROM topic_profile"))
        for t in r["shared_topics"]:
            assert labels[t] + " (" in text
        if r["network_score"] > 0:
            assert f"both members of {', '.join(r['shared_networks'])}: networks +{r['network_score']:.2f}" in text
        else:
            assert "networks +" not in text
        if r["complementary_score"] > 0:
            assert r["complementary"] and f"): +{r['complementary_score']:.2f}" in text
        else:
            assert r["complementary"] is None and "complementary" not in text
    city = pairs(mini)[("hel_city", "riga_city")]
    assert city["shared_networks"] == ["Eurocities", "UBC"] and city["network_score"] == pytest.approx(0.5)
    assert city["complementary"] is None  # both public
    assert pairs(mini)[("vtt", "riga_city")]["complementary"] == "research + public"


def test_opportunities_are_ranked_and_bounded(mini, cfg, tmp_path):
    build_network(mini, cfg)  # the default bounds keep every candidate of this small network
    every = mini.rows("SELECT golden_a, golden_b, score FROM opportunities")
    best = {}
    for r in every:
        for g in (r["golden_a"], r["golden_b"]):
            best[g] = max(best.get(g, 0), r["score"])
    tight = config_with(tmp_path, "[opportunities]\nper_organisation = 1\nper_metropolis_pair = 2\n", tmp_path / "wh.duckdb")
    mini.build(tight)
    rows = mini.rows("SELECT * FROM opportunities ORDER BY metro_a, metro_b, rank_in_pair")
    assert 0 < len(rows) < len(every)
    per_pair: dict = {}
    for r in rows:
        per_pair.setdefault((r["metro_a"], r["metro_b"]), []).append(r)
        # each kept opportunity is the best one of (at least) one of its two organisations
        assert r["score"] in (best[r["golden_a"]], best[r["golden_b"]])
    for ps in per_pair.values():
        assert len(ps) <= 2
        assert [p["rank_in_pair"] for p in ps] == list(range(1, len(ps) + 1))
        assert [p["score"] for p in ps] == sorted((p["score"] for p in ps), reverse=True)
    mo = {(r["metro_a"], r["metro_b"]): r for r in mini.rows("SELECT * FROM metropolis_opportunities")}
    assert set(mo) == set(per_pair)
    for k, ps in per_pair.items():
        assert mo[k]["opportunities"] == len(ps) and mo[k]["top_score"] == ps[0]["score"]
        assert mo[k]["candidates"] >= len(ps)
        assert set(mo[k]["top_topics"]) == {t for p in ps for t in p["shared_topics"]}


def test_metropolis_links_count_ongoing_projects_with_partners_in_both(mini, cfg):
    build_network(mini, cfg)
    links = {(r["metro_a"], r["metro_b"]): r for r in mini.rows("SELECT * FROM metropolis_links")}
    # cordis:joint (rtu + uh) links Helsinki and Riga; cordis:old ended; cordis:sc1 links Riga and Tallinn
    hr = links[("helsinki", "riga")]
    assert hr["project_keys"] == ["cordis:joint"] and hr["ongoing_projects"] == 1 and hr["related_projects"] == 1
    assert (hr["organisations"], hr["organisations_a"], hr["organisations_b"]) == (2, 1, 1)
    assert links[("riga", "tallinn")]["project_keys"] == ["cordis:sc1"]
    assert ("helsinki", "tallinn") not in links  # only through hidden_co (hidden) and cordis:secret (hidden)
    assert "cordis:secret" not in {k for r in links.values() for k in r["project_keys"]}


@pytest.fixture(scope="module")
def sample_wh(tmp_path_factory):
    """The bundled samples of CORDIS and Eurocities (cities with their networks)."""
    from baltetl.config import load_config

    cfg = load_config(warehouse=tmp_path_factory.mktemp("sample") / "wh.duckdb")
    for source in ("cordis", "eurocities"):
        result, _ = run_refresh(cfg, source, sample=True)
        assert result.status == "success", result.message
    return cfg


def test_the_sample_warehouse_has_the_marts(sample_wh):
    con = duckdb.connect(str(sample_wh.warehouse), read_only=True)
    try:
        n, relevant, inconsistent = con.execute(
            """SELECT count(*), count(*) FILTER (WHERE relevant),
                      count(*) FILTER (WHERE relevant <> (len(reasons) > 0) OR relevant <> (len(topics) > 0))
               FROM project_topics""").fetchall()[0]  # fmt: skip
        assert n == 575 and 20 < relevant < 575 and inconsistent == 0
        # every reason of a project is one of its matches, every topic a configured one
        orphan = con.execute("""SELECT count(*) FROM project_topics pt, unnest(pt.reasons) r(reason)
                                WHERE NOT EXISTS (SELECT 1 FROM project_topic_matches m
                                                  WHERE m.project_key = pt.project_key AND m.reason = r.reason)""").fetchall()[0][0]  # fmt: skip
        assert orphan == 0
        assert {r[0] for r in con.execute("SELECT DISTINCT unnest(topics) FROM project_topics").fetchall()} <= \
            {r[0] for r in con.execute("SELECT topic FROM topic_profile").fetchall()}  # fmt: skip
        assert con.execute("SELECT count(*) FROM metropolis_links WHERE related_projects > 0").fetchall()[0][0] > 0
        n_opp, same, shared = con.execute(
            """SELECT count(*), count(*) FILTER (WHERE metro_a >= metro_b),
                      count(*) FILTER (WHERE EXISTS (
                          SELECT 1 FROM participations pa JOIN organisation_sources oa ON oa.org_key = pa.org_key
                          JOIN participations pb ON pb.project_key = pa.project_key
                          JOIN organisation_sources ob ON ob.org_key = pb.org_key
                          WHERE oa.golden_id = o.golden_a AND ob.golden_id = o.golden_b))
               FROM opportunities o""").fetchall()[0]  # fmt: skip
        assert n_opp > 0 and same == 0 and shared == 0
        # Eurocities members are cities: the urban policy profile holds some by type and network alone
        assert con.execute("SELECT count(*) FROM organisation_topics WHERE projects = 0 AND 'Eurocities' IN networks").fetchall()[0][0] > 0
    finally:
        con.close()


def test_the_text_weights_are_scikit_learns_tfidf(sample_wh, full_warehouse_if_shared, monkeypatch):
    """The projects' TF-IDF made in DuckDB (opportunities._text_terms) is scikit-learn's TfidfVectorizer with the
    same settings: the same words in the same order, the same weights (to float32 rounding), on the real project
    texts of the bundled sample (and of the full data when ../shared/data is here); its stop words are
    scikit-learn's.  Where max_features cuts the vocabulary, the words kept are the most frequent (scikit-learn
    breaks ties at the cut in no set order; here the words in order)."""
    import numpy as np
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer, TfidfVectorizer

    from baltetl import opportunities as opp

    words = [w for w in opp.STOP_WORDS.read_text(encoding="utf-8").split("\n") if w and not w.startswith("#")]
    assert set(words) == set(ENGLISH_STOP_WORDS)
    # (8,000 texts of the full data: all of them have more than max_features words)
    docs = "SELECT project_key, concat_ws(' ', title, keywords, objective) AS text FROM projects ORDER BY project_key LIMIT 8000"
    for cfg in filter(None, (sample_wh, full_warehouse_if_shared)):
        with duckdb.connect(str(cfg.warehouse), read_only=True) as con:
            texts = con.execute(f"SELECT * FROM ({docs}) ORDER BY project_key").df()["text"]
            terms, vocabulary = opp._text_terms(con, docs)
            monkeypatch.setitem(opp.TEXT, "max_features", 500)
            _, cut = opp._text_terms(con, docs)
            monkeypatch.setitem(opp.TEXT, "max_features", 30_000)
        v = TfidfVectorizer(dtype=np.float32, sublinear_tf=True, stop_words="english", **{**opp.TEXT, "max_features": None})
        theirs = v.fit_transform(texts)
        assert len(texts) > 20 and 100 < len(vocabulary) < opp.TEXT["max_features"]  # (not cut: every word compared)
        assert list(v.get_feature_names_out()) == list(vocabulary) and "the" not in set(vocabulary)
        ours = opp._text_matrix(terms, vocabulary, len(texts), np.arange(len(texts)))
        # Python lower-cases 'İstanbul' to 'i' + a combining dot + 'stanbul' (so scikit-learn reads 'stanbul'),
        # DuckDB to 'istanbul': the texts whose words differ so (one in the full data's 8,000), and the texts with
        # such a word (its weight differs), are left out
        diff = abs((ours != 0).astype(np.int8) - (theirs != 0).astype(np.int8))
        words_differ = np.flatnonzero(diff.sum(axis=0).A1)
        same = (diff.sum(axis=1).A1 == 0) & ((theirs[:, words_differ] != 0).sum(axis=1).A1 == 0)
        assert same.sum() >= 0.99 * len(texts) and len(words_differ) <= 2
        assert abs(ours[same] - theirs[same]).max() < 1e-6
        counts = CountVectorizer(stop_words="english", vocabulary=vocabulary).fit_transform(texts).sum(axis=0).A1
        total = dict(zip(vocabulary, counts))
        kept = {w: total[w] for w in cut}
        assert len(cut) == 500 and min(kept.values()) >= max(c for w, c in total.items() if w not in kept)
        assert list(cut) == sorted(cut)


@pytest.fixture(scope="module")
def full_warehouse_if_shared(request):
    """The session's full-data warehouse's configuration when ../shared/data is here, else None."""
    from helpers.common import FULL_INPUTS

    if not all(p is None or p.exists() for p in FULL_INPUTS.values()):
        return None
    return request.getfixturevalue("full_warehouse")[0]


def test_the_command_prints_links_and_opportunities_with_reasons(sample_wh):
    from typer.testing import CliRunner

    from baltetl.cli import app

    res = CliRunner().invoke(app, ["opportunities", "--metropolis", "Riga", "--top", "5", "-w", str(sample_wh.warehouse)])
    assert res.exit_code == 0, res.output
    assert "Existing links" in res.output and "Helsinki" in res.output
    ranked = re.findall(r"^\s+(\d+)\. (\d+\.\d\d)  .*\(Riga", res.output, flags=re.M)
    assert [int(i) for i, _ in ranked] == list(range(1, len(ranked) + 1)) and len(ranked) == 5
    scores = [float(s) for _, s in ranked]
    assert scores == sorted(scores, reverse=True)
    flat = " ".join(res.output.split())  # reasons are wrapped
    assert flat.count("Both work on") == 5 and flat.count("no shared project yet.") == 5
    bad = CliRunner().invoke(app, ["opportunities", "-m", "atlantis", "-w", str(sample_wh.warehouse)])
    assert bad.exit_code == 2 and "riga" in bad.output


@pytest.fixture(scope="module")
def full_wh(full_warehouse):
    return full_warehouse[0]


@pytest.mark.shared
def test_full_data_riga_has_opportunities_with_reasons(full_wh):
    from typer.testing import CliRunner

    from baltetl.cli import app

    con = duckdb.connect(str(full_wh.warehouse), read_only=True)
    try:
        relevant = con.execute("SELECT count(*) FROM project_topics WHERE relevant").fetchall()[0][0]
        assert 1000 < relevant < 10000  # a profile, not every project
        riga = con.execute("SELECT count(*), count(DISTINCT reasons) FROM opportunities WHERE 'riga' IN (metro_a, metro_b)").fetchall()[0]
        assert riga[0] >= 100 and riga[1] > 10
        links = con.execute("SELECT count(*) FROM metropolis_links WHERE 'riga' IN (metro_a, metro_b)").fetchall()[0][0]
        assert links >= 8  # Riga works with most metropolises already
    finally:
        con.close()
    res = CliRunner().invoke(app, ["opportunities", "-m", "riga", "-n", "10", "-w", str(full_wh.warehouse)])
    assert res.exit_code == 0, res.output
    assert len(re.findall(r"^\s+\d+\. \d+\.\d\d  .*\(Riga", res.output, flags=re.M)) == 10
    assert " ".join(res.output.split()).count("no shared project yet.") == 10


@pytest.mark.shared
def test_full_data_marts_are_bounded_and_quick(full_wh, tmp_path):
    """No all-pairs blow-up: the marts rebuild in seconds on a copy of the full warehouse, within the bounds."""
    import shutil

    from baltetl import topics
    from baltetl.topics import opportunity_settings
    from baltetl.warehouse import sql_dir

    copy = tmp_path / "copy.duckdb"
    shutil.copy(full_wh.warehouse, copy)
    con = duckdb.connect(str(copy))
    try:
        t = time.perf_counter()
        counts = topics.build(con, full_wh, sql_dir(full_wh), log=lambda m: None)
        elapsed = time.perf_counter() - t
        s = opportunity_settings(full_wh)
        pairs_, worst_pair = con.execute(
            "SELECT count(*), max(opportunities) FROM metropolis_opportunities").fetchall()[0]  # fmt: skip
        assert counts["opportunities"] <= pairs_ * s["per_metropolis_pair"] and worst_pair <= s["per_metropolis_pair"]
        assert con.execute("SELECT count(*) FROM golden_organisations").fetchall()[0][0] > 50000
    finally:
        con.close()
    assert elapsed < 60, f"opportunity marts took {elapsed:.1f} s"


def test_words_counted_during_resolution_give_the_same_text_weights(sample_wh, tmp_path):
    """A build counts the words of the metropolis organisations' projects while it resolves (count_words); the
    TF-IDF read from those counts is the one counted afresh, also for a text changed after the counting (a
    revision's correction: counted again) and for a project that was not counted."""
    import shutil

    from baltetl import opportunities as opp

    copy = tmp_path / "copy.duckdb"
    shutil.copy(sample_wh.warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        opp.count_words(con)
        counted = [r[0] for r in con.execute(f"SELECT project_key FROM {opp.WORDS}_texts ORDER BY 1").fetchall()]
        assert len(counted) > 20
        con.execute(f"DELETE FROM {opp.WORDS}_texts WHERE project_key = ?", [counted[1]])  # as if not counted
        con.execute("UPDATE projects SET objective = objective || ' zanzibar zanzibar' WHERE project_key IN (?, ?)", counted[::2][:2])
        docs = f"SELECT project_key, {opp.PROJECT_TEXT} AS text FROM projects"
        fresh, words = opp._text_terms(con, docs)
        ahead, words_ahead = opp._text_terms(con, docs, counted=True)
    assert "zanzibar" in set(words) and list(words) == list(words_ahead)
    order = ["doc", "col"]
    assert fresh.sort_values(order).reset_index(drop=True).equals(ahead.sort_values(order).reset_index(drop=True))
