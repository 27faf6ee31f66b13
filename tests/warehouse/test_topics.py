"""Topic relevance: the flag, the topics and the reasons per project, from the configured profile."""

import pytest

from helpers.topics import Mini, config_with


@pytest.fixture
def mini(tmp_path):
    m = Mini(tmp_path / "mini.duckdb")
    yield m
    m.con.close()


def by_key(mini):
    return {r["project_key"]: r for r in mini.rows("SELECT * FROM project_topics")}


def test_each_project_gets_a_flag_topics_and_the_reasons_that_matched(mini, cfg):
    mini.project("cordis:1", keywords="Smart-City platforms, digital twins")
    mini.project("cordis:2", euroscivoc="/29/99/549;/23/45/293")
    mini.project("cordis:3", topics="HORIZON-MISS-2022-CIT-01-01")
    mini.project("interreg_se:4", topics="RSO1.1")
    mini.project("keep:5", programme="2007 - 2013 URBACT II", title="Jobs for young people")
    mini.project("cordis:6", title="Urban heat islands in Riga")
    mini.project("cordis:7", euroscivoc="/25/77/94443578/1269")
    mini.project("cordis:8", objective="We study innovation ecosystems and the smart specialisation of regions.")
    mini.build(cfg)
    pt = by_key(mini)
    assert pt["cordis:1"]["relevant"] and pt["cordis:1"]["topics"] == ["smart_cities"]
    assert pt["cordis:1"]["reasons"] == ["keyword:smart city"]  # the configured phrase, whatever the spelling
    assert pt["cordis:2"]["topics"] == ["urban_policy"] and pt["cordis:2"]["reasons"] == ["euroscivoc:/29/99/549"]
    # the Cities Mission is both urban policy and smart cities: one reason, two topics
    assert pt["cordis:3"]["topics"] == ["smart_cities", "urban_policy"]
    assert pt["cordis:3"]["reasons"] == ["call:HORIZON-MISS-2022-CIT-01-01"]
    assert pt["interreg_se:4"]["topics"] == ["innovation"] and pt["interreg_se:4"]["reasons"] == ["priority:RSO1.1"]
    assert pt["keep:5"]["reasons"] == ["programme:2007 - 2013 URBACT II"]
    assert pt["cordis:6"]["topics"] == ["urban_policy"] and pt["cordis:6"]["reasons"] == ["keyword:urban"]
    # a euroSciVoc code covers the fields below it: smart cities is also urban engineering
    assert pt["cordis:7"]["topics"] == ["smart_cities", "urban_policy"]
    assert pt["cordis:7"]["reasons"] == ["euroscivoc:/25/77/94443578/1269"]
    assert pt["cordis:8"]["reasons"] == ["keyword:innovation ecosystems", "keyword:smart specialisation"]
    # which reason made which topic
    m = mini.rows("SELECT topic, kind, reason FROM project_topic_matches WHERE project_key = 'cordis:3' ORDER BY topic")
    assert [(r["topic"], r["kind"]) for r in m] == [("smart_cities", "call"), ("urban_policy", "call")]


def test_near_misses_are_not_relevant(mini, cfg):
    # astronomy's clusters, a broad word outside the title, a code that only starts like a configured one,
    # a phrase inside a longer word, a call of another mission
    mini.project("cordis:1", title="Old and young star clusters", keywords="globular clusters, galaxy clusters")
    mini.project("cordis:2", title="Aerosol chemistry", objective="Measurements in urban and rural air.")
    mini.project("cordis:3", euroscivoc="/29/99/5491;/25/77/944435789")
    mini.project("cordis:4", keywords="smart cityscape photography")
    mini.project("cordis:5", topics="HORIZON-MISS-2022-OCEAN-01-01")
    mini.build(cfg)
    pt = by_key(mini)
    assert len(pt) == 5
    for key, row in pt.items():
        assert not row["relevant"] and row["topics"] == [] and row["reasons"] == [], key


def test_hidden_projects_are_left_out(mini, cfg):
    mini.project("cordis:1", keywords="smart city")
    mini.project("cordis:2", keywords="smart city", hidden=True)
    mini.build(cfg)
    assert set(by_key(mini)) == {"cordis:1"}
    assert {r["project_key"] for r in mini.rows("SELECT project_key FROM project_topic_matches")} == {"cordis:1"}


def test_the_profile_is_configured_by_an_override_file(mini, tmp_path):
    cfg = config_with(tmp_path, """
        [topics.profile.smart_cities]
        enabled = false

        [topics.profile.innovation]
        keywords = ["open innovation"]     # replaces the default list

        [topics.profile.maritime]
        label = "blue economy"
        keywords = ["blue economy"]
        priorities = ["RSO2.7"]
        """, tmp_path / "wh.duckdb")  # fmt: skip
    mini.project("cordis:1", keywords="smart city")
    mini.project("cordis:2", objective="An open innovation platform for the blue economy.")
    mini.project("cordis:3", objective="A living lab.")  # a default innovation phrase, no longer configured
    mini.project("interreg_se:4", topics="RSO2.7")
    mini.build(cfg)
    pt = by_key(mini)
    assert not pt["cordis:1"]["relevant"]
    assert pt["cordis:2"]["topics"] == ["innovation", "maritime"]
    assert not pt["cordis:3"]["relevant"]
    assert pt["interreg_se:4"]["reasons"] == ["priority:RSO2.7"]
    labels = dict((r["topic"], r["label"]) for r in mini.rows("SELECT DISTINCT topic, label FROM topic_profile"))
    assert labels["maritime"] == "blue economy" and "smart_cities" not in labels


def test_a_misspelt_key_is_an_error(tmp_path):
    from baltetl.config import ConfigError
    from baltetl.topics import load_profile

    cfg = config_with(tmp_path, '[topics.profile.innovation]\nkeyword = ["x"]\n', tmp_path / "wh.duckdb")
    with pytest.raises(ConfigError, match="keyword"):
        load_profile(cfg)


def test_keyword_pattern_folds_case_spaces_and_hyphens():
    import re

    from baltetl.topics import keyword_pattern, norm_term

    assert norm_term("Smart-City ") == norm_term("smart  city") == "smart city"
    pat = keyword_pattern(("smart city", "e-government"))
    # RE2 and Python agree on this subset: (?i), \b, [\s\-]+
    found = [m.group(1) for m in re.finditer(pat, "SMART CITY; smart-city; smartcity; E government; e-governments")]
    assert found == ["SMART CITY", "smart-city", "E government"]
    assert keyword_pattern(()) is None


def test_organisation_topic_profile_counts_projects_type_and_networks(mini, cfg):
    mini.project("cordis:1", keywords="smart city")
    mini.project("cordis:2", keywords="smart cities, urban planning")
    mini.project("cordis:3", keywords="smart city", hidden=True)
    mini.project("cordis:4", title="Protein folding")
    mini.org("rtu", "riga", activity_type="HES", projects=["cordis:1", "cordis:2", "cordis:3", "cordis:4"])
    mini.org("riga_city", "riga", org_type="city", networks=["Eurocities", "UBC"])
    mini.org("ghost", "riga", activity_type="HES", projects=["cordis:1"], hidden=True)
    mini.build(cfg)
    ot = {(r["golden_id"], r["topic"]): r for r in mini.rows("SELECT * FROM organisation_topics")}
    assert ot[("rtu", "smart_cities")]["weight"] == 2 and ot[("rtu", "smart_cities")]["projects"] == 2  # not the hidden one
    assert ot[("rtu", "urban_policy")]["weight"] == 1 and ot[("rtu", "urban_policy")]["evidence"] == "1 project"
    # a city of the topic's org_types and a member of its networks: type_weight + network_weight (1 + 1)
    city = ot[("riga_city", "urban_policy")]
    assert city["weight"] == 2 and city["projects"] == 0 and city["networks"] == ["Eurocities", "UBC"]
    assert city["evidence"] == "type City, member of Eurocities, UBC"
    assert not any(g == "ghost" for g, _ in ot)
    assert {t for g, t in ot if g == "rtu"} == {"smart_cities", "urban_policy"}
