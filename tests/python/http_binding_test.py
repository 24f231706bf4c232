"""ASAP's HTTP binding (JSON-RPC 2.0 over HTTP/1.1 and h2c) of `asap serve`,
seen from Python: what the reference client and the TypeScript client send.

Starts `asap serve --port 0 --http-port 0` (the echo agent) and talks to its
HTTP port with Debian's httpx (HTTP/1.1, and h2c with prior knowledge through
python3-h2), http.client and raw sockets for exact byte checks. The wire
contract is /work/shared/HTTP_BINDING.md (docs: the binding's routes, error
table, compression, batches, versions and streams).

Every network call has a timeout and every test a 60 s alarm; after every
test the server must still be running and answer /health.
"""

import concurrent.futures
import gzip
import http.client
import json
import re
import secrets
import socket
import threading
import time
import unittest

# No try/except: without these the test must fail, not skip.
import brotli
import grpc
import httpx

from asap.v1 import service_pb2_grpc
from asap_testing import (AsapServer, TimeLimitedTestCase, envelope_dict,
                          envelope_proto, new_ulid, rfc3339)

TIMEOUT_S = 10
TEST_TIMEOUT_S = TimeLimitedTestCase.TEST_TIMEOUT_S

AGENT_ID = "urn:asap:agent:echo"
CLIENT_ID = "urn:asap:agent:py"
MIB = 1024 * 1024
V2_HEADER = {"ASAP-Version": "2.2, 2.1"}


def envelope(payload_type="task.request", payload=None, input_obj=None,
             **fields):
    """An envelope as JSON (dict). `input_obj` makes a TaskRequest payload."""
    if payload is None:
        payload = {"conversation_id": "c1", "skill_id": "echo",
                   "input": input_obj if input_obj is not None
                   else {"text": "hi"}}
    env = envelope_dict(CLIENT_ID, AGENT_ID, payload_type, payload)
    env.update(fields)
    return {k: v for k, v in env.items() if v is not None}


def rpc(env, req_id="req-1", **params_extra):
    params = {"envelope": env}
    params.update(params_extra)
    return {"jsonrpc": "2.0", "method": "asap.send", "params": params,
            "id": req_id}


def dumps(obj):
    return json.dumps(obj).encode()


def big_input(kib=8):
    """An input object of about `kib` KiB, compressible but not trivially."""
    rows = [{"k": "key-%05d" % i, "text": "agent task result %d" % (i % 7)}
            for i in range(kib * 1024 // 40)]
    return {"rows": rows}


def parse_sse(chunks, limit=None):
    """Events of a text/event-stream body as dicts {id, event, data}, from an
    iterator of byte chunks; stops after `limit` events when given."""
    events = []
    buffer = b""
    current = {}
    for chunk in chunks:
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            line = line.rstrip(b"\r").decode("utf-8")
            if line == "":
                if current:
                    events.append(current)
                    current = {}
                    if limit is not None and len(events) >= limit:
                        return events
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data" and "data" in current:
                current["data"] += "\n" + value
            else:
                current[name] = value
    if current:
        events.append(current)
    return events


class HttpBindingTest(TimeLimitedTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = AsapServer(http=True)
        cls.addClassCleanup(cls.server.stop)
        http_address = cls.server.http_address
        if not re.fullmatch(r"127\.0\.0\.1:[1-9][0-9]*", http_address):
            raise AssertionError("bad http address %r" % http_address)
        cls.grpc_address = cls.server.grpc_address
        cls.host = http_address.rsplit(":", 1)[0]
        cls.port = cls.server.http_port
        cls.base = "http://%s" % http_address
        cls.url = cls.base + "/asap"

        cls.client = httpx.Client(timeout=TIMEOUT_S)
        cls.addClassCleanup(cls.client.close)
        cls.h2 = httpx.Client(http1=False, http2=True, timeout=TIMEOUT_S)
        cls.addClassCleanup(cls.h2.close)

    @classmethod
    def tearDownClass(cls):
        # Graceful shutdown with idle keep-alive (HTTP/1.1 and h2)
        # connections still open: exit 0 within SHUTDOWN_TIMEOUT_S (of
        # asap_testing).
        start = time.monotonic()
        rc = cls.server.stop()
        if rc != 0:
            raise AssertionError(
                "asap serve exited %s after SIGTERM (%.1f s), want 0" %
                (rc, time.monotonic() - start))

    def tearDown(self):
        super().tearDown()
        # Whatever the test sent, the server is still up and answering.
        self.assertIsNone(self.server.proc.poll(),
                          "asap serve died (exit %s)" % self.server.proc.poll())
        with httpx.Client(timeout=TIMEOUT_S) as client:
            r = client.post(self.url, json=rpc(envelope(), "after"))
        self.assertEqual(r.status_code, 200, r.text)
        self.assertIn("result", r.json(), r.text)

    # --- helpers -------------------------------------------------------------

    def post(self, body, headers=None, client=None, path="/asap"):
        """POSTs `body` (bytes, or an object sent as JSON)."""
        if not isinstance(body, (bytes, bytearray)):
            body = dumps(body)
        all_headers = {"Content-Type": "application/json"}
        all_headers.update(headers or {})
        return (client or self.client).post(self.base + path, content=body,
                                            headers=all_headers)

    def call(self, body, headers=None, client=None):
        """POST /asap expecting HTTP 200 JSON; returns the parsed answer."""
        r = self.post(body, headers, client)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertTrue(
            r.headers["content-type"].startswith("application/json"),
            r.headers)
        return r.json()

    def assert_result(self, answer, req_id, request_env):
        self.assertEqual(answer.get("jsonrpc"), "2.0", answer)
        self.assertNotIn("error", answer, answer)
        self.assertEqual(answer["id"], req_id, answer)
        env = answer["result"]["envelope"]
        self.assertEqual(env["correlation_id"], request_env["id"], env)
        self.assertEqual(env["sender"], AGENT_ID)
        self.assertEqual(env["recipient"], request_env["sender"])
        if request_env["payload_type"] == "task.request":
            self.assertEqual(env["payload_type"], "task.response")
            self.assertEqual(env["payload"]["status"], "completed")
            self.assertEqual(env["payload"]["result"],
                             request_env["payload"]["input"])
        return env

    def assert_error(self, answer, code, req_id="__any__"):
        self.assertEqual(answer.get("jsonrpc"), "2.0", answer)
        self.assertNotIn("result", answer, answer)
        self.assertIn("error", answer, answer)
        self.assertEqual(answer["error"]["code"], code, answer)
        self.assertIsInstance(answer["error"]["message"], str)
        if req_id != "__any__":
            self.assertEqual(answer["id"], req_id, answer)
        return answer["error"].get("data")

    def assert_detail(self, r, status, prefix=""):
        self.assertEqual(r.status_code, status, r.text)
        detail = r.json()["detail"]
        self.assertIsInstance(detail, str)
        self.assertTrue(detail.startswith(prefix),
                        "detail %r does not start with %r" % (detail, prefix))

    def raw_exchange(self, request_bytes, timeout=TIMEOUT_S):
        """Sends raw bytes on a fresh socket; returns (status, headers, body)
        of the first response."""
        with socket.create_connection((self.host, self.port),
                                      timeout=timeout) as sock:
            sock.sendall(request_bytes)
            response = http.client.HTTPResponse(sock)
            response.begin()
            body = response.read()
            return response.status, response.headers, body

    def stream(self, body, headers=None, client=None, method="POST",
               limit=None):
        """POST (or GET) /asap/stream: returns (response, events). With
        `limit` the connection is closed after that many events."""
        all_headers = {"Content-Type": "application/json"}
        all_headers.update(headers or {})
        content = None
        if body is not None:
            content = body if isinstance(body, bytes) else dumps(body)
        with (client or self.client).stream(
                method, self.base + "/asap/stream", content=content,
                headers=all_headers) as r:
            if not r.headers.get("content-type", "").startswith(
                    "text/event-stream"):
                r.read()
                return r, None
            events = parse_sse(r.iter_bytes(), limit)
        return r, events

    def h2_raw_post(self, body, declared=None, send_body=True):
        """POST /asap over h2c with the h2 library on a raw socket, sending
        the body as flow control allows and stopping when the server ends or
        resets the stream (an early answer, which httpx cannot take). Returns
        (status, response body bytes, stream reset by the server)."""
        import h2.config
        import h2.connection
        import h2.events
        import h2.exceptions
        conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        with socket.create_connection((self.host, self.port),
                                      timeout=TIMEOUT_S) as sock:
            conn.initiate_connection()
            sock.sendall(conn.data_to_send())
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, [
                (":method", "POST"), (":scheme", "http"),
                (":authority", "%s:%d" % (self.host, self.port)),
                (":path", "/asap"), ("content-type", "application/json"),
                ("content-length",
                 str(declared if declared is not None else len(body)))])
            sock.sendall(conn.data_to_send())
            status, data, ended, reset, sent = None, b"", False, False, 0
            while not ended and not reset:
                if send_body and sent < len(body):
                    try:
                        n = min(conn.local_flow_control_window(sid),
                                conn.max_outbound_frame_size,
                                len(body) - sent)
                        if n > 0:
                            conn.send_data(sid, body[sent:sent + n],
                                           end_stream=sent + n == len(body))
                            sent += n
                            sock.sendall(conn.data_to_send())
                            continue
                    except h2.exceptions.StreamClosedError:
                        send_body = False
                chunk = sock.recv(65536)
                if not chunk:
                    break
                for event in conn.receive_data(chunk):
                    if isinstance(event, h2.events.ResponseReceived):
                        status = int(dict(event.headers)[":status"])
                    elif isinstance(event, h2.events.DataReceived):
                        data += event.data
                        conn.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded):
                        ended = True
                    elif isinstance(event, h2.events.StreamReset):
                        reset = event.error_code != 0 or not ended
                sock.sendall(conn.data_to_send())
            return status, data, reset

    # --- POST /asap: success -------------------------------------------------

    def test_send_task_request(self):
        env = envelope(input_obj={"text": "hello", "n": 3,
                                  "nested": {"list": [1, "two", True]}})
        r = self.post(rpc(env, "req-1"))
        self.assertEqual(r.status_code, 200, r.text)
        self.assertTrue(r.headers["content-type"].startswith(
            "application/json"), r.headers)
        self.assertNotIn("asap-version", r.headers)
        answer = r.json()
        self.assertEqual(set(answer), {"jsonrpc", "result", "id"})
        out = self.assert_result(answer, "req-1", env)
        # A v1.0 client gets a v1.0 envelope: no v2 members.
        self.assertNotIn("requires_ack", out)
        self.assertEqual(out["asap_version"], "0.1")
        self.assertTrue(out["id"])
        self.assertRegex(out["timestamp"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

    def test_integer_id_and_reference_client_headers(self):
        env = envelope()
        answer = self.call(
            rpc(env, 7, idempotency_key=new_ulid()),
            headers={"X-Idempotency-Key": new_ulid(),
                     "Accept-Encoding": "br, gzip, identity"})
        self.assert_result(answer, 7, env)

    def test_envelope_without_id_and_timestamp(self):
        env = envelope()
        del env["id"]
        del env["timestamp"]
        answer = self.call(rpc(env, "gen"))
        self.assertNotIn("error", answer, answer)
        out = answer["result"]["envelope"]
        self.assertTrue(out["correlation_id"], out)
        self.assertEqual(out["payload"]["result"], env["payload"]["input"])

    def test_task_request_pascal_case(self):
        env = envelope(payload_type="TaskRequest")
        out = self.assert_result(self.call(rpc(env, "pc")), "pc", env)
        self.assertEqual(out["payload_type"], "TaskResponse")

    def test_timestamp_within_window_accepted(self):
        for delta in (-250, 20):
            env = envelope(timestamp=rfc3339(delta))
            self.assert_result(self.call(rpc(env, "ts")), "ts", env)

    def test_http1_keep_alive_one_socket(self):
        conn = http.client.HTTPConnection(self.host, self.port,
                                          timeout=TIMEOUT_S)
        try:
            conn.connect()
            # No silent reconnect: a closed connection makes request() fail.
            conn.auto_open = 0
            local = conn.sock.getsockname()
            for i in range(3):
                env = envelope(input_obj={"i": i})
                conn.request("POST", "/asap", body=dumps(rpc(env, i)),
                             headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                self.assertEqual(response.status, 200)
                self.assertFalse(response.will_close,
                                 "server closes after request %d" % i)
                self.assert_result(json.loads(response.read()), i, env)
                self.assertEqual(conn.sock.getsockname(), local)
        finally:
            conn.close()

    def test_http1_keep_alive_many_requests(self):
        with httpx.Client(timeout=TIMEOUT_S,
                          limits=httpx.Limits(max_connections=1)) as client:
            for i in range(50):
                env = envelope(input_obj={"i": i})
                r = self.post(rpc(env, i), client=client)
                self.assertEqual(r.http_version, "HTTP/1.1")
                self.assert_result(r.json(), i, env)

    def test_h2c(self):
        env = envelope()
        r = self.post(rpc(env, "h2"), client=self.h2)
        self.assertEqual(r.http_version, "HTTP/2")
        self.assertEqual(r.status_code, 200, r.text)
        self.assert_result(r.json(), "h2", env)

    def test_h2c_64_concurrent_requests_on_one_connection(self):
        # 64 threads share one connection: under a sanitizer on a loaded
        # machine an answer can take longer than TIMEOUT_S to reach its
        # thread, so the read timeout is the test's own bound.
        with httpx.Client(http1=False, http2=True,
                          timeout=TEST_TIMEOUT_S - 20,
                          limits=httpx.Limits(max_connections=1)) as client:
            envs = [envelope(input_obj={"i": i, "pad": "x" * (i * 37)})
                    for i in range(64)]
            barrier = threading.Barrier(64, timeout=TIMEOUT_S)

            def send(i):
                barrier.wait()
                return self.post(rpc(envs[i], i), client=client)

            with concurrent.futures.ThreadPoolExecutor(64) as pool:
                responses = list(pool.map(send, range(64),
                                          timeout=TEST_TIMEOUT_S - 10))
        for i, r in enumerate(responses):
            self.assertEqual(r.http_version, "HTTP/2")
            self.assertEqual(r.status_code, 200, r.text)
            self.assert_result(r.json(), i, envs[i])

    # --- POST /asap: the error table -----------------------------------------

    def test_invalid_json(self):
        for body in (b'{"jsonrpc": "2.0",', b"", b"nope", b"{'a': 1}"):
            with self.subTest(body=body):
                data = self.assert_error(self.call(body), -32700, None)
                self.assertTrue(data["error"].startswith("Invalid JSON: "),
                                data)

    def test_invalid_utf8(self):
        body = (b'{"jsonrpc":"2.0","method":"asap.send","params":'
                b'{"envelope":{}},"id":"\xff\xfe"}')
        data = self.assert_error(self.call(body), -32700, None)
        self.assertTrue(data["error"].startswith("Invalid JSON: "), data)

    def test_json_not_an_object(self):
        for body, type_name in (("str", "str"), (5, "int"), (None, "NoneType"),
                                (2.5, "float"), (True, "bool")):
            with self.subTest(body=body):
                data = self.assert_error(self.call(body), -32600)
                self.assertEqual(data["received_type"], type_name, data)
                self.assertIn("error", data)

    def test_invalid_json_rpc_request(self):
        good = rpc(envelope(), "bad")
        cases = {
            "missing jsonrpc": {k: v for k, v in good.items()
                                if k != "jsonrpc"},
            "jsonrpc 1.0": dict(good, jsonrpc="1.0"),
            "jsonrpc number": dict(good, jsonrpc=2.0),
            "missing method": {k: v for k, v in good.items()
                               if k != "method"},
            "unknown member": dict(good, extra=1),
            "missing id": {k: v for k, v in good.items() if k != "id"},
            "id null": dict(good, id=None),
            "id float": dict(good, id=1.5),
            "id object": dict(good, id={"a": 1}),
        }
        for name, body in cases.items():
            with self.subTest(case=name):
                data = self.assert_error(self.call(body), -32600)
                self.assertIn("error", data)
                self.assertIsInstance(data["validation_errors"], list)
                self.assertTrue(data["validation_errors"], data)

    def test_params_not_an_object(self):
        for params in ([1], "x", 3, None):
            with self.subTest(params=params):
                body = {"jsonrpc": "2.0", "method": "asap.send",
                        "params": params, "id": "p"}
                self.assert_error(self.call(body), -32602, "p")

    def test_method_not_found(self):
        body = rpc(envelope(), "m")
        body["method"] = "asap.receive"
        data = self.assert_error(self.call(body), -32601, "m")
        self.assertEqual(data["method"], "asap.receive")

    def test_envelope_missing_or_invalid(self):
        def without(key):
            env = envelope()
            del env[key]
            return env

        cases = {
            "no envelope": {"jsonrpc": "2.0", "method": "asap.send",
                            "params": {"other": 1}, "id": "e"},
            "envelope not an object": rpc("text", "e"),
            "unknown field": rpc(envelope(bogus=1), "e"),
            "wrong type": rpc(envelope(payload_type=5), "e"),
            "payload not an object": rpc(envelope(payload=[1]), "e"),
            "bad sender URN": rpc(envelope(sender="not-an-agent-urn"), "e"),
            "no sender": rpc(without("sender"), "e"),
            "no payload_type": rpc(without("payload_type"), "e"),
            "not a TaskRequest": rpc(envelope(payload={"x": 1}), "e"),
        }
        for name, body in cases.items():
            with self.subTest(case=name):
                data = self.assert_error(self.call(body), -32602, "e")
                self.assertIsInstance(data["error"], str, data)
                self.assertIsInstance(data["validation_errors"], list, data)
                self.assertTrue(data["validation_errors"], data)

    def test_timestamp_not_rfc3339(self):
        # The reference (pydantic) calls this an invalid envelope; asap's
        # validator calls it invalid_timestamp. Both are -32602.
        env = envelope(timestamp="yesterday")
        data = self.assert_error(self.call(rpc(env, "ty")), -32602, "ty")
        self.assertTrue("validation_errors" in data or
                        data.get("code") == "asap:protocol/invalid_timestamp",
                        data)

    def test_timestamp_out_of_window(self):
        for delta in (-400, 120):
            with self.subTest(delta=delta):
                env = envelope(timestamp=rfc3339(delta))
                data = self.assert_error(self.call(rpc(env, "t")), -32602,
                                         "t")
                self.assertEqual(data["code"],
                                 "asap:protocol/invalid_timestamp", data)
                self.assertIn("message", data)

    def test_nonce_replay(self):
        nonce = secrets.token_hex(16)
        first = envelope(extensions={"nonce": nonce})
        self.assert_result(self.call(rpc(first, "n1")), "n1", first)
        # A new envelope (new id) with the same nonce is a replay.
        second = envelope(extensions={"nonce": nonce})
        data = self.assert_error(self.call(rpc(second, "n2")), -32602, "n2")
        self.assertEqual(data["code"], "asap:protocol/invalid_nonce", data)
        # A fresh nonce is fine.
        third = envelope(extensions={"nonce": secrets.token_hex(16)})
        self.assert_result(self.call(rpc(third, "n3")), "n3", third)

    def test_unknown_payload_type(self):
        env = envelope(payload_type="no.such.type", payload={"anything": 1})
        data = self.assert_error(self.call(rpc(env, "u")), -32601, "u")
        self.assertEqual(data["payload_type"], "no.such.type")
        self.assertIsInstance(data["error"], str)

    def test_handler_failure_internal_error(self):
        self.skipTest(
            "-32603 {\"error\": \"Internal server error\"} needs a handler "
            "that fails with a non-protocol error; the echo agent has none "
            "(its handlers only fail with asap:protocol/malformed_envelope, "
            "-32602). Covered in C++ by "
            "tests/server/http/json_rpc_service_test.cc.")

    def test_overload_503(self):
        self.skipTest(
            "503 {error, code, message} at the memory quota needs a server "
            "configured with a tiny quota; `asap serve` has no flag for it. "
            "Covered in C++ by tests/server/http/json_rpc_service_test.cc.")

    # --- plain HTTP errors ---------------------------------------------------

    def test_body_over_10_mib_declared(self):
        # Only the headers: the server must answer on the declared length,
        # without waiting for a body it will not take.
        request = (
            "POST /asap HTTP/1.1\r\nHost: %s:%d\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % (self.host, self.port, 11 * MIB)
        ).encode()
        status, headers, body = self.raw_exchange(request)
        self.assertEqual(status, 413, body)
        self.assertIsInstance(json.loads(body)["detail"], str)

    def test_body_over_10_mib_sent(self):
        env = envelope(input_obj={"blob": "a" * (11 * MIB)})
        body = dumps(rpc(env, "big"))
        self.assertGreater(len(body), 10 * MIB)
        r = self.post(body)
        self.assert_detail(r, 413)
        # h2c: the server may answer before the body is all sent (and then
        # reset the stream with NO_ERROR, RFC 9113 8.1): read that answer.
        status, data, reset = self.h2_raw_post(body)
        self.assertEqual(status, 413, data)
        self.assertFalse(reset, "stream reset with an error code")
        self.assertIsInstance(json.loads(data)["detail"], str)

    def test_body_over_10_mib_declared_h2c(self):
        status, data, reset = self.h2_raw_post(b"", declared=11 * MIB,
                                               send_body=False)
        self.assertEqual(status, 413, data)
        self.assertIsInstance(json.loads(data)["detail"], str)

    def test_body_of_10_mib_minus_a_bit_accepted(self):
        # Just under the cap is fine (the envelope limits of the server
        # allow a payload of this size).
        env = envelope(input_obj={"blob": "a" * (9 * MIB)})
        body = dumps(rpc(env, "nine"))
        for name, client in (("http/1.1", self.client), ("h2c", self.h2)):
            with self.subTest(client=name):
                r = self.post(body, client=client)
                self.assertEqual(r.status_code, 200)
                self.assert_result(r.json(), "nine", env)

    def test_bodies_over_64_kib(self):
        # Bodies past the server's inline-parse size are parsed on a worker
        # thread and answered from there.
        env = envelope(input_obj={"text": "x" * (100 * 1024)})
        for name, client in (("http/1.1", self.client), ("h2c", self.h2)):
            with self.subTest(client=name):
                self.assert_result(self.call(rpc(env, name), client=client),
                                   name, env)

    def test_gzip_bomb(self):
        bomb = gzip.compress(b"\0" * (50 * MIB), compresslevel=9)
        self.assertLess(len(bomb), MIB)
        r = self.post(bomb, {"Content-Encoding": "gzip"})
        self.assert_detail(r, 413)

    def test_brotli_bomb(self):
        bomb = brotli.compress(b"\0" * (50 * MIB), quality=4)
        self.assertLess(len(bomb), MIB)
        r = self.post(bomb, {"Content-Encoding": "br"})
        self.assert_detail(r, 413)

    def test_unsupported_content_encoding(self):
        body = dumps(rpc(envelope(), "ce"))
        for encoding in ("deflate", "xyz", "zstd"):
            with self.subTest(encoding=encoding):
                r = self.post(body, {"Content-Encoding": encoding})
                self.assert_detail(
                    r, 415, "Unsupported Content-Encoding: " + encoding)

    def test_corrupt_compressed_body(self):
        good = dumps(rpc(envelope(input_obj=big_input(2)), "cc"))
        truncated_gzip = gzip.compress(good)[:-40]
        for encoding, body in (
                ("gzip", b"\x1f\x8b\x08\x00garbage garbage garbage"),
                ("gzip", truncated_gzip),
                ("gzip", good),  # plain JSON labelled gzip
                ("br", b"\xff\xff\xff not brotli at all"),
                ("br", brotli.compress(good)[:-10])):
            with self.subTest(encoding=encoding, size=len(body)):
                r = self.post(body, {"Content-Encoding": encoding})
                self.assert_detail(r, 400)

    # --- compression ---------------------------------------------------------

    def test_compressed_requests(self):
        env = envelope(input_obj=big_input(4))
        plain = dumps(rpc(env, "z"))
        self.assertGreater(len(plain), 1024)
        for encoding, body in (("gzip", gzip.compress(plain, 6)),
                               ("br", brotli.compress(plain, quality=4)),
                               ("identity", plain),
                               ("GZIP", gzip.compress(plain, 6))):
            with self.subTest(encoding=encoding):
                self.assertLess(len(body), len(plain) + 1)
                answer = self.call(body, {"Content-Encoding": encoding})
                self.assert_result(answer, "z", env)

    def test_response_compression_negotiated(self):
        env = envelope(input_obj=big_input(8))
        body = dumps(rpc(env, "rc"))
        for accept, want in (("br, gzip, identity", "br"),
                             ("gzip, br", "br"),
                             ("gzip", "gzip"),
                             ("gzip, identity", "gzip"),
                             ("identity", None),
                             (None, None)):
            with self.subTest(accept=accept):
                headers = {"Content-Type": "application/json"}
                if accept is not None:
                    headers["Accept-Encoding"] = accept
                conn = http.client.HTTPConnection(self.host, self.port,
                                                  timeout=TIMEOUT_S)
                try:
                    # skip_accept_encoding: no default header from
                    # http.client (it sends none anyway, but be explicit).
                    conn.putrequest("POST", "/asap",
                                    skip_accept_encoding=True)
                    for k, v in headers.items():
                        conn.putheader(k, v)
                    conn.putheader("Content-Length", str(len(body)))
                    conn.endheaders(body)
                    response = conn.getresponse()
                    raw = response.read()
                    self.assertEqual(response.status, 200)
                    got = response.getheader("Content-Encoding")
                    self.assertEqual(got, want, response.getheaders())
                    self.assertIn("accept-encoding",
                                  (response.getheader("Vary") or "").lower())
                    self.assertEqual(int(response.getheader(
                        "Content-Length", len(raw))), len(raw))
                    if want == "br":
                        decoded = brotli.decompress(raw)
                    elif want == "gzip":
                        decoded = gzip.decompress(raw)
                    else:
                        decoded = raw
                    if want is not None:
                        self.assertLess(len(raw), len(decoded))
                    self.assert_result(json.loads(decoded), "rc", env)
                finally:
                    conn.close()

    def test_response_compression_httpx_and_h2(self):
        env = envelope(input_obj=big_input(8))
        for name, client in (("http/1.1", self.client), ("h2c", self.h2)):
            with self.subTest(client=name):
                r = self.post(rpc(env, "hx"), client=client, headers={
                    "Accept-Encoding": "br, gzip, identity"})
                self.assertEqual(r.status_code, 200)
                self.assertEqual(r.headers.get("content-encoding"), "br")
                self.assert_result(r.json(), "hx", env)

    def test_small_response_not_compressed(self):
        env = envelope()
        r = self.post(rpc(env, "s"), {"Accept-Encoding": "br, gzip"})
        self.assertEqual(r.status_code, 200)
        self.assertLess(len(r.content), 1024)
        self.assertNotIn("content-encoding", r.headers)
        self.assert_result(r.json(), "s", env)

    # --- v2 ------------------------------------------------------------------

    def test_v2_version_header_and_requires_ack(self):
        env = envelope(requires_ack=False)
        r = self.post(rpc(env, "v2"), V2_HEADER)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.headers.get("asap-version"), "2.2")
        out = self.assert_result(r.json(), "v2", env)
        self.assertIs(out["requires_ack"], False)
        # A v2 envelope without requires_ack is fine too; the answer has it.
        env = envelope()
        r = self.post(rpc(env, "v2b"), {"ASAP-Version": "2.1"})
        self.assertEqual(r.headers.get("asap-version"), "2.1")
        out = self.assert_result(r.json(), "v2b", env)
        self.assertIs(out["requires_ack"], False)

    def test_unknown_version_answers_as_v1(self):
        env = envelope()
        r = self.post(rpc(env, "v9"), {"ASAP-Version": "9.9"})
        self.assertNotIn("asap-version", r.headers)
        out = self.assert_result(r.json(), "v9", env)
        self.assertNotIn("requires_ack", out)

    def test_v1_rejects_requires_ack(self):
        answer = self.call(rpc(envelope(requires_ack=False), "v1"))
        data = self.assert_error(answer, -32602, "v1")
        self.assertTrue(data["validation_errors"], data)

    def test_v2_error_band(self):
        nonce = secrets.token_hex(16)
        self.call(rpc(envelope(extensions={"nonce": nonce}), "n"), V2_HEADER)
        cases = {
            "handler_not_found": (
                envelope(payload_type="no.such.type", payload={"a": 1}),
                "asap:transport/handler_not_found", -32020),
            "invalid_timestamp": (
                envelope(timestamp=rfc3339(-400)),
                "asap:protocol/invalid_timestamp", None),
            "invalid_nonce": (
                envelope(extensions={"nonce": nonce}),
                "asap:protocol/invalid_nonce", None),
        }
        for name, (env, asap_code, rpc_code) in cases.items():
            with self.subTest(case=name):
                r = self.post(rpc(dict(env, requires_ack=False), name),
                              V2_HEADER)
                self.assertEqual(r.status_code, 200, r.text)
                self.assertEqual(r.headers.get("asap-version"), "2.2")
                answer = r.json()
                self.assertIn("error", answer, answer)
                self.assertEqual(answer["id"], name)
                code = answer["error"]["code"]
                self.assertTrue(-32059 <= code <= -32000, answer)
                if rpc_code is not None:
                    self.assertEqual(code, rpc_code, answer)
                self.assertEqual(answer["error"]["data"]["code"], asap_code)

    # --- batches -------------------------------------------------------------

    def test_batch_mixed(self):
        ok1 = envelope(input_obj={"i": 1})
        ok2 = envelope(input_obj={"i": 2})
        unknown = envelope(payload_type="no.such.type", payload={"a": 1})
        bad_method = rpc(envelope(), "b2")
        bad_method["method"] = "nope"
        body = [rpc(ok1, "b0"), rpc(unknown, "b1"), bad_method, 5,
                rpc(ok2, 4), rpc(envelope(sender="bad"), "b5")]
        answer = self.call(body)
        self.assertIsInstance(answer, list, answer)
        self.assertEqual(len(answer), 6, answer)
        self.assert_result(answer[0], "b0", ok1)
        self.assertEqual(
            self.assert_error(answer[1], -32601, "b1")["payload_type"],
            "no.such.type")
        self.assert_error(answer[2], -32601, "b2")
        self.assertEqual(self.assert_error(answer[3], -32600)["received_type"],
                         "int")
        self.assert_result(answer[4], 4, ok2)
        self.assert_error(answer[5], -32602, "b5")

    def test_batch_of_50_over_h2(self):
        envs = [envelope(input_obj={"i": i}) for i in range(50)]
        answer = self.call([rpc(e, i) for i, e in enumerate(envs)],
                           client=self.h2)
        self.assertIsInstance(answer, list)
        self.assertEqual(len(answer), 50)
        for i, item in enumerate(answer):
            self.assert_result(item, i, envs[i])

    def test_batch_empty_or_too_long(self):
        for name, body in (("empty", []),
                           ("51", [rpc(envelope(), i) for i in range(51)])):
            with self.subTest(case=name):
                answer = self.call(body)
                self.assertIsInstance(answer, dict, answer)
                data = self.assert_error(answer, -32600, None)
                self.assertTrue(data["validation_errors"], data)

    # --- manifest, health, metrics, routes -----------------------------------

    def test_manifest(self):
        r = self.client.get(self.base + "/.well-known/asap/manifest.json")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertTrue(r.headers["content-type"].startswith(
            "application/json"))
        manifest = r.json()
        self.assertEqual(manifest["id"], AGENT_ID)
        # v1.0 shape only: a v1.0 client rejects unknown members.
        self.assertLessEqual(
            set(manifest),
            {"id", "name", "version", "description", "capabilities",
             "endpoints", "auth", "signature"})
        self.assertLessEqual(
            set(manifest.get("capabilities", {})),
            {"asap_version", "skills", "state_persistence", "streaming",
             "mcp_tools"})
        self.assertLessEqual(set(manifest.get("endpoints", {})),
                             {"asap", "events"})
        etag = r.headers.get("etag")
        self.assertTrue(etag, r.headers)
        self.assertRegex(r.headers.get("cache-control", ""), r"max-age=\d+")

        r2 = self.client.get(self.base + "/.well-known/asap/manifest.json",
                             headers={"If-None-Match": etag})
        self.assertEqual(r2.status_code, 304)
        self.assertEqual(r2.content, b"")
        self.assertEqual(r2.headers.get("etag"), etag)

        r3 = self.client.get(self.base + "/.well-known/asap/manifest.json",
                             headers={"If-None-Match": '"other"'})
        self.assertEqual(r3.status_code, 200)
        self.assertEqual(r3.json(), manifest)

        head = self.client.head(self.base + "/.well-known/asap/manifest.json")
        self.assertEqual(head.status_code, 200)
        self.assertEqual(head.content, b"")
        self.assertEqual(head.headers.get("etag"), etag)

        r4 = self.h2.get(self.base + "/.well-known/asap/manifest.json")
        self.assertEqual(r4.http_version, "HTTP/2")
        self.assertEqual(r4.json(), manifest)

    def test_manifest_head_raw(self):
        # HEAD over a raw socket: headers only, then the connection serves
        # the next request (no stray body bytes on it).
        request = (
            "HEAD /.well-known/asap/manifest.json HTTP/1.1\r\n"
            "Host: x\r\n\r\n"
            "GET /health HTTP/1.1\r\nHost: x\r\n\r\n").encode()
        with socket.create_connection((self.host, self.port),
                                      timeout=TIMEOUT_S) as sock:
            sock.sendall(request)
            # Both responses from one buffered reader (HTTPResponse makes
            # its own otherwise, and the first would swallow the second).
            reader = sock.makefile("rb")

            class KeptOpen:  # HTTPResponse closes its reader when done.
                def __getattr__(self, name):
                    return getattr(reader, name)

                def close(self):
                    pass

            class OneReader:
                def makefile(self, *args, **kwargs):
                    return KeptOpen()

            head = http.client.HTTPResponse(OneReader(), method="HEAD")
            head.begin()
            self.assertEqual(head.status, 200)
            self.assertEqual(head.read(), b"")
            health = http.client.HTTPResponse(OneReader())
            health.begin()
            self.assertEqual(health.status, 200)
            self.assertEqual(json.loads(health.read()), {"status": "ok"})
            reader.close()

    def test_health(self):
        for path in ("/health", "/ready", "/.well-known/asap/health"):
            with self.subTest(path=path):
                r = self.client.get(self.base + path)
                self.assertEqual(r.status_code, 200, r.text)
                self.assertEqual(r.json(), {"status": "ok"})

    def test_unknown_path_and_wrong_method(self):
        r = self.client.get(self.base + "/nope")
        self.assertEqual(r.status_code, 404)
        r = self.client.post(self.base + "/asap/nope", content=b"{}")
        self.assertEqual(r.status_code, 404)
        r = self.client.get(self.url)
        self.assertEqual(r.status_code, 405)
        self.assertIn("POST", r.headers.get("allow", ""))
        r = self.client.delete(self.base + "/.well-known/asap/manifest.json")
        self.assertEqual(r.status_code, 405)
        self.assertIn("GET", r.headers.get("allow", ""))

    def test_metrics(self):
        # Some traffic on both bindings first.
        env = envelope()
        self.call(rpc(env, "m1"))
        self.call(rpc(envelope(payload_type="no.such.type",
                               payload={"a": 1}), "m2"))
        self.call([rpc(envelope(), 0), rpc(envelope(), 1)])
        self.call(rpc(envelope(input_obj=big_input(4)), "m3"),
                  {"Accept-Encoding": "gzip"})
        with grpc.insecure_channel(self.grpc_address) as channel:
            stub = service_pb2_grpc.AsapServiceStub(channel)
            response = stub.Send(envelope_proto(
                CLIENT_ID, AGENT_ID, "task.request",
                {"conversation_id": "c", "skill_id": "echo",
                 "input": {"via": "grpc"}}), timeout=TIMEOUT_S)
            self.assertEqual(response.payload_type, "task.response")

        r = self.client.get(self.base + "/asap/metrics")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertTrue(r.headers["content-type"].startswith("text/plain"),
                        r.headers)
        text = r.text
        samples = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            name_labels, _, value = line.rpartition(" ")
            samples[name_labels] = float(value)

        def value(name, **labels):
            want = ",".join('%s="%s"' % kv for kv in labels.items())
            for key, v in samples.items():
                m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?", key)
                if m is None or m.group(1) != name:
                    continue
                have = m.group(3) or ""
                if all(('%s="%s"' % kv) in have for kv in labels.items()):
                    return v
            self.fail("no sample %s{%s} in:\n%s" % (name, want, text))

        self.assertGreaterEqual(value("asap_requests_total", binding="http",
                                      payload_type="task.request",
                                      outcome="ok"), 4)
        self.assertGreaterEqual(
            value("asap_requests_total", binding="http",
                  outcome="asap:transport/handler_not_found"), 1)
        self.assertGreaterEqual(value("asap_requests_total", binding="grpc",
                                      payload_type="task.request",
                                      outcome="ok"), 1)
        self.assertIn("# TYPE asap_request_duration_seconds histogram", text)
        self.assertGreaterEqual(
            value("asap_request_duration_seconds_count", binding="http"), 4)
        self.assertGreaterEqual(
            value("asap_request_duration_seconds_bucket", binding="http",
                  le="+Inf"), 4)
        self.assertGreaterEqual(
            value("asap_calls_in_flight", binding="http"), 0)
        self.assertGreaterEqual(value("asap_batch_size_count",
                                      binding="http"), 1)
        wire_out = value("asap_wire_bytes_total", binding="http",
                         direction="out")
        decoded_out = value("asap_decoded_bytes_total", binding="http",
                            direction="out")
        # The gzip answer above went out smaller than it was.
        self.assertLess(wire_out, decoded_out)
        self.assertGreater(value("asap_wire_bytes_total", binding="http",
                                 direction="in"), 0)

    # --- cross-binding -------------------------------------------------------

    def test_grpc_and_http_share_the_nonce_store(self):
        nonce = secrets.token_hex(16)
        with grpc.insecure_channel(self.grpc_address) as channel:
            stub = service_pb2_grpc.AsapServiceStub(channel)
            stub.Send(envelope_proto(
                CLIENT_ID, AGENT_ID, "task.request",
                {"conversation_id": "c", "skill_id": "echo",
                 "input": {"x": 1}}, extensions={"nonce": nonce}),
                timeout=TIMEOUT_S)
        env = envelope(extensions={"nonce": nonce})
        data = self.assert_error(self.call(rpc(env, "x")), -32602, "x")
        self.assertEqual(data["code"], "asap:protocol/invalid_nonce")

    # --- SSE: POST /asap/stream ----------------------------------------------

    def assert_stream_headers(self, r):
        self.assertEqual(r.status_code, 200)
        self.assertTrue(r.headers["content-type"].startswith(
            "text/event-stream"), r.headers)

    def test_stream_plain_handler(self):
        env = envelope(input_obj={"text": "one shot"})
        for name, client in (("http/1.1", self.client), ("h2c", self.h2)):
            with self.subTest(client=name):
                r, events = self.stream(rpc(env if name == "http/1.1" else
                                            envelope(input_obj={"text": "h2"}),
                                            "s1"), client=client)
                self.assert_stream_headers(r)
                self.assertEqual(len(events), 1, events)
                event = events[0]
                self.assertTrue(event.get("id"), event)
                self.assertNotIn("event", event)
                out = json.loads(event["data"])
                self.assertEqual(out["payload_type"], "task.response")
                self.assertIs(out["payload"]["final"], True)
                self.assertEqual(out["sender"], AGENT_ID)
                self.assertIn(out["payload"]["result"]["text"],
                              ("one shot", "h2"))

    def echo_stream(self, steps, text="streamed", **env_fields):
        return envelope(payload_type="echo.stream",
                        payload={"text": text, "steps": steps}, **env_fields)

    def assert_echo_stream_events(self, events, steps, env, text="streamed"):
        self.assertEqual(len(events), steps + 1, events)
        ids = [e.get("id") for e in events]
        self.assertTrue(all(ids), events)
        self.assertEqual(len(set(ids)), len(ids), ids)
        for i, event in enumerate(events):
            self.assertNotIn("event", event)
            out = json.loads(event["data"])
            self.assertEqual(out["correlation_id"], env["id"])
            if i < steps:
                self.assertEqual(out["payload_type"], "task.update", out)
                self.assertIs(out["payload"]["final"], False, out)
                self.assertEqual(out["payload"]["progress"]["message"],
                                 "step %d of %d" % (i + 1, steps))
            else:
                self.assertEqual(out["payload_type"], "task.response", out)
                self.assertIs(out["payload"]["final"], True, out)
                self.assertEqual(out["payload"]["result"], {"text": text})

    def test_stream_echo_steps(self):
        env = self.echo_stream(5)
        r, events = self.stream(rpc(env, "st"))
        self.assert_stream_headers(r)
        self.assertEqual(r.headers.get("cache-control"), "no-cache")
        self.assert_echo_stream_events(events, 5, env)

    def test_stream_echo_steps_h2_and_v2(self):
        env = self.echo_stream(3, requires_ack=False)
        r, events = self.stream(rpc(env, "st2"), V2_HEADER, client=self.h2)
        self.assertEqual(r.http_version, "HTTP/2")
        self.assert_stream_headers(r)
        self.assertEqual(r.headers.get("asap-version"), "2.2")
        self.assert_echo_stream_events(events, 3, env)
        for event in events:
            self.assertIs(json.loads(event["data"])["requires_ack"], False)

    def test_stream_resume(self):
        steps, k = 20, 4
        env = self.echo_stream(steps)
        r, first = self.stream(rpc(env, "rs"), limit=k)
        self.assert_stream_headers(r)
        self.assertEqual(len(first), k)
        last_id = first[-1]["id"]
        # Resume with POST (the same body) and with GET (EventSource).
        for method, client in (("POST", self.client), ("GET", self.client),
                               ("POST", self.h2)):
            with self.subTest(method=method, client=client is self.h2):
                r, rest = self.stream(
                    rpc(env, "rs") if method == "POST" else None,
                    {"Last-Event-ID": last_id}, client=client, method=method)
                self.assert_stream_headers(r)
                self.assert_echo_stream_events(first + rest, steps, env)

    def test_stream_resume_from_every_event(self):
        steps = 3
        env = self.echo_stream(steps)
        _, events = self.stream(rpc(env, "all"))
        self.assert_echo_stream_events(events, steps, env)
        for k in range(1, len(events) + 1):
            with self.subTest(k=k):
                _, rest = self.stream(
                    None, {"Last-Event-ID": events[k - 1]["id"]},
                    method="GET")
                self.assertEqual(rest, events[k:])

    def test_stream_unknown_last_event_id(self):
        for last_id in ("nonsense", "0123456789abcdef0123456789abcdef-1", ""):
            with self.subTest(last_id=last_id):
                r, events = self.stream(None, {"Last-Event-ID": last_id},
                                        method="GET")
                self.assertIsNone(events, "got an event stream: %r" % events)
                self.assertEqual(r.status_code, 404, r.text)

    def test_stream_get_without_last_event_id(self):
        r, events = self.stream(None, method="GET")
        self.assertIsNone(events, "got an event stream: %r" % events)
        self.assertEqual(r.status_code, 400, r.text)

    def test_stream_errors_before_the_stream(self):
        cases = {
            "invalid json": (b'{"jsonrpc":', -32700),
            "method": (dumps(dict(rpc(envelope(), "e"), method="x")), -32601),
            "params": (dumps(dict(rpc(envelope(), "e"), params=[])), -32602),
            "envelope": (dumps(rpc(envelope(bogus=1), "e")), -32602),
            "batch": (dumps([rpc(envelope(), "e")]), -32600),
        }
        for name, (body, code) in cases.items():
            with self.subTest(case=name):
                r, events = self.stream(body)
                self.assertIsNone(events, "got an event stream: %r" % events)
                self.assertEqual(r.status_code, 200, r.text)
                self.assertTrue(r.headers["content-type"].startswith(
                    "application/json"))
                self.assert_error(r.json(), code)
        r, events = self.stream(gzip.compress(b"\0" * (50 * MIB)),
                                {"Content-Encoding": "gzip"})
        self.assertEqual(r.status_code, 413)
        r, events = self.stream(b"{}", {"Content-Encoding": "xyz"})
        self.assertEqual(r.status_code, 415)

    def test_stream_handler_error_event(self):
        cases = {
            # The echo.stream handler refuses these after dispatch.
            "steps over 100": (self.echo_stream(1000), -32602),
            "no text": (envelope(payload_type="echo.stream",
                                 payload={"steps": 2}), -32602),
            "no handler": (envelope(payload_type="no.such.type",
                                    payload={"a": 1}), -32601),
            # Envelope rules checked at dispatch.
            "bad sender URN": (envelope(sender="not-an-agent-urn"), -32602),
            "old timestamp": (envelope(timestamp=rfc3339(-400)), -32602),
        }
        for name, (env, code) in cases.items():
            with self.subTest(case=name):
                r, events = self.stream(rpc(env, "he"))
                self.assert_stream_headers(r)
                self.assertEqual(len(events), 1, events)
                event = events[-1]
                self.assertEqual(event.get("event"), "error", event)
                self.assertTrue(event.get("id"), event)
                self.assert_error(json.loads(event["data"]), code, "he")


if __name__ == "__main__":
    unittest.main()
