"""A real, small filesystem for one test: a tmpfs mounted in a temporary folder, which a test
can fill up (the disk is full), remount read-only (the database file cannot be written) and
give back. Mounting needs root (CI and the developers' machines run as root); elsewhere the
tests that need it are skipped, and under CI (CI=true) they fail instead, so a CI run never
passes without them."""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class SmallDisk:
    path: Path

    @property
    def filler(self) -> Path:
        return self.path / "filler.bin"

    def fill(self) -> None:
        """Write zeros until the filesystem says it is full (it may already be: then the
        filler cannot even be created, which is the same fault)."""
        chunk = b"\0" * 65536
        try:
            with open(self.filler, "ab") as f:
                while True:
                    f.write(chunk)
                    f.flush()
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def read_only(self) -> None:
        _mount("-o", "remount,ro", str(self.path))

    def read_write(self) -> None:
        _mount("-o", "remount,rw", str(self.path))


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


def _can_mount() -> str | None:
    if os.geteuid() != 0:
        return "mounting a small filesystem needs root"
    probe = Path(tempfile.mkdtemp(prefix="mount-probe-"))
    try:
        _mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe))
        subprocess.run(["umount", str(probe)], check=True, capture_output=True)
        return None
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"this machine cannot mount a tmpfs: {exc}"
    finally:
        probe.rmdir()


@contextmanager
def small_disk(size_mb: int) -> Iterator[SmallDisk]:
    """A tmpfs of `size_mb` MiB for the duration of the block."""
    why = _can_mount()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    folder = Path(tempfile.mkdtemp(prefix="small-disk-"))
    _mount("-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(folder))
    try:
        yield SmallDisk(folder)
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)
        folder.rmdir()
