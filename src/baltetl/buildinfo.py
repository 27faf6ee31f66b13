"""What a warehouse build is made from, as one fingerprint.

When a refresh changed none of it, the warehouse on disk is the one a new build would make, and the
build is skipped (the run is still recorded in the state's run history).  The fingerprint covers:

    snapshots   the run id of each source's current snapshot (a snapshot folder never changes)
    revisions   the partners' revision files (names and bytes)
    config      the merged configuration (but its paths: what is read from them is in the other parts)
    code        the warehouse SQL, the contracts and the package's Python code and reference data (the word
                tables, postcode lists and models under src/baltetl/reference)
    reference   the geography tables, and the DuckDB version (its file format)
    model       the learned opportunity ranking in the state folder (`baltetl train-opportunities`), if any

Not in it: the run history and the quarantine (every run adds to them: the warehouse's `runs` holds the
runs up to its build, the state's run history all of them), and the resolution registry, which the build
itself writes from the inputs above.  The fingerprint is kept in `<state>/build.json`, with the identity of
the warehouse file it describes, and in the warehouse's `build_info` table.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib.metadata import version
from pathlib import Path

from .config import Config, revisions_dir
from .landing import now_iso, sha256_of
from .state import State, _atomic_write

PACKAGE = Path(__file__).resolve().parent
# the learned opportunity ranking's file in the state folder is MODEL_PREFIX + its format + '.json'
# (opportunities.MODEL_FILE; named here, as importing opportunities would load numpy and scipy)
MODEL_PREFIX = "opportunity_model.v"


def _tree(files: list[Path]) -> str:
    """One checksum over files (their paths and bytes)."""
    h = hashlib.sha256()
    for p in sorted(files):
        h.update(str(p).encode() + b"\0" + sha256_of(p).encode())
    return h.hexdigest()


def compute(cfg: Config, state: State) -> tuple[str, dict]:
    """-> (fingerprint, its parts) of what a build of this configuration and state would read."""
    revs = revisions_dir(cfg)
    code = [*PACKAGE.rglob("*.py"), *(p for p in (PACKAGE / "reference").rglob("*") if p.is_file()),
            *(cfg.project_dir / "warehouse").rglob("*.sql"), *(cfg.project_dir / "schemas").glob("*.py")]
    models = sorted(Path(cfg.state).glob(f"{MODEL_PREFIX}*.json"))  # of any format version
    parts = {
        "snapshots": {s: state.current(s).name for s in state.sources()},
        "revisions": {p.name: sha256_of(p) for p in sorted(revs.iterdir()) if p.is_file()} if revs.is_dir() else {},
        # paths only say where things are: what is read from them is in the other parts
        "config": hashlib.sha256(json.dumps({k: v for k, v in cfg.raw.items() if k != "paths"}, sort_keys=True,
                                            default=str).encode()).hexdigest(),  # fmt: skip
        "code": _tree([p for p in code if "__pycache__" not in p.parts]),
        "reference": {p.name: sha256_of(p) for p in (cfg.lau, cfg.nuts_changes) if p.exists()},
        "duckdb": version("duckdb"),
        "model": {p.name: sha256_of(p) for p in models},
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest(), parts


def _identity(path: Path) -> dict:
    st = os.stat(path)
    return {"inode": st.st_ino, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def path(state: State) -> Path:
    return state.root / "build.json"


def load(state: State) -> dict | None:
    try:
        return json.loads(path(state).read_text())
    except (OSError, ValueError):
        return None


def record(cfg: Config, state: State, fingerprint: str, parts: dict, run_id: str, counts: dict) -> None:
    """After a build is swapped in: what it was made from, and which file it is."""
    _atomic_write(path(state), json.dumps({
        "fingerprint": fingerprint, "run_id": run_id, "built_at": now_iso(), "counts": counts, "parts": parts,
        "warehouse": str(cfg.warehouse), "file": _identity(cfg.warehouse),
    }, indent=2))  # fmt: skip


def current(cfg: Config, state: State, fingerprint: str) -> dict | None:
    """The last build's record when the warehouse file on disk is that build and it was made from exactly
    `fingerprint`; else None (a rebuild is needed)."""
    info = load(state)
    if not info or info.get("fingerprint") != fingerprint or info.get("warehouse") != str(cfg.warehouse):
        return None
    try:
        return info if _identity(cfg.warehouse) == info.get("file") else None
    except OSError:  # the warehouse file is gone
        return None
