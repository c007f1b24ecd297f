"""A throwaway PostgreSQL server for the tests: Debian's `postgresql` binaries, a fresh cluster
in a temporary folder, listening on a Unix socket only (no TCP port), created and removed by
the test run. As root (CI) the server runs as the `postgres` system user, as PostgreSQL asks.

Each test gets its own database (`fresh_database`), dropped afterwards.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from glob import glob
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text


def binaries() -> Path | None:
    """The newest installed PostgreSQL bin folder (apt-get install postgresql), if any."""
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def started_server() -> Iterator[PostgresServer]:
    """A throwaway server for a fixture, removed after it. Without the binaries the test is
    skipped with the command that installs them; under CI (CI=true) it fails instead, so a CI
    run never passes without them."""
    if binaries() is None:
        message = "PostgreSQL is not installed: apt-get install postgresql (make test does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer.start()
    yield server
    server.stop()


@dataclass
class PostgresServer:
    folder: Path
    bin: Path
    user: str
    port: int = 5432

    @property
    def socket_dir(self) -> str:
        return str(self.folder)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@/{database}?host={self.socket_dir}&port={self.port}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True)

    @staticmethod
    def start() -> PostgresServer:
        bin_dir = binaries()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        folder = Path(tempfile.mkdtemp(prefix="pgtest-"))
        user = "postgres" if os.geteuid() == 0 else getpass.getuser()
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        server = PostgresServer(folder, bin_dir, user)
        data = folder / "data"
        server._run("initdb", "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync")
        server.resume()
        return server

    def pause(self) -> None:
        """Stop the server (fast: open connections are cut), keeping its data: the database went away."""
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        """Start the server on its data (again): the database is back."""
        options = f"-k {self.folder} -p {self.port} -c listen_addresses='' -c fsync=off -c max_connections=200"
        log = str(self.folder / "log")
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        try:
            if (self.folder / "data" / "postmaster.pid").exists():  # not already paused by the test
                self.pause()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def fresh_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return name

    def drop_database(self, name: str) -> None:
        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
