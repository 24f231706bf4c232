#!/usr/bin/env python3
"""A hostile ASAP HTTP server: every request gets the misbehaviour its path names.

The first path segment is the mode, so one process serves every attack: a client
whose target is http://127.0.0.1:PORT/MODE sends POST /MODE/asap, POST
/MODE/asap/stream, GET /MODE/.well-known/asap/manifest.json and (asking whether
the server speaks HTTP/2) GET /MODE/health. The HTTP/2 prior-knowledge preface
("PRI * HTTP/2.0") is answered as an HTTP/1.1-only server does: the connection
is closed.

  python3 hostile_server.py [--port 0]
  -> prints "listening on 127.0.0.1:PORT"

GET /_stats answers {"MODE": requests seen, ...} (the control route of the test).
Standard library only; one thread per connection; a mode never trusts the client
either (request heads and bodies are read with bounds).
"""

import argparse
import json
import os
import random
import socket
import socketserver
import sys
import threading
import time
import zlib

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
CHUNK = 64 * 1024
# A valid envelope the client accepts (ids are ULIDs, timestamps RFC 3339 UTC).
ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def envelope(final=None):
    payload = {"task_id": "task_" + ULID, "status": "completed", "result": {"text": "hi"}}
    if final is not None:
        payload["final"] = final
    return {"id": ULID, "asap_version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "sender": "urn:asap:agent:hostile", "recipient": "urn:asap:agent:echo-client",
            "payload_type": "task.response", "payload": payload}


def dumps(value):
    return json.dumps(value, separators=(",", ":")).encode()


def rpc_result(env, rpc_id=1):
    return dumps({"jsonrpc": "2.0", "result": {"envelope": env}, "id": rpc_id})


def manifest():
    return dumps({"id": "urn:asap:agent:hostile", "name": "Hostile", "version": "1.0.0",
                  "description": "misbehaves",
                  "capabilities": {"asap_version": "1.0", "skills": [{"id": "echo", "description": "x"}]},
                  "endpoints": {"asap": "http://127.0.0.1:1/asap"}})


def deep(levels, inner=b"1"):
    return b"[" * levels + inner + b"]" * levels


_bomb = None
_bomb_lock = threading.Lock()


def gzip_bomb():
    """64 MiB of zeros (a JSON-ish prefix first) as one gzip member of about 64 KB."""
    global _bomb
    with _bomb_lock:
        if _bomb is None:
            z = zlib.compressobj(9, zlib.DEFLATED, 31)
            parts = [z.compress(b'{"jsonrpc":"2.0","result":{"envelope":{"payload_type":"')]
            zeros = b"0" * (1 << 20)
            for _ in range(64):
                parts.append(z.compress(zeros))
            parts.append(z.compress(b'"}},"id":1}'))
            parts.append(z.flush())
            _bomb = b"".join(parts)
        return _bomb


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def count(self, mode):
        with self.lock:
            self.counts[mode] = self.counts.get(mode, 0) + 1

    def snapshot(self):
        with self.lock:
            return dict(self.counts)


STATS = Stats()


class Closed(Exception):
    pass


class Connection(socketserver.BaseRequestHandler):
    """One client connection: reads requests, answers each as its mode says."""

    def setup(self):
        self.sock = self.request
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    # ---- reading, bounded ------------------------------------------------------
    def recv_more(self):
        data = self.sock.recv(CHUNK)
        if not data:
            raise Closed()
        self.buffer += data

    def read_head(self):
        while b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > MAX_HEAD:
                raise Closed()
            self.recv_more()
        if self.buffer.startswith(b"PRI * HTTP/2.0"):
            raise Closed()  # HTTP/1.1 only: refuse prior knowledge
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            raise Closed()
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return parts[0], parts[1], headers

    def read_body(self, headers):
        length = int(headers.get("content-length", "0") or 0)
        if length < 0 or length > MAX_BODY:
            raise Closed()
        while len(self.buffer) < length:
            self.recv_more()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return body

    # ---- writing ---------------------------------------------------------------
    def send(self, data):
        self.sock.sendall(data)

    def answer(self, status, body=b"", headers=(), reason="X"):
        head = ["HTTP/1.1 %d %s" % (status, reason), "Content-Length: %d" % len(body),
                "Connection: close"]
        head += list(headers)
        self.send(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def json(self, body, headers=(), status=200):
        self.answer(status, body, ["Content-Type: application/json"] + list(headers))

    def sleep_until_closed(self, limit=120):
        """Keeps the connection open without answering, until the peer closes it."""
        self.sock.settimeout(0.1)
        end = time.monotonic() + limit
        while time.monotonic() < end:
            try:
                if not self.sock.recv(CHUNK):
                    return
            except socket.timeout:
                pass

    def sleep_unread(self, limit=120):
        """Keeps the connection open and reads nothing more: the peer's sends
        fill the socket buffers and stall."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            time.sleep(0.1)

    def reset(self):
        """Closes with a TCP RST instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()

    def sse_head(self):
        self.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                  b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n")

    # ---- the modes ---------------------------------------------------------------
    def handle(self):
        try:
            while True:
                method, target, headers = self.read_head()
                segments = target.split("?", 1)[0].lstrip("/").split("/", 1)
                mode = segments[0]
                route = "/" + (segments[1] if len(segments) > 1 else "")
                if mode == "_stats":
                    self.read_body(headers)
                    self.json(dumps(STATS.snapshot()))
                    return
                STATS.count(mode)
                if mode == "noread":
                    # Never reads the request body (several MB) nor answers.
                    self.sleep_unread()
                    return
                self.body = self.read_body(headers)
                if route == "/health" and mode != "health":
                    self.json(b'{"status":"ok"}')
                    return
                handler = getattr(self, "mode_" + mode.replace("-", "_"), None)
                if handler is None:
                    self.answer(404, b'{"detail":"no such mode"}')
                    return
                handler(route)
                return
        except (Closed, ConnectionError, BrokenPipeError, OSError):
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass

    # baseline: a well-behaved answer, so that a failure below is the attack's
    def mode_ok(self, route):
        if route == "/.well-known/asap/manifest.json":
            self.json(manifest(), ['ETag: "m1"', "Cache-Control: max-age=99999999999999999999"])
        elif route == "/asap/stream":
            self.sse_head()
            self.send(b"data: " + dumps(envelope(False)) + b"\n\n")
            self.send(b"data: " + dumps(envelope(True)) + b"\n\n")
        else:
            self.json(rpc_result(envelope()))

    # an endless body: never-ending chunks, or a Content-Length of a petabyte
    def mode_endless_chunked(self, route):
        self.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % CHUNK + b" " * CHUNK + b"\r\n"
        while True:
            self.send(chunk)

    def mode_huge_length(self, route):
        self.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000000000000000\r\n\r\n")
        block = b" " * CHUNK
        while True:
            self.send(block)

    # headers: thousands of them, endless ones, one huge line
    def mode_many_headers(self, route):
        self.send(b"HTTP/1.1 200 OK\r\n")
        lines = b"".join(b"X-Hostile-%d: %d\r\n" % (i, i) for i in range(20000))
        self.send(lines)
        body = rpc_result(envelope())
        self.send(b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)

    def mode_endless_headers(self, route):
        self.send(b"HTTP/1.1 200 OK\r\n")
        i = 0
        while True:
            self.send(b"".join(b"X-Hostile-%d: %s\r\n" % (i + j, b"v" * 64) for j in range(1000)))
            i += 1000

    def mode_huge_header(self, route):
        self.send(b"HTTP/1.1 200 OK\r\nX-Hostile: ")
        block = b"h" * CHUNK
        for _ in range(16 * 16):  # 16 MiB without a line end
            self.send(block)
        self.send(b"\r\n\r\n")

    def mode_endless_continue(self, route):
        interim = b"HTTP/1.1 100 Continue\r\n\r\n" * 1000
        while True:
            self.send(interim)

    # silence: headers and then no body; no answer at all; a slow drip
    def mode_no_body(self, route):
        self.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n")
        self.sleep_until_closed()

    def mode_silent(self, route):
        self.sleep_until_closed()

    def mode_drip(self, route):
        body = rpc_result(envelope()) + b" " * 100000
        self.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body))
        for i in range(len(body)):
            self.send(body[i:i + 1])
            time.sleep(0.1)

    def mode_drip_headers(self, route):
        for b in b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"s" * 100000:
            self.send(bytes([b]))
            time.sleep(0.1)

    # not HTTP at all
    def mode_garbage(self, route):
        self.send(random.Random(1).randbytes(4096))

    def mode_bad_status(self, route):
        self.send(b"HTTP/1.1 99999999999999999999 OK\r\nContent-Length: 2\r\n\r\n{}")

    def mode_bad_chunk(self, route):
        self.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"FFFFFFFFFFFFFFFFFFFFFFFF\r\n" + b" " * 1000)
        self.sleep_until_closed()

    def mode_short_body(self, route):
        self.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b'{"jsonrpc"')

    # 200 answers whose JSON is hostile
    def mode_invalid_json(self, route):
        self.json(b'{"jsonrpc":"2.0","result":{"envelope":{"id":"x"')

    def mode_not_utf8(self, route):
        self.json(b'{"jsonrpc":"2.0","result":"\xff\xfe\xc0\x80"}')

    def mode_json_array(self, route):
        self.json(b'[{"jsonrpc":"2.0","result":{"envelope":{}},"id":1}]')

    def mode_wrong_types(self, route):
        self.json(dumps({"jsonrpc": "2.0", "id": 1, "result": {"envelope": {
            "id": 123, "sender": ["urn:asap:agent:x"], "recipient": {"a": 1},
            "payload_type": True, "payload": "not an object", "timestamp": 1.5e300,
            "extensions": [1, 2, 3]}}}))

    def mode_wrong_result(self, route):
        self.json(b'{"jsonrpc":"2.0","result":[1,2,3],"error":null,"id":{}}')

    def mode_deep_array(self, route):
        self.json(deep(100000))

    def mode_deep_array_max(self, route):
        self.json(deep(500000))  # as deep as a 1 MiB message allows

    def mode_deep_payload(self, route):
        body = (b'{"jsonrpc":"2.0","id":1,"result":{"envelope":{"id":"' + ULID.encode() +
                b'","sender":"urn:asap:agent:x","recipient":"urn:asap:agent:y",'
                b'"payload_type":"task.response","payload":{"a":' +
                b'{"a":' * 100000 + b"1" + b"}" * 100000 + b"}}}}")
        self.json(body)

    def mode_deep_error(self, route):
        self.json(b'{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"deep",'
                  b'"data":' + deep(100000) + b"}}")

    def mode_deep_http_error(self, route):
        self.answer(500, b'{"error":{"code":-32603,"message":"deep","data":' +
                    deep(100000) + b"}}", ["Content-Type: application/json"])

    def mode_many_members(self, route):
        env = envelope()
        for i in range(10000):
            env["unknown_%d" % i] = i
        self.json(rpc_result(env))

    def mode_many_error_members(self, route):
        data = {"k%d" % i: "v" * 50 for i in range(10000)}
        self.json(dumps({"jsonrpc": "2.0", "id": 1,
                         "error": {"code": -32603, "message": "m" * 100000, "data": data}}))

    # a v2 server whose batch answers are hostile
    def mode_batch_hostile(self, route):
        try:
            request = json.loads(self.body)
        except ValueError:
            request = None
        v2 = ["ASAP-Version: 2.2"]
        if not isinstance(request, list) or not request or not isinstance(request[0], dict):
            self.json(rpc_result(envelope(), request.get("id") if isinstance(request, dict) else 1), v2)
            return
        first = request[0].get("id")
        answers = [{"jsonrpc": "2.0", "result": {"envelope": envelope()}, "id": first},
                   {"jsonrpc": "2.0", "error": {"code": -32603, "message": "dup"}, "id": first},
                   {"jsonrpc": "2.0", "result": 1, "id": 2 ** 63 - 1},
                   {"jsonrpc": "2.0", "result": 1, "id": -2 ** 63},
                   {"jsonrpc": "2.0", "result": 1, "id": 1.5},
                   {"jsonrpc": "2.0", "result": 1, "id": str(first)},
                   7, None, [], "x"]
        answers += [{"jsonrpc": "2.0", "result": {"envelope": {}}, "id": None}] * 10000
        self.json(dumps(answers), v2)

    # compression
    def mode_gzip_bomb(self, route):
        self.json(gzip_bomb(), ["Content-Encoding: gzip"])

    def mode_br_corrupt(self, route):
        self.json(b"\xff" * 64 + random.Random(2).randbytes(4096), ["Content-Encoding: br"])

    def mode_unknown_encoding(self, route):
        self.json(rpc_result(envelope()), ["Content-Encoding: x-hostile-squash"])

    def mode_gzip_bomb_413(self, route):
        self.answer(413, gzip_bomb(), ["Content-Encoding: gzip"])

    # redirects that must not be followed
    def mode_redirect(self, route):
        port = self.server.server_address[1]
        self.answer(302, b"", ["Location: http://127.0.0.1:%d/redirect-target%s" % (port, route)])

    def mode_redirect_307(self, route):
        port = self.server.server_address[1]
        self.answer(307, b"", ["Location: http://127.0.0.1:%d/redirect-target%s" % (port, route)])

    def mode_redirect_port1(self, route):
        self.answer(302, b"", ["Location: http://127.0.0.1:1" + route])

    def mode_redirect_target(self, route):
        self.mode_ok(route)

    # rate limits that ask for waiting
    def too_many(self, retry_after):
        self.answer(429, dumps({"jsonrpc": "2.0", "id": None, "error": {
            "code": 429, "message": "Rate limit exceeded", "data": {"retry_after": 1}}}),
            ["Content-Type: application/json", "Retry-After: " + retry_after])

    def mode_retry_after_huge(self, route):
        self.too_many("999999999")

    def mode_retry_after_date(self, route):
        self.too_many("Fri, 31 Dec 9999 23:59:59 GMT")

    def mode_retry_after_overflow(self, route):
        self.too_many("99999999999999999999999999")

    def mode_retry_after_negative(self, route):
        self.too_many("-5")

    def mode_retry_after_garbage(self, route):
        self.too_many("soon, \x01\x02 maybe")

    # manifests
    def mode_not_modified(self, route):
        self.answer(304, b"", ['ETag: "m1"'])

    def mode_manifest_invalid(self, route):
        self.json(b'{"id":"urn:asap:agent:x","name":')

    def mode_manifest_deep(self, route):
        self.json(b'{"id":"urn:asap:agent:x","capabilities":{"skills":' + deep(100000) + b"}}")

    def mode_manifest_deep_max(self, route):
        # As deep as a 1 MiB message allows.
        self.json(b'{"id":"urn:asap:agent:x","capabilities":{"skills":' + deep(500000) + b"}}")

    def mode_manifest_deep_schema(self, route):
        self.json(b'{"id":"urn:asap:agent:x","capabilities":{"skills":[{"id":"s","input_schema":' +
                  b'{"a":' * 150000 + b"1" + b"}" * 150000 + b"}]}}")

    # Server-Sent Events
    def mode_sse_long_line(self, route):
        self.sse_head()
        self.send(b"data: ")
        block = b"x" * CHUNK
        for _ in range(100 * 16):  # 100 MiB without a line end
            self.send(block)

    def mode_sse_many_data_lines(self, route):
        self.sse_head()
        line = b"data: " + b"y" * 1000 + b"\n"
        while True:  # data lines without the blank line that ends an event
            self.send(line * 64)

    def mode_sse_endless(self, route):
        self.sse_head()
        event = b"data: " + dumps(envelope(False)) + b"\n\n"
        while True:  # intermediate events, never a final one
            self.send(event)
            time.sleep(0.02)

    def mode_sse_final_then_silence(self, route):
        self.sse_head()
        self.send(b"data: " + dumps(envelope(False)) + b"\n\n")
        self.send(b"data: " + dumps(envelope(True)) + b"\n\n")
        self.sleep_until_closed()  # the final envelope, then never an end

    def mode_sse_error_garbage(self, route):
        self.sse_head()
        self.send(b"event: error\ndata: \x00\xff{{{not json\n\n")
        self.sleep_until_closed()

    def mode_sse_error_deep(self, route):
        self.sse_head()
        self.send(b'event: error\ndata: {"jsonrpc":"2.0","id":1,"error":{"code":-32603,'
                  b'"message":"x","data":' + deep(100000) + b"}}\n\n")
        self.sleep_until_closed()

    def mode_sse_garbage_event(self, route):
        self.sse_head()
        self.send(b"data: " + deep(100000) + b"\n\ndata: [1,2]\n\n")
        self.sleep_until_closed()

    # connections that die
    def mode_reset(self, route):
        body = rpc_result(envelope())
        self.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body[:len(body) // 2])
        time.sleep(0.05)
        self.reset()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Connection)
    host, port = server.server_address
    print("listening on %s:%d" % (host, port), flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
