#!/usr/bin/env python3
"""A test peer: an ASAP agent that answers as the HTTP binding's reference v1.0.0 does.

The C++ client tests start it as a subprocess and drive it over HTTP/1.1 keep-alive.
POST /asap follows the error table of shared/HTTP_BINDING.md (HTTP status, JSON-RPC
code, `data` shape) in the reference's order: decode body, JSON-RPC shape, envelope,
timestamp, nonce, dispatch. Envelopes are checked strictly against the v1.0 schema (the
v2 `requires_ack` is an unknown member), and answers are v1.0 shapes with null for unset
optional members, as the reference's pydantic models serialize them.

Standard library only. `Content-Encoding: br` is decoded with the `brotli` module if
importable, else with the system libbrotlidec through ctypes; with neither (or with
--no-brotli) it is refused with 415, as the reference does without brotli.

Test controls, not part of the binding: GET /_test/stats, POST /_test/fault,
POST /_test/reset_stats (see Agent.stats and Agent.set_fault).

  reference_agent.py [--host 127.0.0.1] [--port 0] [--manifest-max-age 300]
                     [--agent-id urn:asap:agent:reference] [--no-brotli]

Prints `listening on HOST:PORT` once bound, then nothing; SIGTERM/SIGINT exit with 0.
"""

import argparse
import ctypes
import ctypes.util
import hashlib
import json
import os
import signal
import socketserver
import sys
import threading
import time
import zlib
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import brotli
except ImportError:
    brotli = None

MAX_BODY = 10 * 1024 * 1024  # the reference's MAX_REQUEST_SIZE, also after decompression
DRAIN_LIMIT = 64 * 1024 * 1024  # oversized bodies up to this are read and dropped to keep the connection
MAX_AGE_S, MAX_FUTURE_S, NONCE_TTL_S = 300, 30, 600
SLEEP_CAP_MS = 10000
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def parse_datetime(value):
    """An aware UTC datetime, or None; accepts what pydantic's datetime accepts in JSON:
    ISO 8601 / RFC 3339 strings (naive means UTC) and Unix times in seconds or milliseconds."""
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000 if abs(value) > 2e10 else value, timezone.utc)
        stamp = datetime.fromisoformat(value) if isinstance(value, str) else None
    except (ValueError, OverflowError, OSError):
        return None
    if stamp is None:
        return None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


# kind -> (accepts, pydantic error type, pydantic message)
KINDS = {
    "str": (lambda v: isinstance(v, str), "string_type", "Input should be a valid string"),
    "dict": (lambda v: isinstance(v, dict), "dict_type", "Input should be a valid dictionary"),
    "id": (lambda v: isinstance(v, (str, int)) and not isinstance(v, bool), "string_type",
           "Input should be a valid string or integer"),
    "2.0": (lambda v: v == "2.0" and isinstance(v, str), "literal_error", "Input should be '2.0'"),
    "datetime": (lambda v: parse_datetime(v) is not None, "datetime_from_date_parsing",
                 "Input should be a valid datetime or date"),
}
# member -> (kind, optional and nullable); anything else is an unknown member
RPC_FIELDS = {"jsonrpc": ("2.0", False), "method": ("str", False), "params": ("dict", False),
              "id": ("id", False)}
ENVELOPE_FIELDS = {  # asap-v1.0-schemas/envelope.schema.json
    "id": ("str", True), "asap_version": ("str", False), "timestamp": ("datetime", True),
    "sender": ("str", False), "recipient": ("str", False), "payload_type": ("str", False),
    "payload": ("dict", False), "correlation_id": ("str", True), "trace_id": ("str", True),
    "extensions": ("dict", True)}


def validate(obj, fields):
    """Pydantic-style validation_errors for a JSON object against `fields` (extra=forbid)."""
    def error(kind, name, msg, value):
        return {"type": kind, "loc": [name], "msg": msg, "input": value}
    errors = []
    for name, (kind, optional) in fields.items():
        if name not in obj:
            if not optional:
                errors.append(error("missing", name, "Field required", obj))
        elif not (optional and obj[name] is None) and not KINDS[kind][0](obj[name]):
            errors.append(error(KINDS[kind][1], name, KINDS[kind][2], obj[name]))
    return errors + [error("extra_forbidden", name, "Extra inputs are not permitted", value)
                     for name, value in obj.items() if name not in fields]


def new_ulid():
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


def to_json(obj):
    """Renders as Starlette's JSONResponse does (compact, UTF-8, no NaN)."""
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:  # a lone surrogate echoed from the request
        return json.dumps(obj, allow_nan=False, separators=(",", ":")).encode()


def rpc_error(code, data, rpc_id):
    messages = {-32700: "Parse error", -32600: "Invalid request", -32601: "Method not found",
                -32602: "Invalid params", -32603: "Internal error"}
    return {"jsonrpc": "2.0", "error": {"code": code, "message": messages[code], "data": data}, "id": rpc_id}


class HttpError(Exception):
    """An answer outside JSON-RPC: `{"detail": ...}` with an HTTP error status."""

    def __init__(self, status, detail, close=False):
        super().__init__(detail)
        self.status, self.detail, self.close = status, detail, close


def load_libbrotlidec():
    path = ctypes.util.find_library("brotlidec")
    if not path:
        return None
    lib = ctypes.CDLL(path)
    size_p, void_pp = ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ctypes.c_void_p)
    lib.BrotliDecoderCreateInstance.restype = ctypes.c_void_p
    lib.BrotliDecoderCreateInstance.argtypes = [ctypes.c_void_p] * 3
    lib.BrotliDecoderDestroyInstance.argtypes = [ctypes.c_void_p]
    lib.BrotliDecoderDecompressStream.argtypes = [ctypes.c_void_p, size_p, void_pp, size_p, void_pp, size_p]
    lib.BrotliDecoderDecompressStream.restype = ctypes.c_int
    return lib


def libbrotli_decompress(lib, data, limit):
    """Streams, so a bomb stops a little past `limit` bytes of output."""
    state, out = lib.BrotliDecoderCreateInstance(None, None, None), bytearray()
    try:
        inbuf, chunk = ctypes.create_string_buffer(data, len(data)), ctypes.create_string_buffer(65536)
        avail_in, next_in = ctypes.c_size_t(len(data)), ctypes.c_void_p(ctypes.addressof(inbuf))
        while len(out) <= limit:
            avail_out, next_out = ctypes.c_size_t(65536), ctypes.c_void_p(ctypes.addressof(chunk))
            result = lib.BrotliDecoderDecompressStream(state, ctypes.byref(avail_in), ctypes.byref(next_in),
                                                       ctypes.byref(avail_out), ctypes.byref(next_out), None)
            out += chunk.raw[:65536 - avail_out.value]
            if result == 1 and avail_in.value == 0:  # SUCCESS, all input used
                break
            if result != 3:  # anything but NEEDS_MORE_OUTPUT
                raise ValueError("corrupt or truncated brotli stream")
        return bytes(out)
    finally:
        lib.BrotliDecoderDestroyInstance(state)


class Agent:
    """The protocol behaviour, test counters and faults, shared by all connection threads."""

    def __init__(self, agent_id, endpoint, max_age, brotli_decoder):
        self.agent_id, self.brotli = agent_id, brotli_decoder
        self.lock = threading.Lock()
        self.nonces, self.in_flight = {}, 0
        self.reset_stats()
        self.status_fault = self.close_fault = self.die_after = None
        manifest = {  # Manifest.model_dump() of the v1.0 schema, so unset members are null
            "id": agent_id, "name": "ASAP Reference Agent", "version": "1.0.0",
            "description": "Test peer answering as the ASAP HTTP binding reference v1.0.0",
            "capabilities": {"asap_version": "1.0",
                             "skills": [{"id": "echo", "description": "Echo back the input",
                                         "input_schema": None, "output_schema": None}],
                             "state_persistence": False, "streaming": False, "mcp_tools": []},
            "endpoints": {"asap": endpoint, "events": None}, "auth": None, "signature": None}
        self.manifest = to_json(manifest)
        self.etag = '"%s"' % hashlib.sha256(self.manifest).hexdigest()
        self.cache_control = "public, max-age=%d" % max_age

    # ---- counters -------------------------------------------------------------------
    def reset_stats(self):
        with self.lock:
            self.counters = dict(connections=0, asap_requests=0, manifest_200=0, manifest_304=0,
                                 max_concurrent=0)
            self.routes, self.headers_seen = {}, {}

    def count(self, name, delta=1):
        with self.lock:
            self.counters[name] = max(0, self.counters[name] + delta)

    def count_route(self, key):
        with self.lock:
            self.routes[key] = self.routes.get(key, 0) + 1

    def stats(self):
        """{"connections", "asap_requests", "manifest_200", "manifest_304", "max_concurrent",
        "headers_seen": last POST /asap's headers (lower-case names), "routes": {"METHOD /path": n}}."""
        with self.lock:
            return dict(self.counters, headers_seen=dict(self.headers_seen), routes=dict(self.routes))

    def begin_asap(self, headers):
        seen = {}
        for name, value in headers.items():
            seen[name.lower()] = seen[name.lower()] + ", " + value if name.lower() in seen else value
        with self.lock:
            self.in_flight += 1
            self.counters["asap_requests"] += 1
            self.counters["max_concurrent"] = max(self.counters["max_concurrent"], self.in_flight)
            self.headers_seen = seen

    def end_asap(self):
        with self.lock:
            self.in_flight -= 1

    # ---- faults, counted per POST /asap ------------------------------------------------
    def set_fault(self, spec):
        """{"status": 429|5xx, "retry_after": s, "count": n} | {"close": "header"|"silent", "count": n}
        | {"die_after": n} | {"clear": true}. count defaults to 1; a negative count never runs out."""
        if not isinstance(spec, dict):
            raise ValueError("a fault is a JSON object")
        count, retry = spec.get("count", 1), spec.get("retry_after", 1 if spec.get("status") == 429 else None)
        if type(count) is not int or retry is not None and type(retry) is not int:
            raise ValueError("count and retry_after are integers")
        with self.lock:
            if spec.get("clear"):
                self.status_fault = self.close_fault = self.die_after = None
            if "status" in spec:
                if type(spec["status"]) is not int or not 400 <= spec["status"] <= 599:
                    raise ValueError("status is an integer 400..599")
                self.status_fault = {"status": spec["status"], "retry_after": retry, "count": count}
            if "close" in spec:
                if spec["close"] not in ("header", "silent"):
                    raise ValueError('close is "header" or "silent"')
                self.close_fault = {"mode": spec["close"], "count": count}
            if "die_after" in spec:
                if type(spec["die_after"]) is not int or spec["die_after"] < 0:
                    raise ValueError("die_after is a non-negative integer")
                self.die_after = spec["die_after"]

    def take_faults(self):
        """The (status fault, close mode) for this request; die_after 0 dies before answering."""
        with self.lock:
            if self.die_after == 0:
                os._exit(0)
            status_fault, close_fault = self._take("status_fault"), self._take("close_fault")
            return status_fault, close_fault and close_fault["mode"]

    def _take(self, attr):
        fault = getattr(self, attr)
        if fault is None or fault["count"] == 0:
            return None
        if fault["count"] > 0:
            fault["count"] -= 1
            if fault["count"] == 0:
                setattr(self, attr, None)
        return fault

    def answered(self):
        """True when this answer is the last that die_after allows."""
        with self.lock:
            if self.die_after is not None:
                self.die_after -= 1
                return self.die_after <= 0
            return False

    # ---- POST /asap -----------------------------------------------------------------
    def decode_body(self, raw, encoding, declared):
        encoding = encoding.strip().lower()
        if encoding not in ("", "identity", "gzip") and not (encoding == "br" and self.brotli):
            raise HttpError(415, "Unsupported Content-Encoding: %s" % encoding)
        if len(raw) > MAX_BODY:
            raise HttpError(413, "Request size (%d bytes) exceeds maximum (%d bytes)"
                            % (declared or len(raw), MAX_BODY))
        if encoding in ("", "identity"):
            return raw
        try:
            if encoding == "gzip":
                out, rest = bytearray(), raw
                while rest and len(out) <= MAX_BODY:  # a gzip body may hold several members
                    stream = zlib.decompressobj(wbits=31)
                    out += stream.decompress(rest, MAX_BODY + 1 - len(out))
                    if not stream.eof and len(out) <= MAX_BODY:
                        raise ValueError("truncated gzip stream")
                    rest = stream.unused_data
            elif self.brotli is brotli:
                out = brotli.decompress(raw)
            else:
                out = libbrotli_decompress(self.brotli, raw, MAX_BODY)
        except Exception as e:  # zlib.error, ValueError, brotli.error
            raise HttpError(400, "Failed to decompress request: %s" % e)
        if len(out) > MAX_BODY:
            raise HttpError(413, "Decompressed request size exceeds maximum (%d bytes)" % MAX_BODY)
        return bytes(out)

    def handle_rpc(self, body):
        """The JSON-RPC answer to a decoded body (always sent with HTTP 200)."""
        try:
            request = json.loads(body.decode("utf-8"))
        except Exception as e:  # UnicodeDecodeError, JSONDecodeError, RecursionError
            return rpc_error(-32700, {"error": "Invalid JSON: %s" % e}, None)
        if not isinstance(request, dict):  # the reference reports Python's type name ("list", "str", ...)
            return rpc_error(-32600, {"error": "JSON-RPC request must be an object",
                                      "received_type": type(request).__name__}, None)
        rpc_id = request.get("id") if KINDS["id"][0](request.get("id")) else None
        errors = validate(request, RPC_FIELDS)
        if any(e["loc"] == ["params"] and e["type"] == "dict_type" for e in errors):
            return rpc_error(-32602, {"error": "JSON-RPC 'params' must be an object",
                                      "validation_errors": errors}, rpc_id)
        if errors:
            return rpc_error(-32600, {"error": "Invalid JSON-RPC structure",
                                      "validation_errors": errors}, rpc_id)
        if request["method"] != "asap.send":
            return rpc_error(-32601, {"method": request["method"]}, rpc_id)
        envelope = request["params"].get("envelope")
        if envelope is None:
            return rpc_error(-32602, {"error": "Missing 'envelope' in params", "validation_errors": [
                {"type": "missing", "loc": ["envelope"], "msg": "Field required", "input": request["params"]}]},
                rpc_id)
        errors = validate(envelope, ENVELOPE_FIELDS) if isinstance(envelope, dict) else [
            {"type": "dict_type", "loc": ["envelope"], "msg": KINDS["dict"][2], "input": envelope}]
        if errors:
            return rpc_error(-32602, {"error": "Invalid envelope structure",
                                      "validation_errors": errors}, rpc_id)
        envelope = dict(envelope)
        if envelope.get("id") is None:
            envelope["id"] = new_ulid()
        problem = self.check_timestamp(envelope) or self.check_nonce(envelope)
        if problem:
            return rpc_error(-32602, problem, rpc_id)
        payload_type = envelope["payload_type"]
        if payload_type != "task.request":  # the only registered handler
            error = "No handler registered for payload type: %s" % payload_type
            return rpc_error(-32601, {"payload_type": payload_type, "error": error}, rpc_id)
        try:
            answer = {"jsonrpc": "2.0", "result": {"envelope": self.handle_task_request(envelope)},
                      "id": rpc_id}
            to_json(answer)  # an echo that cannot be serialized fails the handler too
            return answer
        except Exception:
            return rpc_error(-32603, {"error": "Internal server error"}, rpc_id)

    def check_timestamp(self, envelope):
        stamp = parse_datetime(envelope.get("timestamp")) or datetime.now(timezone.utc)
        age = (datetime.now(timezone.utc) - stamp).total_seconds()
        details = {"timestamp": stamp.isoformat(), "envelope_id": envelope["id"]}
        if age > MAX_AGE_S:
            message = "Envelope timestamp is too old: %.1f seconds (max: %d seconds)" % (age, MAX_AGE_S)
            details.update(age_seconds=age, max_age_seconds=MAX_AGE_S)
        elif -age > MAX_FUTURE_S:
            message = ("Envelope timestamp is too far in the future: %.1f seconds (max tolerance: %d seconds)"
                       % (-age, MAX_FUTURE_S))
            details.update(future_offset_seconds=-age, max_future_tolerance_seconds=MAX_FUTURE_S)
        else:
            return None
        return {"code": "asap:protocol/invalid_timestamp", "message": message, "details": details}

    def check_nonce(self, envelope):
        extensions, now = envelope.get("extensions") or {}, time.monotonic()
        if "nonce" not in extensions:
            return None  # a nonce is optional
        nonce = extensions["nonce"]
        if not isinstance(nonce, str) or not nonce:
            message = "Nonce must be a non-empty string, got %s" % (
                "empty string" if isinstance(nonce, str) else type(nonce).__name__)
        else:
            with self.lock:
                if len(self.nonces) > 100000:
                    self.nonces = {n: expiry for n, expiry in self.nonces.items() if expiry > now}
                if self.nonces.get(nonce, 0) <= now:
                    self.nonces[nonce] = now + NONCE_TTL_S
                    return None
            message = "Duplicate nonce detected: %s" % nonce
        return {"code": "asap:protocol/invalid_nonce", "message": message,
                "details": {"nonce": str(nonce), "envelope_id": envelope["id"]}}

    def handle_task_request(self, envelope):
        """The echo handler; skill "fail" raises, skill "sleep" waits input.ms first."""
        payload = envelope["payload"]
        data = payload.get("input") if isinstance(payload.get("input"), dict) else {}
        if payload.get("skill_id") == "fail":
            raise RuntimeError("skill 'fail' always fails")
        if payload.get("skill_id") == "sleep" and type(data.get("ms")) in (int, float):
            time.sleep(min(max(data["ms"], 0), SLEEP_CAP_MS) / 1000.0)
        now = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
        return {"id": new_ulid(), "asap_version": "1.0", "timestamp": now, "sender": self.agent_id,
                "recipient": envelope["sender"], "payload_type": "task.response",
                "payload": {"task_id": "task_" + new_ulid(), "status": "completed", "result": data,
                            "final_state": None, "metrics": None},
                "correlation_id": envelope["id"], "trace_id": envelope.get("trace_id"), "extensions": None}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes
    GET_ROUTES = ("/.well-known/asap/manifest.json", "/health", "/ready", "/_test/stats")
    POST_ROUTES = ("/asap", "/_test/fault", "/_test/reset_stats")

    def log_message(self, *args):
        pass

    def version_string(self):
        return "asap-reference-agent/1.0.0"

    def setup(self):
        super().setup()
        self.agent, self.first_request = self.server.agent, True
        self.agent.count("connections")

    def begin(self):
        path = self.path.split("?", 1)[0]
        if self.first_request:  # connections the harness opens for /_test/ calls are not counted
            self.first_request = False
            if path.startswith("/_test/"):
                self.agent.count("connections", -1)
        if not path.startswith("/_test/"):
            known = path in self.GET_ROUTES or path in self.POST_ROUTES
            self.agent.count_route("%s %s" % (self.command, path if known else "(other)"))
        return path

    def send(self, status, body=b"", headers=(), close=False, head=False):
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")  # also ends this connection's loop
        self.end_headers()
        if body and not head and status != 304:
            self.wfile.write(body)

    def read_body(self):
        """(raw body, declared Content-Length); what passes MAX_BODY is read but not kept."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self.read_chunked(), None
        try:
            declared = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            declared = -1
        if declared < 0:
            raise HttpError(400, "Invalid Content-Length", close=True)
        if declared > DRAIN_LIMIT:
            raise HttpError(413, "Request size (%d bytes) exceeds maximum (%d bytes)" % (declared, MAX_BODY),
                            close=True)
        return self.read_exact(declared, bytearray()), declared

    def read_exact(self, n, keep):
        while n > 0:
            chunk = self.rfile.read(min(n, 1 << 20))
            if not chunk:
                raise ConnectionAbortedError("client closed mid-body")
            n -= len(chunk)
            if len(keep) <= MAX_BODY:
                keep += chunk
        return keep

    def read_chunked(self):
        body, total = bytearray(), 0
        while True:
            try:
                size = int(self.rfile.readline(65537).split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise HttpError(400, "Invalid chunked request body", close=True)
            total += size
            if total > DRAIN_LIMIT:
                raise HttpError(413, "Request size exceeds maximum (%d bytes)" % MAX_BODY, close=True)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailer fields
                return body
            self.read_exact(size, body)
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise HttpError(400, "Invalid chunked request body", close=True)

    def guarded(self, work, *args):
        try:
            work(*args)
        except HttpError as e:
            self.send(e.status, to_json({"detail": e.detail}), close=e.close)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def do_GET(self, head=False):
        self.guarded(self.route_get, self.begin(), head)

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_POST(self):
        path = self.begin()
        if path != "/asap":
            return self.guarded(self.route_other, path)
        self.agent.begin_asap(self.headers)
        try:
            self.guarded(self.post_asap)
        finally:
            self.agent.end_asap()

    def do_other(self):
        self.guarded(self.route_other, self.begin())

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_other

    def route_get(self, path, head):
        agent = self.agent
        if path == "/.well-known/asap/manifest.json":
            cache = [("ETag", agent.etag), ("Cache-Control", agent.cache_control)]
            tags = [tag.strip() for tag in self.headers.get("If-None-Match", "").split(",")]
            if "*" in tags or agent.etag in [tag[2:] if tag.startswith("W/") else tag for tag in tags]:
                agent.count("manifest_304")
                return self.send(304, headers=cache)
            agent.count("manifest_200")
            return self.send(200, agent.manifest, headers=cache, head=head)
        if path in ("/health", "/ready"):
            return self.send(200, b'{"status":"ok"}', head=head)
        if path == "/_test/stats":
            return self.send(200, to_json(agent.stats()), head=head)
        self.not_found(path, head)

    def route_other(self, path):
        raw, _ = self.read_body()  # read even when unused, so the connection stays usable
        if self.command == "POST" and path == "/_test/fault":
            try:
                self.agent.set_fault(json.loads(bytes(raw) or b"{}"))
            except Exception as e:
                return self.send(400, to_json({"detail": str(e)}))
            return self.send(200, b'{"ok":true}')
        if self.command == "POST" and path == "/_test/reset_stats":
            self.agent.reset_stats()
            return self.send(200, b'{"ok":true}')
        self.not_found(path)

    def not_found(self, path, head=False):
        if path in self.GET_ROUTES or path in self.POST_ROUTES:  # FastAPI's answer for a known path
            allow = "POST" if path in self.POST_ROUTES else "GET, HEAD"
            return self.send(405, b'{"detail":"Method Not Allowed"}', headers=[("Allow", allow)], head=head)
        self.send(404, b'{"detail":"Not Found"}', head=head)

    def post_asap(self):
        agent = self.agent
        raw, declared = self.read_body()
        status_fault, close_mode = agent.take_faults()
        status, headers, encoding = 200, [], self.headers.get("Content-Encoding", "")
        if status_fault:
            status, headers, answer = self.fault_answer(status_fault, raw, encoding)
        else:
            try:
                answer = agent.handle_rpc(agent.decode_body(bytes(raw), encoding, declared))
            except HttpError as e:
                status, answer = e.status, {"detail": e.detail}
        self.send(status, to_json(answer), headers=headers, close=close_mode == "header")
        if close_mode == "silent":
            self.close_connection = True  # drop the keep-alive connection without saying so
        if agent.answered():
            os._exit(0)

    def fault_answer(self, fault, raw, encoding):
        status = fault["status"]
        headers = [] if fault["retry_after"] is None else [("Retry-After", str(fault["retry_after"]))]
        if status == 429:
            try:
                request = json.loads(self.agent.decode_body(bytes(raw), encoding, None))
                rpc_id = request.get("id") if KINDS["id"][0](request.get("id")) else None
            except Exception:
                rpc_id = None
            data = {"retry_after": fault["retry_after"], "limit": "10/second"}
            return 429, headers, {"jsonrpc": "2.0", "id": rpc_id,
                                  "error": {"code": 429, "message": "Rate limit exceeded", "data": data}}
        if status == 503:
            return 503, headers, {"error": "Service unavailable", "code": "asap:transport/unavailable",
                                  "message": "overloaded"}
        return status, headers, {"detail": self.responses.get(status, ("Error",))[0]}


class AgentServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def server_bind(self):  # HTTPServer's version would do a reverse DNS lookup
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)  # a real error: traceback to stderr


def main():
    parser = argparse.ArgumentParser(description="ASAP agent answering as the HTTP binding reference v1.0.0")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--manifest-max-age", type=int, default=300)
    parser.add_argument("--agent-id", default="urn:asap:agent:reference")
    parser.add_argument("--no-brotli", action="store_true", help="refuse Content-Encoding: br with 415")
    parser.add_argument("--tls-cert", help="serve HTTPS (HTTP/1.1) with this PEM certificate chain")
    parser.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    args = parser.parse_args()

    server = AgentServer((args.host, args.port), Handler)
    host, port = server.server_address[:2]
    scheme = "http"
    if args.tls_cert:
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(args.tls_cert, args.tls_key)
        context.set_alpn_protocols(["http/1.1"])
        # Handshakes happen on accept; a failed one only drops that client.
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    decoder = None if args.no_brotli else (brotli or load_libbrotlidec())
    server.agent = Agent(args.agent_id, "%s://%s:%d/asap" % (scheme, host, port), args.manifest_max_age, decoder)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("listening on %s:%d" % (host, port), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except SystemExit:
        pass
    server.server_close()
    os._exit(0)  # connection threads are daemons; do not wait for them


if __name__ == "__main__":
    main()
