"""A published site of the real bundled samples plus partner revisions made for the tests: an organisation whose
name is an XSS attempt, persons with and without consent (with e-mail addresses and phones), a hidden
organisation with a consented person, a hidden project, an e-mail address inside an organisation name.

Built once per test session (the first module that asks builds it) and shared by test_publish.py and
test_site_browser.py.
"""

from __future__ import annotations

import csv
import io
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.common import refresh_run

SOURCES = ("cordis", "eurocities", "networks", "keep", "clusters")  # clusters: the hand-made, illustrative sample
EVIL_KEY = "revisions:evil-oy"
EVIL_NAME = '<script>window.__pwned=1</script> Evil Oy <img src=x onerror="window.__pwned=2;alert(1)">'
EVIL_PROJECT = "cordis:101052342"  # Biodiversa-plus, ongoing, partners in eight metropolises
HIDDEN_PROJECT = "keep:2014-2020-iwater-9019b2dad1"
HIDDEN_ORG_NAME = "Hidden Helsinki Org Zq"
MAILBOX_NAME = "Mailbox Oy"
KNOWN_ORG = "HELSINGIN YLIOPISTO"  # University of Helsinki in the real CORDIS sample
CONSENTED = {"name": "Aino Consented", "email": "aino.consented@example.org", "phone": "+358 40 111 2222"}
CONSENTED_2 = {"name": "Maija Mailbox", "email": "maija.mailbox@example.org"}  # at the organisation named with an address
# what must never leave the warehouse: persons without consent (or withdrawn, or of a hidden organisation),
# their e-mail addresses and phones, an e-mail address written into a name, the partners' own addresses
SECRETS = ["Ville Nonconsent", "ville.nonconsent@example.org", "+358 40 999 8888",
           "Jane Withheld", "jane.withheld@example.com",
           "Hanna Hiddenorg", "hanna.hiddenorg@example.org", HIDDEN_ORG_NAME,
           "Olli Withdrawn", "olli.withdrawn@example.org",
           "kontakt.person@mailbox-oy.example.fi", "helsinki.partner@example.net"]  # fmt: skip

COLUMNS = ["op", "target", "other", "author", "date", "reason", "name", "country", "city", "metropolis_id", "website",
           "role", "email", "phone", "consent_to_publish"]  # fmt: skip


def revision_rows() -> list[dict]:
    a = {"author": "helsinki.partner@example.net", "date": "2026-11-20"}
    return [
        {**a, "op": "add_organisation", "target": EVIL_KEY, "name": EVIL_NAME, "country": "FI", "city": "Helsinki",
         "metropolis_id": "helsinki", "website": "javascript:alert(1)"},
        {**a, "op": "link", "target": EVIL_KEY, "other": EVIL_PROJECT, "role": "participant"},
        {**a, "op": "add_person", "target": EVIL_KEY, "role": "Contact", "consent_to_publish": "yes", **CONSENTED},
        {**a, "op": "add_person", "target": EVIL_KEY, "name": "Ville Nonconsent", "email": "ville.nonconsent@example.org",
         "phone": "+358 40 999 8888", "consent_to_publish": "no"},
        {**a, "op": "add_person", "target": "eurocities:LV:riga", "name": "Jane Withheld",
         "email": "jane.withheld@example.com", "consent_to_publish": "no"},
        {**a, "op": "add_person", "target": "eurocities:LV:riga", "name": "Olli Withdrawn", "date": "2026-11-01",
         "email": "olli.withdrawn@example.org", "consent_to_publish": "yes"},
        {**a, "op": "add_person", "target": "eurocities:LV:riga", "name": "Olli Withdrawn", "date": "2026-11-21",
         "email": "olli.withdrawn@example.org", "consent_to_publish": "no", "reason": "consent withdrawn"},
        {**a, "op": "add_organisation", "target": "revisions:hidden-helsinki-org", "name": HIDDEN_ORG_NAME,
         "country": "FI", "city": "Helsinki", "metropolis_id": "helsinki"},
        {**a, "op": "add_person", "target": "revisions:hidden-helsinki-org", "name": "Hanna Hiddenorg",
         "email": "hanna.hiddenorg@example.org", "consent_to_publish": "yes"},
        {**a, "op": "hide", "target": "revisions:hidden-helsinki-org"},
        {**a, "op": "hide", "target": HIDDEN_PROJECT},
        {**a, "op": "add_organisation", "target": "revisions:mailbox-oy", "name": "Mailbox Oy kontakt.person@mailbox-oy.example.fi",
         "country": "FI", "city": "Helsinki", "metropolis_id": "helsinki"},
        {**a, "op": "add_person", "target": "revisions:mailbox-oy", "consent_to_publish": "yes", **CONSENTED_2},
    ]  # fmt: skip


def write_revisions(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in revision_rows():
        w.writerow(row)
    (folder / "tests.csv").write_text(buf.getvalue(), encoding="utf-8")
    return folder


@dataclass
class Published:
    cfg: object
    warehouse: Path
    site: Path
    result: dict


_BUILT: dict[str, Published] = {}


def published_sample(tmp_path_factory) -> Published:
    if "sample" not in _BUILT:
        from baltetl.config import load_config
        from baltetl.publish import publish

        root = tmp_path_factory.mktemp("published")
        cfg = load_config(warehouse=root / "wh" / "baltmet.duckdb")
        cfg.raw["paths"]["revisions"] = str(write_revisions(root / "revisions"))
        _, results, _ = refresh_run(cfg, SOURCES)  # one run of every source, one build
        assert [r.status for r in results] == ["success"] * len(SOURCES), [r.message for r in results]
        out = root / "site"
        _BUILT["sample"] = Published(cfg, cfg.warehouse, out, publish(cfg, out, log=lambda m: None))
    return _BUILT["sample"]


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


@contextmanager
def chromium():
    """Debian's headless Chromium driven by Playwright; the test skips, saying why, where either is absent."""
    if not CHROMIUM.exists():
        pytest.skip(f"needs Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extras")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
