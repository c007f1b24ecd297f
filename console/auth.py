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
from pathlib import Path

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SECRETS_FILE = Path(__file__).resolve().parents[1] / ".streamlit" / "secrets.toml"
FAILED_LOGIN_DELAY_S = 1.0


def lockout_rule() -> tuple[int, float]:
    """(wrong passwords, minutes): that many failures for one user within the window lock the
    account until they age out of it (CONSOLE_LOCKOUT_FAILURES, default 5; CONSOLE_LOCKOUT_MINUTES,
    default 15). Refused attempts while locked do not extend the lock."""
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
    return failures, minutes


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


def check_login(user: str, password: str, password_hash: str) -> bool:
    """A login attempt; a failure costs a second while holding a process-wide lock, so guesses
    from many browser sessions at once still come one a second at most."""
    ok = hmac.compare_digest(user.encode(), operator_user().encode()) & verify_password(password, password_hash)
    if not ok:
        with _FAILURES:
            time.sleep(FAILED_LOGIN_DELAY_S)
    return bool(ok)


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
