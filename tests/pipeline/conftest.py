"""Fixtures of the refresh's tests."""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os

import pytest
from helpers.common import ROOT


@pytest.fixture(scope="module")
def forkserver():
    """Children forked from a server that has imported crash_child (baltetl, pandera, the contracts) once."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["crash_child"])
    with pytest.MonkeyPatch.context() as mp:  # Python 3.11's forkserver ignores sys.path when preloading
        mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT / "tests"), os.environ.get("PYTHONPATH")])))
        multiprocessing.forkserver.ensure_running()
    return ctx
