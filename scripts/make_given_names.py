"""Writes the first names of Faker's person providers (src/baltetl/reference/given_names.txt), read by
baltetl/personal.py: every locale's first names in Latin script, folded (lower case, ASCII), two letters or more.
Names of other scripts are left out: transliterated, they give abbreviations such as 'md' or 'sdh'.

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


def _latin(name: str) -> bool:
    return all(unicodedata.name(c, "").startswith("LATIN") for c in name if c.isalpha())


def names() -> tuple[str, list[str], list[str]]:
    """(Faker's version, its locales with a person provider, the folded first names, sorted)."""
    import faker
    import faker.providers.person as person

    from baltetl.normalise import fold

    out: set[str] = set()
    locales = []
    for module in pkgutil.iter_modules(person.__path__):
        try:
            provider = importlib.import_module(f"{person.__name__}.{module.name}").Provider
        except (ImportError, AttributeError):
            continue
        locales.append(module.name)
        for attr in ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary"):
            value = next((base.__dict__[attr] for base in provider.__mro__ if attr in base.__dict__), None)
            if isinstance(value, (tuple, list, dict, set, frozenset)):
                out.update(fold(n) for n in value if isinstance(n, str) and _latin(n))
    return faker.VERSION, locales, sorted(n for n in out if len(n) > 1)


def text() -> str:
    version, locales, kept = names()
    head = (f"# first names of Faker {version}'s person providers (MIT licence), {len(locales)} locales, Latin script, "
            f"folded; made by scripts/make_given_names.py\n")
    return head + "\n".join(kept) + "\n"


if __name__ == "__main__":
    OUT.write_text(text(), encoding="utf-8")
    print(f"written {OUT}")
