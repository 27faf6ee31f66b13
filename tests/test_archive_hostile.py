"""Hostile and broken archives (issue 19, items 3, 6, 7, 11): a tar cut at a member boundary, decompression
bombs, members over the limits, a shrinking --input, symbolic links in an input folder, temporary files of
killed runs.  Every bomb is built small in tmp_path; each test runs in seconds with bounded memory."""

from __future__ import annotations

import io
import lzma
import subprocess
import sys
import tarfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from helpers.common import SAMPLE, sample_cut

from baltetl import archive, pipeline
from baltetl.archive import ArchiveError, Limits
from baltetl.landing import Landing
from baltetl.state import State

MB = 1 << 20


def plain_sample_tar(tmp_path: Path) -> Path:
    """The bundled real CORDIS sample as a plain (uncompressed) tar."""
    out = tmp_path / "cordis-sample.tar"
    out.write_bytes(lzma.decompress(SAMPLE.read_bytes()))
    return out


def cut_at_member(tar: Path, keep: int, out: Path) -> Path:
    """`tar` cut just before the header of its `keep`-th file member: whole members, no end-of-archive block."""
    with tarfile.open(tar, "r:") as t:
        files = [m for m in t.getmembers() if m.isfile()]
    out.write_bytes(tar.read_bytes()[: files[keep].offset])
    return out


def zero_members(path: Path, sizes: dict[str, int], mode: str = "w:xz") -> Path:
    """A tar of members full of zeros (highly compressible), written without holding them in memory."""

    class Zeros(io.RawIOBase):
        def __init__(self, n):
            self.left = n

        def readable(self):
            return True

        def readinto(self, b):
            n = min(len(b), self.left)
            b[:n] = bytes(n)
            self.left -= n
            return n

    kw = {"preset": 0} if mode.endswith("xz") else {}
    with tarfile.open(path, mode, **kw) as t:
        for name, size in sizes.items():
            info = tarfile.TarInfo(name)
            info.size = size
            t.addfile(info, io.BufferedReader(Zeros(size)))
    return path


def zip_bomb(path: Path, size: int) -> Path:
    """A zip holding one member of `size` zero bytes (deflate: about 1,000 to 1)."""
    block = bytes(MB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z, z.open("data/bomb.xml", "w", force_zip64=True) as f:
        for _ in range(size // MB):
            f.write(block)
    return path


def load(cfg, **kw):
    """One source's refresh (land, parse, stage), no build: -> its result."""
    with pipeline.refresh_lock(cfg):
        return pipeline.refresh_source(cfg, "cordis", pipeline.new_run_id(), **kw)


def override(tmp_path: Path, body: str):
    from baltetl.config import load_config

    toml = tmp_path / "override.toml"
    toml.write_text(body, encoding="utf-8")
    return load_config(toml, warehouse=tmp_path / "wh" / "baltmet.duckdb")


# ------------------------------------------------------------------------------------ completeness (item 3)


def test_a_plain_tar_cut_at_a_member_boundary_is_refused(tmp_path):
    cut = cut_at_member(plain_sample_tar(tmp_path), 402, tmp_path / "cut.tar")
    with tarfile.open(cut, "r:") as t:  # tarfile itself takes it for a whole archive
        assert sum(m.isfile() for m in t) == 402
    with pytest.raises(ArchiveError, match=r"cut\.tar: archive is truncated: no end-of-archive block after 4\d\d members"):
        list(archive.iter_members(cut))
    with pytest.raises(ArchiveError, match="truncated"):
        archive.names(cut)
    assert len(archive.names(cut, limit=100)) == 100  # the first members are enough to tell the edition


def test_a_compressed_tar_must_reach_its_end_marker(tmp_path):
    whole = plain_sample_tar(tmp_path)
    gz = tmp_path / "sample.tar.gz"
    import gzip

    gz.write_bytes(gzip.compress(whole.read_bytes(), compresslevel=1))
    assert len(list(archive.iter_members(gz))) == 575
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(gz.read_bytes()[:-6])  # all the tar is there but the end of the gzip stream
    with pytest.raises(ArchiveError, match=r"cut\.tar\.gz: archive is truncated or corrupt"):
        list(archive.iter_members(cut))


def test_a_tar_cut_at_a_member_boundary_fails_the_refresh_naming_the_users_file(cfg, tmp_path):
    load(cfg, sample=True)
    cut = cut_at_member(plain_sample_tar(tmp_path), 402, tmp_path / "my-cordis-download.tar")
    result = load(cfg, input_path=str(cut))
    assert result.status == "failed"
    assert result.message.startswith(f"ArchiveError: {cut} (landed as input-")
    assert "archive is truncated: no end-of-archive block" in result.message
    assert State(cfg.state).meta("cordis")["counts"]["projects"] == 575  # the last good data stays


# ------------------------------------------------------------------------------------- drop guard (item 3)


def test_an_input_that_drops_many_rows_is_refused_unless_accepted(cfg, tmp_path):
    load(cfg, sample=True)
    small = tmp_path / "cordis-100.zip"
    small.write_bytes(sample_cut(100))
    result = load(cfg, input_path=str(small))
    assert result.status == "failed"
    assert "far fewer rows than last time" in result.message and "--accept-shrink" in result.message
    assert State(cfg.state).meta("cordis")["counts"]["projects"] == 575
    result = load(cfg, input_path=str(small), accept_shrink=True)
    assert result.status == "success", result.message
    assert State(cfg.state).meta("cordis")["counts"]["projects"] == 100


@pytest.mark.slow
def test_a_small_drop_passes_and_the_share_is_configured_per_source(tmp_path):
    cfg = override(tmp_path, "[sources.cordis]\nmax_drop_share = 0.05\n")
    load(cfg, sample=True)
    fewer = tmp_path / "cordis-570.zip"
    fewer.write_bytes(sample_cut(570))  # 0.9 % fewer projects, 1.3 % fewer participations
    assert load(cfg, input_path=str(fewer)).status == "success"
    cfg2 = override(tmp_path, "[sources.cordis]\nmax_drop_share = 0.001\n")
    fewer.write_bytes(sample_cut(560))
    result = load(cfg2, input_path=str(fewer))
    assert result.status == "failed" and "max_drop_share = 0.001" in result.message


@pytest.mark.slow
def test_the_cli_refuses_a_shrinking_input_and_accepts_it_with_the_flag(prefect_api, cfg, tmp_path):
    from typer.testing import CliRunner

    from baltetl.cli import app

    load(cfg, sample=True)
    small = tmp_path / "cordis-100.zip"
    small.write_bytes(sample_cut(100))
    runner = CliRunner()
    base = ["refresh", "--source", "cordis", "--warehouse", str(cfg.warehouse), "--no-publish"]
    refused = runner.invoke(app, [*base, "--input", str(small)])
    assert refused.exit_code == 1 and "far fewer rows" in refused.output
    accepted = runner.invoke(app, [*base, "--input", str(small), "--accept-shrink"])
    assert accepted.exit_code == 0, accepted.output


# ----------------------------------------------------------------------------------------- limits (item 6)


@pytest.mark.slow
def test_a_zip_bomb_is_refused_in_bounded_memory_and_time(tmp_path):
    bomb = zip_bomb(tmp_path / "bomb.zip", 256 * MB)
    assert bomb.stat().st_size < 512 * 1024
    tracemalloc.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(ArchiveError, match=r"bomb\.zip: unpacks to more than 100 times its size .*max_ratio"):
            list(archive.iter_members(bomb))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - t0 < 5
    assert peak < 64 * MB


@pytest.mark.slow
def test_a_tar_xz_bomb_is_refused_at_once(tmp_path):
    bomb = zero_members(tmp_path / "bomb.tar.xz", {"data/a.xml": 256 * MB})
    assert bomb.stat().st_size < 256 * 1024
    t0 = time.monotonic()
    with pytest.raises(ArchiveError, match=r"bomb\.tar\.xz: unpacks to more than 100 times"):
        archive.names(bomb)
    with pytest.raises(ArchiveError, match="max_ratio"):
        list(archive.iter_members(bomb))
    assert time.monotonic() - t0 < 5


@pytest.mark.slow
def test_skipping_a_large_tar_member_is_linear(tmp_path):
    """names() passes over a 64 MiB member (68 s before: tarfile's stream buffer was copied at every block)."""
    big = zero_members(tmp_path / "big.tar.xz", {"data/big.bin": 64 * MB, "data/1.xml": 10})
    t0 = time.monotonic()
    assert archive.names(big, limits=Limits(max_ratio=1e9)) == ["data/big.bin", "data/1.xml"]
    assert list(archive.iter_members(big, lambda n: n.endswith(".xml"), limits=Limits(max_ratio=1e9))) == [
        ("data/1.xml", bytes(10))
    ]
    assert time.monotonic() - t0 < 6


def test_a_gzip_bomb_fails_the_keep_source(cfg, tmp_path):
    import gzip

    bomb = tmp_path / "partners.csv.gz"
    with gzip.open(bomb, "wb", compresslevel=1) as g:
        for _ in range(64):
            g.write(bytes(MB))
    with pytest.raises(ArchiveError, match=r"partners\.csv\.gz: unpacks to more than 100 times"):
        archive.gunzip(bomb, bomb.name)
    with pipeline.refresh_lock(cfg):
        result = pipeline.refresh_source(cfg, "keep", pipeline.new_run_id(), input_path=str(bomb))
    assert result.status == "failed" and "max_ratio" in result.message and str(bomb) in result.message


@pytest.mark.parametrize(
    "limits, message",
    [
        (Limits(max_member_bytes=MB), r"member 'data/2-big\.xml' is 2097152 bytes, over 1 MB \(archive max_member_mb\)"),
        (Limits(max_total_bytes=2 * MB, max_ratio=1e9), r"unpacks to more than 2 MB \(archive max_total_mb\)"),
        (Limits(max_members=2), r"more than 2 members \(archive max_members\)"),
    ],
)
@pytest.mark.parametrize("packing", ["w:xz", "w:", "zip", "dir"])
def test_each_limit_is_a_clear_archive_error(tmp_path, limits, message, packing):
    sizes = {"data/1.xml": 10, "data/2-big.xml": 2 * MB, "data/3.xml": 2 * MB}
    if packing == "zip":
        path = tmp_path / "in.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, size in sizes.items():
                z.writestr(name, bytes(size))
    elif packing == "dir":
        path = tmp_path / "in"
        for name, size in sizes.items():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            (path / name).write_bytes(bytes(size))
    else:
        path = zero_members(tmp_path / ("in.tar.xz" if packing == "w:xz" else "in.tar"), sizes, packing)
    with pytest.raises(ArchiveError, match=rf"^{path.name}: " + message):
        list(archive.iter_members(path, limits=limits))
    assert len(list(archive.iter_members(path))) == 3  # within the default limits


@pytest.mark.parametrize("packing", ["w:xz", "w:", "zip"])
def test_an_archive_just_under_the_total_limit_passes(tmp_path, packing):
    """Each unpacked byte counts once: a tar's stream and its members are one count, not two."""
    sizes = {"data/1.xml": 3 * MB, "data/2.xml": 3 * MB}
    if packing == "zip":
        path = tmp_path / "in.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, size in sizes.items():
                z.writestr(name, bytes(size))
    else:
        path = zero_members(tmp_path / ("in.tar.xz" if packing == "w:xz" else "in.tar"), sizes, packing)
    got = list(archive.iter_members(path, limits=Limits(max_total_bytes=7 * MB, max_ratio=1e9)))
    assert [len(d) for _, d in got] == [3 * MB, 3 * MB]


def test_the_time_bound(tmp_path):
    path = zero_members(tmp_path / "in.tar", {f"data/{i}.xml": 100_000 for i in range(50)}, "w:")
    members = archive.iter_members(path, limits=Limits(max_seconds=0.3))
    with pytest.raises(ArchiveError, match=r"in\.tar: reading it took more than 0\.3 s \(archive max_seconds\)"):
        for _ in members:
            time.sleep(0.05)  # the parser's work between members counts


def test_limits_are_configured_per_source_and_fail_the_source_keeping_its_data(tmp_path):
    cfg = override(tmp_path, "[archive]\nmax_members = 50\n[sources.cordis.archive]\nmax_members = 1000\n"
                             "[sources.keep.archive]\nmax_member_mb = 0.5\n")  # fmt: skip
    assert Limits.of(cfg, cfg.source("cordis")).max_members == 1000
    assert Limits.of(cfg, cfg.source("keep")) == Limits(max_members=50, max_member_bytes=MB // 2)
    load(cfg, sample=True)
    tight = override(tmp_path, "[sources.cordis.archive]\nmax_members = 100\n")
    plain = plain_sample_tar(tmp_path)  # the same projects, other bytes: parsed again
    result = load(tight, input_path=str(plain))
    assert result.status == "failed"
    assert "more than 100 members (archive max_members)" in result.message and str(plain) in result.message
    assert State(cfg.state).meta("cordis")["counts"]["projects"] == 575


def test_the_real_sample_fits_the_default_limits(cfg):
    limits = Limits.of(cfg, cfg.source("cordis"))
    assert len(list(archive.iter_members(SAMPLE, limits=limits))) == 575


# -------------------------------------------------------------------------------- input folders (item 7)


def test_a_folder_input_with_a_symbolic_link_is_refused(cfg, tmp_path):
    folder = tmp_path / "networks"
    folder.mkdir()
    (folder / "members.csv").write_text("a;b\n1;2\n")
    (folder / "passwd.csv").symlink_to("/etc/passwd")
    with pytest.raises(ValueError, match=r"networks: passwd\.csv is a symbolic link.*not landed"):
        Landing(cfg.landing).land_file(folder, "networks", "input", f"input:{folder}")
    assert not any((cfg.landing / "networks").glob("input-*"))
    with pipeline.refresh_lock(cfg):
        result = pipeline.refresh_source(cfg, "networks", pipeline.new_run_id(), input_path=str(folder))
    assert result.status == "failed" and "symbolic link" in result.message


# ------------------------------------------------------------------------- leftovers of killed runs (item 11)


def test_temporary_files_of_dead_runs_are_removed_at_the_next_landing(cfg, tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        folder = cfg.landing / "cordis"
        folder.mkdir(parents=True)
        left = [folder / f".input.{dead.pid}.tmp", folder / f".input.{dead.pid}.zip",
                folder / f".horizon.{dead.pid}.139872.part"]  # fmt: skip
        running = folder / f".input.{alive.pid}.tmp"
        for p in [*left, running]:
            p.write_bytes(b"x" * 1000)
        Landing(cfg.landing).land_file(SAMPLE, "cordis", "sample", "sample:test")
        assert [p for p in left if p.exists()] == []
        assert running.exists()  # another refresh's file, still being written
    finally:
        alive.kill()
        alive.wait()
