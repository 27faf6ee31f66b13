"""Writes the first names of Faker's person providers (src/baltetl/reference/given_names.txt), and their family
names (family_names.txt), read by baltetl/personal.py: the first names of every locale of a European country (EUROPE), in Latin script, folded
(lower case, ASCII), two letters or more.  Names of other scripts are left out: transliterated, they give
abbreviations such as 'md' or 'sdh'; so are the locales of other continents and Faker's generic 'en' list, whose
rare names ('Alesia', 'Kenya', 'Basel', 'Hall') are words of organisation names here (chosen on the tuning set of
the person-name detector, README).

    python scripts/make_given_names.py        (needs Faker: pip install -e '.[test]')

A build reads the file (≈ 20 ms) instead of importing Faker's 86 person providers (≈ 0.3 s on the build's path).
"""

import importlib
import pkgutil
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "baltetl" / "reference" / "given_names.txt"
sys.path.insert(0, str(ROOT / "src"))


# the countries of Europe (and of the Council of Europe's neighbours in the Caucasus) whose locales count
EUROPE = frozenset("AL AD AM AT AZ BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GE GR HR HU IE IS IT LI LT LU LV MC MD "
                   "ME MK MT NL NO PL PT RO RS RU SE SI SK SM TR UA XK".split())  # fmt: skip


def _latin(name: str) -> bool:
    return all(unicodedata.name(c, "").startswith("LATIN") for c in name if c.isalpha())


FIRST = ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary")
LAST = ("last_names", "last_names_male", "last_names_female")
OUT_LAST = ROOT / "src" / "baltetl" / "reference" / "family_names.txt"


def names(attrs: tuple[str, ...] = FIRST) -> tuple[str, list[str], list[str]]:
    """(Faker's version, its European locales with a person provider, the folded names of `attrs`, sorted)."""
    import faker
    import faker.providers.person as person

    from baltetl.normalise import fold

    out: set[str] = set()
    locales = []
    for module in pkgutil.iter_modules(person.__path__):
        if module.name.partition("_")[2] not in EUROPE:
            continue
        try:
            provider = importlib.import_module(f"{person.__name__}.{module.name}").Provider
        except (ImportError, AttributeError):
            continue
        locales.append(module.name)
        for attr in attrs:
            value = next((base.__dict__[attr] for base in provider.__mro__ if attr in base.__dict__), None)
            if isinstance(value, (tuple, list, dict, set, frozenset)):
                out.update(fold(n) for n in value if isinstance(n, str) and _latin(n))
    return faker.VERSION, locales, sorted(n for n in out if len(n) > 1)


def text(attrs: tuple[str, ...] = FIRST) -> str:
    version, locales, kept = names(attrs)
    what = "first" if attrs == FIRST else "family"
    head = (f"# {what} names of Faker {version}'s person providers (MIT licence), {len(locales)} European locales, Latin "
            f"script, folded; made by scripts/make_given_names.py\n")
    return head + "\n".join(kept) + "\n"


if __name__ == "__main__":
    OUT.write_text(text(FIRST), encoding="utf-8")
    OUT_LAST.write_text(text(LAST), encoding="utf-8")
    print(f"written {OUT} and {OUT_LAST}")
