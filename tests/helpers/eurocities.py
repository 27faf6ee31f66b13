"""Helpers for the Eurocities tests: the real name/country pairs of the bundled sample and the member
directory generated from them in the assumed WordPress card markup."""

from __future__ import annotations

import re
from html import escape

from anyascii import anyascii

from helpers.common import ROOT

SAMPLE_DIR = ROOT / "src" / "baltetl" / "sources" / "eurocities" / "sample" / "eurocities"
TEXT = SAMPLE_DIR / "members_from_website_2025-05-18.txt"


def pairs() -> list[tuple[str, str]]:
    lines = [ln.strip() for ln in TEXT.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    return list(zip(lines[0::2], lines[1::2]))


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", anyascii(name).lower().replace("’", "").replace("'", "")).strip("-")


CARD = """    <li class="city-card">
      <a href="{href}" class="city-card__link">
        <figure class="city-card__image"><img src="/wp-content/uploads/{slug}.jpg" alt=""></figure>
        <h3 class="city-card__title">{name}</h3>
      </a>
      <span class="city-card__country">{country}</span>
    </li>"""


def directory_html(members, *, base="https://eurocities.eu", next_page: str | None = None) -> str:
    """The member directory in the assumed WordPress markup: one <li> card per member."""
    cards = "\n".join(
        CARD.format(href=f"{base}/cities/{slug(n)}/", slug=slug(n), name=escape(n), country=escape(c)) for n, c in members
    )
    paging = f'<nav class="pagination"><a class="next page-numbers" href="{next_page}">Next</a></nav>' if next_page else ""
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head><meta charset="UTF-8"><title>Cities - Eurocities</title>
<link rel="canonical" href="https://eurocities.eu/cities/" /></head>
<body class="archive post-type-archive post-type-archive-cities">
<header><nav><ul><li><a href="/cities/">Cities</a></li><li><a href="/about-us/">About us</a></li></ul></nav></header>
<main id="main">
  <h1>Our members</h1>
  <ul class="cities-list">
{cards}
  </ul>
  {paging}
</main>
</body>
</html>"""
