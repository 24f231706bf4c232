"""Helpers shared by the Python interoperability tests: envelopes (ids and
timestamps as the ASAP reference makes them), the `asap` binary under test
(where Bazel put it, how to start `asap serve` and how to stop it), and a
per-test time limit.

    server = AsapServer(["--auth-tokens", tokens], http=True)
    cls.addClassCleanup(server.stop)
    channel = grpc.insecure_channel(server.grpc_address)
    httpx.get("http://%s/health" % server.http_address)
"""

import os
import queue
import signal
import subprocess
import threading
import time
import unittest
from datetime import datetime, timedelta, timezone

import asap_skills
from asap.v1 import envelope_pb2
from google.protobuf import struct_pb2

STARTUP_TIMEOUT_S = 30
SHUTDOWN_TIMEOUT_S = 10

# ULIDs as the Python runtime (client/python) makes them.
new_ulid = asap_skills.new_ulid


def rfc3339(delta_s=0.0):
    """Now (plus `delta_s`), UTC, RFC 3339 with microseconds and a Z."""
    t = datetime.now(timezone.utc) + timedelta(seconds=delta_s)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def envelope_dict(sender, recipient, payload_type, payload):
    """An envelope as JSON (a dict, for the HTTP binding): a new id, now."""
    return {
        "id": new_ulid(),
        "asap_version": "0.1",
        "timestamp": rfc3339(),
        "sender": sender,
        "recipient": recipient,
        "payload_type": payload_type,
        "payload": payload,
    }


def envelope_proto(sender, recipient, payload_type, payload,
                   extensions=None):
    """The same envelope as protobuf, for the gRPC binding."""
    structs = {}
    for name, value in (("payload", payload), ("extensions", extensions)):
        if value is not None:
            structs[name] = struct_pb2.Struct()
            structs[name].update(value)
    return envelope_pb2.Envelope(
        id=new_ulid(),
        asap_version="0.1",
        timestamp=rfc3339(),
        sender=sender,
        recipient=recipient,
        payload_type=payload_type,
        **structs,
    )


class TestTimeout(Exception):
    pass


class TimeLimitedTestCase(unittest.TestCase):
    """A TestCase whose every test ends in TestTimeout after
    TEST_TIMEOUT_S (SIGALRM: tests run on the main thread)."""

    TEST_TIMEOUT_S = 60

    def setUp(self):
        def on_alarm(signum, frame):
            raise TestTimeout("test ran longer than %d s" %
                              self.TEST_TIMEOUT_S)

        self._old_alarm = signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(self.TEST_TIMEOUT_S)

    def tearDown(self):
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self._old_alarm)


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


class AsapServer:
    """One `asap serve --port 0 [--http-port 0] ARGS...`, started at once and
    waited for until it prints its addresses.

    Its stdout (and, with capture_stderr, its stderr) is read by threads into
    queues, so the pipes never fill. Raises AssertionError (after stopping the
    process) when the server exits or stays silent for STARTUP_TIMEOUT_S.
    Register `stop` as a cleanup, or use the server as a context manager.

    Attributes: proc (the Popen), grpc_address and grpc_port; with http,
    http_address and http_port ("127.0.0.1:PORT" and PORT).
    """

    def __init__(self, args=(), http=False, capture_stderr=False):
        self.args = list(args)
        argv = [asap_binary(), "serve", "--port", "0"]
        if http:
            argv += ["--http-port", "0"]
        self.proc = subprocess.Popen(
            argv + self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if capture_stderr else None,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.stderr_lines = queue.Queue()
        self.stderr_seen = []
        self._stdout_lines = queue.Queue()
        self._threads = []
        streams = [(self.proc.stdout, self._stdout_lines)]
        if capture_stderr:
            streams.append((self.proc.stderr, self.stderr_lines))
        for stream, lines in streams:
            thread = threading.Thread(target=_pump, args=(stream, lines),
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        try:
            self._wait_for_addresses(http)
        except BaseException:
            self.stop()
            raise

    def _wait_for_addresses(self, http):
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        self.grpc_address = self.http_address = None
        while self.grpc_address is None or (http and
                                            self.http_address is None):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    "asap serve %s did not print its addresses within %d s "
                    "(got grpc=%r http=%r)" %
                    (self.args, STARTUP_TIMEOUT_S, self.grpc_address,
                     self.http_address))
            try:
                line = self._stdout_lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(
                    "asap serve %s exited (code %s) before listening: %s" %
                    (self.args, self.proc.wait(timeout=SHUTDOWN_TIMEOUT_S),
                     self.drain_stderr()))
            if line.startswith("listening on "):
                self.grpc_address = line[len("listening on "):].strip()
            elif line.startswith("http listening on "):
                self.http_address = line[len("http listening on "):].strip()
        self.grpc_port = int(self.grpc_address.rsplit(":", 1)[1])
        if http:
            self.http_port = int(self.http_address.rsplit(":", 1)[1])

    def stop(self):
        """SIGTERM (then SIGKILL); closes the pipes once read to the end.
        Returns the exit code. Idempotent."""
        rc = stop_process(self.proc)
        for thread in self._threads:
            thread.join(timeout=SHUTDOWN_TIMEOUT_S)
        if not any(thread.is_alive() for thread in self._threads):
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def drain_stderr(self, timeout=0.5):
        """The captured stderr so far (empty without capture_stderr)."""
        if self.proc.stderr is None:
            return ""
        try:
            while True:
                line = self.stderr_lines.get(timeout=timeout)
                if line is None:
                    break
                self.stderr_seen.append(line)
        except queue.Empty:
            pass
        return "".join(self.stderr_seen)

    def wait_stderr(self, text, timeout):
        """Waits (bounded) for a captured stderr line containing `text`."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    "asap serve did not print %r on stderr within %s s; "
                    "stderr so far: %r" % (text, timeout,
                                           "".join(self.stderr_seen)))
            try:
                line = self.stderr_lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(
                    "asap serve's stderr closed before %r: %r" %
                    (text, "".join(self.stderr_seen)))
            self.stderr_seen.append(line)
            if text in line:
                return line


def _pump(stream, lines):
    """Puts each line of `stream` on `lines`, then None at its end."""
    for line in stream:
        lines.put(line)
    lines.put(None)
