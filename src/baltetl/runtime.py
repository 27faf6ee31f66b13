"""A temporary local Prefect API for one CLI run, started in the background while the CLI gets ready.

Without PREFECT_API_URL, Prefect starts a temporary server on the first flow call and waits ~5 s for it.
The CLI starts the same server as its first act instead, so that the wait overlaps with importing the
pipeline and parsing the inputs; if that server does not come up, Prefect's own way is used.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from functools import partial

from .procs import die_with_parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str, proc: subprocess.Popen, timeout: float, poll: float = 0.05) -> bool:
    """Wait until the Prefect API at `url` (served by `proc`) answers its health check: True; False when the
    process ends or `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(poll)
    return False


class TemporaryAPI:
    """The server Prefect itself starts when no API is configured (`prefect.server.api.server`'s
    SubprocessASGIServer): the API and the services that record runs, no UI or maintenance loops, served by
    uvicorn on a free port.  Started here rather than by Prefect so that it comes up while the CLI works."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        env = {**os.environ, "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1", "PREFECT_UI_ENABLED": "0",
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "error", "--lifespan", "on"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            preexec_fn=partial(die_with_parent, os.getpid()),  # killed with the CLI (kill -9, OOM): not left listening
        )  # fmt: skip

    def wait(self, timeout: float = 60.0) -> bool:
        """True once the API answers its health check; False if it died or timed out (then it is stopped)."""
        if healthy(self.url, self.proc, timeout):
            return True
        self.stop(wait=10)
        return False

    def stop(self, wait: float = 0.0) -> None:
        """Ask the server to shut down; it finishes on its own (wait > 0: wait that long, then kill)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            if wait > 0:
                try:
                    self.proc.wait(timeout=wait)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()


def start_if_needed() -> TemporaryAPI | None:
    """Start a temporary API unless PREFECT_API_URL is set (or BALTETL_PREFECT_TEMP_API=0).  It is started
    before Prefect is imported (a second and more while a read-ahead runs): pass it to `unless_profile_api` after."""
    if os.environ.get("PREFECT_API_URL") or os.environ.get("BALTETL_PREFECT_TEMP_API", "1") == "0":
        return None
    return TemporaryAPI()


def unless_profile_api(api: TemporaryAPI | None) -> TemporaryAPI | None:
    """`api`, or None (it is stopped) when the active Prefect profile names an API: that one is used."""
    if api is None:
        return None
    try:
        from prefect.settings import get_current_settings

        if not get_current_settings().api.url:
            return api
    except Exception:  # pragma: no cover - let Prefect decide later
        pass
    api.stop()
    return None
