"""Helpers shared by the Python interoperability tests: envelope ids and
timestamps as the ASAP reference makes them, and the `asap` binary under
test (where Bazel put it, and how to stop it)."""

import os
import secrets
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone

SHUTDOWN_TIMEOUT_S = 10

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid():
    """A ULID: 48-bit millisecond time and 80 random bits, Crockford base32."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def rfc3339(delta_s=0.0):
    """Now (plus `delta_s`), UTC, RFC 3339 with microseconds and a Z."""
    t = datetime.now(timezone.utc) + timedelta(seconds=delta_s)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def runfile(path):
    """A file of the workspace among the test's runfiles."""
    return os.path.join(os.environ["TEST_SRCDIR"], "asap", path)


def asap_binary():
    return runfile("tools/cli/asap")


def stop_process(proc):
    """SIGTERM, wait, SIGKILL if still running. Returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
    return proc.returncode
