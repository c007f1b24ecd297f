"""The console's login gate.

A password hash (scrypt, from `CONSOLE_PASSWORD_HASH` or Streamlit secrets `[console]
password_hash`) turns the gate on. There is no default password: without a hash the console
serves loopback only, and refuses to serve anything on another address.

    python -m console.auth hash        # prompts for a password, prints the hash to configure
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import hmac
import ipaddress
import os
import secrets
import sys
import threading
import time
import tomllib
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from db.console_sessions import Backoff

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SECRETS_FILE = Path(__file__).resolve().parents[1] / ".streamlit" / "secrets.toml"
FAILED_LOGIN_DELAY_S = 1.0


def backoff_rule() -> Backoff:
    """The backoff in force: CONSOLE_LOCKOUT_FAILURES free wrong passwords per source (default 5),
    then a wait of 30 s that doubles with each further failure up to CONSOLE_LOCKOUT_MINUTES
    (default 15). Attempts refused while a source waits do not lengthen its wait."""
    failures_raw = os.environ.get("CONSOLE_LOCKOUT_FAILURES", "5")
    minutes_raw = os.environ.get("CONSOLE_LOCKOUT_MINUTES", "15")
    try:
        failures, minutes = int(failures_raw), float(minutes_raw)
    except ValueError:
        failures, minutes = 0, 0.0
    if not (1 <= failures <= 100 and 0 < minutes <= 24 * 60):
        raise ValueError(
            "CONSOLE_LOCKOUT_FAILURES must be 1..100 and CONSOLE_LOCKOUT_MINUTES in (0, 1440], "
            f"got {failures_raw!r} and {minutes_raw!r}"
        )
    longest = timedelta(minutes=minutes)
    return Backoff(failures, min(Backoff.first_wait, longest), longest)


def hash_password(password: str, salt: bytes | None = None) -> str:
    """'scrypt$n$r$p$salt$hash' (hex), the format CONSOLE_PASSWORD_HASH holds."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of a password against a stored hash; a malformed hash never matches."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        found = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=len(digest) // 2
        )
    except ValueError:
        return False
    return hmac.compare_digest(found.hex(), digest)


def hash_problem(stored: str) -> str | None:
    """Why a configured hash can never match (None: it is well formed). The usual cause is a
    shell: `export CONSOLE_PASSWORD_HASH="scrypt$16384$..."` in double quotes eats every `$` part."""
    parts = stored.split("$")
    expected = "expected scrypt$N$r$p$SALT$HASH as printed by `python -m console.auth hash`"
    if len(parts) != 6 or parts[0] != "scrypt":
        found = f"{len(parts) - 1} '$' separators" if stored.startswith("scrypt") else f"it starts {stored[:8]!r}"
        return (
            f"CONSOLE_PASSWORD_HASH is malformed: {expected}; found {found}. In a shell, put the hash in "
            "single quotes: in double quotes the shell replaces each $part with an empty string."
        )
    _, n, r, p, salt, digest = parts
    try:
        ok = (
            int(n) > 1
            and int(r) > 0
            and int(p) > 0
            and len(bytes.fromhex(salt)) >= 8
            and len(bytes.fromhex(digest)) >= 16
        )
    except ValueError:
        ok = False
    return None if ok else f"CONSOLE_PASSWORD_HASH is malformed: {expected} (numbers, then hex)."


def session_lifetime_hours() -> float:
    """How long a login lasts across reloads (CONSOLE_SESSION_HOURS, default 12, at most 30 days)."""
    raw = os.environ.get("CONSOLE_SESSION_HOURS", "12")
    try:
        hours = float(raw)
    except ValueError:
        hours = -1.0
    if not 0 < hours <= 720:
        raise ValueError(f"CONSOLE_SESSION_HOURS must be a number of hours in (0, 720], got {raw!r}")
    return hours


def configured_hash(secrets_file: Path = SECRETS_FILE) -> str | None:
    """The password hash from the environment, else from the Streamlit secrets file."""
    value = os.environ.get("CONSOLE_PASSWORD_HASH", "").strip()
    if value:
        return value
    if secrets_file.is_file():
        section = tomllib.loads(secrets_file.read_text()).get("console", {})
        found = str(section.get("password_hash", "")).strip()
        return found or None
    return None


def operator_user() -> str:
    """The one operator account's name (audit rows carry it)."""
    return os.environ.get("CONSOLE_USER", "operator")


def is_loopback(address: str | None) -> bool:
    """True only for addresses that accept local connections alone. Streamlit's default
    (no address) listens on every interface, so it is not loopback."""
    if not address:
        return False
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def access_problem(address: str | None, password_hash: str | None) -> str | None:
    """Why the console must not serve on `address`, or None when it may."""
    if is_loopback(address) or password_hash:
        return None
    shown = address or "every interface"
    return (
        f"The console would listen on {shown} without a login. Set CONSOLE_PASSWORD_HASH "
        "(make one with `python -m console.auth hash`) or listen on 127.0.0.1."
    )


_FAILURES = threading.Lock()


def credentials_match(user: str, password: str, password_hash: str) -> bool:
    """The user and the password are right (both compared in constant time, both always checked)."""
    return bool(hmac.compare_digest(user.encode(), operator_user().encode()) & verify_password(password, password_hash))


def pause_after_failure() -> None:
    """A refused attempt costs a second while holding a process-wide lock, so guesses from many
    browser sessions at once still come one a second at most."""
    with _FAILURES:
        time.sleep(FAILED_LOGIN_DELAY_S)


def check_login(user: str, password: str, password_hash: str) -> bool:
    """A login attempt; a failure pays `pause_after_failure`."""
    ok = credentials_match(user, password, password_hash)
    if not ok:
        pause_after_failure()
    return ok


def trusted_proxies() -> frozenset[str]:
    """The addresses of the reverse proxies the console sits behind (CONSOLE_TRUSTED_PROXY, comma
    separated, e.g. `127.0.0.1` for a Caddy or nginx on the same machine); empty: none, and
    X-Forwarded-For is never believed."""
    raw = os.environ.get("CONSOLE_TRUSTED_PROXY", "")
    found = set()
    for part in raw.split(","):
        if part.strip():
            try:
                found.add(str(ipaddress.ip_address(part.strip())))
            except ValueError as exc:
                raise ValueError(f"CONSOLE_TRUSTED_PROXY must list IP addresses, got {part.strip()!r}") from exc
    return frozenset(found)


def _is_trusted(address: str, trusted: frozenset[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return str(ip) in trusted or (ip.is_loopback and any(ipaddress.ip_address(t).is_loopback for t in trusted))


def client_source(peer: str, forwarded: Iterable[str], trusted: frozenset[str]) -> str:
    """Where a login attempt comes from: the socket's peer, or, only when that peer is a trusted
    proxy, the address the proxy forwarded. X-Forwarded-For is read from the right (each proxy
    appends the address it saw), skipping trusted proxies: the first other address is the one the
    nearest trusted proxy saw, which a client cannot forge (with a proxy that replaces the header,
    as Caddy does, it is also the header's first address)."""
    if not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for line in forwarded for hop in line.split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            address = str(ipaddress.ip_address(hop))
        except ValueError:
            return peer  # a malformed hop: nothing left of it can be trusted
        if not _is_trusted(address, trusted):
            return address
    return peer


def main(argv: list[str]) -> int:
    """`python -m console.auth hash`: read a password (prompted, or one line of stdin), print its hash."""
    parser = argparse.ArgumentParser(
        prog="python -m console.auth",
        description="Make the password hash that turns the console's login on (CONSOLE_PASSWORD_HASH).",
    )
    parser.add_argument("command", choices=["hash"], help="hash: prompt for a password and print its hash")
    parser.parse_args(argv)
    password = getpass.getpass("Console password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if len(password) < 12:
        print("refused: use at least 12 characters", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
