"""Render the README's data dictionary from warehouse/dictionary.yaml (the one source of truth).

    python scripts/dictionary.py > dictionary.md
"""

from pathlib import Path

from baltetl import dictionary

if __name__ == "__main__":
    print(dictionary.markdown(Path(__file__).resolve().parents[1] / "warehouse" / dictionary.FILE), end="")
