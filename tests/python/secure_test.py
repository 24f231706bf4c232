"""`asap serve` with TLS, bearer tokens, JWTs, mutual TLS and rate limits,
seen from Python over both bindings.

Every check runs over gRPC (Debian's grpcio with the stubs of
//proto:asap_py_grpc; tokens as per-call `authorization` metadata and as
composite channel credentials) and over HTTPS (Debian's httpx, h2 and
HTTP/1.1). The keys and certificates are made at test time by
//tests/testing:make_test_certs.sh (plus, for the SIGHUP reload, one more
server certificate made here with openssl); the JWTs are HS256, minted here
with hmac.

Servers (all on 127.0.0.1, ports chosen by the kernel, stopped in cleanup):
  - TLS + --auth-tokens (alice, bob) + --jwt-key/--jwt-issuer/--jwt-audience;
  - the same with --rate-limit 3/s;
  - TLS + --tls-client-ca + --auth-client-certs true (mTLS identity);
  - TLS from copies of the certificate files, for the SIGHUP reload;
  - TLS with an expired certificate.

Every network call has a timeout and every test a 60 s alarm.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import unittest

# No try/except: without these the test must fail, not skip.
import grpc
import h2  # noqa: F401  (httpx's HTTP/2 needs it: fail here, not later)
import httpx
from google.protobuf import json_format

from asap.v1 import service_pb2
from asap.v1 import service_pb2_grpc
from asap_testing import (AsapServer, TimeLimitedTestCase, envelope_dict,
                          envelope_proto)

TIMEOUT_S = 5
RELOAD_TIMEOUT_S = 10
GRPC_RELOAD_POLL_S = 5

AGENT_ID = "urn:asap:agent:echo"
ALICE = "urn:asap:agent:alice"
BOB = "urn:asap:agent:bob"
CAROL = "urn:asap:agent:carol"  # known only through JWTs
TLS_CLIENT = "urn:asap:agent:tls-client"  # the URI SAN of client.pem

ALICE_TOKEN = "alice-static-token-" + secrets.token_hex(8)
BOB_TOKEN = "bob-static-token-" + secrets.token_hex(8)
UNKNOWN_TOKEN = "nobody-static-token-" + secrets.token_hex(8)
JWT_SECRET = secrets.token_hex(24).encode()  # 48 bytes
JWT_ISSUER = "https://issuer.asap.test"
JWT_AUDIENCE = "asap-secure-test"

WWW_AUTHENTICATE = 'Bearer realm="asap"'
UNAUTHENTICATED = "asap:auth/unauthenticated"
SENDER_MISMATCH = "asap:auth/sender_mismatch"
RATE_LIMITED = "asap:transport/rate_limited"


# --- envelopes ---------------------------------------------------------------

def task_payload(input_obj):
    return {"conversation_id": "conv-secure", "skill_id": "echo",
            "input": input_obj}


def json_envelope(sender, input_obj=None):
    """A task.request envelope as JSON (dict), for the HTTP binding."""
    return envelope_dict(sender, AGENT_ID, "task.request", task_payload(
        input_obj if input_obj is not None else {"text": "hi"}))


def proto_envelope(sender, input_obj=None):
    """A task.request envelope as protobuf, for the gRPC binding."""
    return envelope_proto(sender, AGENT_ID, "task.request", task_payload(
        input_obj if input_obj is not None else {"text": "hi"}))


def rpc(env, req_id="req-1"):
    return {"jsonrpc": "2.0", "method": "asap.send",
            "params": {"envelope": env}, "id": req_id}


# --- JWTs (test-only HS256 minting) ------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint_jwt(claims, secret=JWT_SECRET):
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = "%s.%s" % (
        b64url(json.dumps(header, separators=(",", ":")).encode()),
        b64url(json.dumps(claims, separators=(",", ":")).encode()))
    signature = hmac.new(secret, signing_input.encode("ascii"),
                         hashlib.sha256).digest()
    return "%s.%s" % (signing_input, b64url(signature))


def jwt_claims(sub=CAROL, exp_in_s=300, **overrides):
    now = int(time.time())
    claims = {"sub": sub, "iss": JWT_ISSUER, "aud": JWT_AUDIENCE,
              "iat": now - 10, "nbf": now - 10, "exp": now + exp_in_s}
    claims.update(overrides)
    return claims


# --- processes and files -----------------------------------------------------

def make_certs_script():
    return os.path.join(os.environ["TEST_SRCDIR"],
                        "asap/tests/testing/make_test_certs.sh")


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_atomically(path, data):
    """Writes `data` to a temporary file next to `path`, then renames it."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Server(AsapServer):
    """One `asap serve --port 0 --http-port 0 ARGS...` (TLS on both ports),
    its stderr captured for wait_stderr, stopped in `testcase`'s class
    cleanup (or before, by stop())."""

    def __init__(self, args, testcase):
        super().__init__(args, http=True, capture_stderr=True)
        testcase.addClassCleanup(self.stop)
        self.base = "https://" + self.http_address
        self.url = self.base + "/asap"


# --- the shared certificates -------------------------------------------------

CERTS = None  # the directory make_test_certs.sh wrote


def setUpModule():
    global CERTS
    work = os.path.join(os.environ["TEST_TMPDIR"], "secure_test")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    CERTS = os.path.join(work, "certs")
    subprocess.run(["bash", make_certs_script(), CERTS], check=True,
                   timeout=60, stdin=subprocess.DEVNULL)
    with open(os.path.join(work, "tokens"), "w") as f:
        f.write("# static tokens of the secure test\n")
        f.write("%s %s\n" % (ALICE_TOKEN, ALICE))
        f.write("%s %s\n" % (BOB_TOKEN, BOB))
    # One trailing newline, which the server strips.
    with open(os.path.join(work, "jwt.key"), "wb") as f:
        f.write(JWT_SECRET + b"\n")


def cert(name):
    return os.path.join(CERTS, name)


def work_file(name):
    return os.path.join(os.path.dirname(CERTS), name)


def auth_server_args():
    return ["--tls-cert", cert("server.pem"), "--tls-key", cert("server.key"),
            "--auth-tokens", work_file("tokens"),
            "--jwt-key", work_file("jwt.key"),
            "--jwt-issuer", JWT_ISSUER, "--jwt-audience", JWT_AUDIENCE]


def peer_subject(port, cafile, alpn=None, server_hostname="localhost"):
    """The subject (a dict) of the certificate a new TLS connection to `port`
    is shown, verified against `cafile`."""
    ctx = ssl.create_default_context(cafile=cafile)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    with socket.create_connection(("127.0.0.1", port),
                                  timeout=TIMEOUT_S) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
            if alpn:
                # The server must have picked one of ours.
                assert tls.selected_alpn_protocol() in alpn, \
                    tls.selected_alpn_protocol()
            cert_dict = tls.getpeercert()
    return {k: v for rdn in cert_dict["subject"] for (k, v) in rdn}


# --- assertions shared by the test classes -----------------------------------

class SecureTestBase(TimeLimitedTestCase):
    # gRPC

    @staticmethod
    def ssl_credentials(root="ca.pem", client=None):
        kwargs = {"root_certificates": read_bytes(cert(root))}
        if client is not None:
            kwargs["private_key"] = read_bytes(cert(client + ".key"))
            kwargs["certificate_chain"] = read_bytes(cert(client + ".pem"))
        return grpc.ssl_channel_credentials(**kwargs)

    def grpc_channel(self, server, token=None, root="ca.pem", client=None):
        """A TLS channel; with `token`, sent by composite channel credentials
        (access_token_call_credentials) on every call. Closed at test end."""
        creds = self.ssl_credentials(root, client)
        if token is not None:
            creds = grpc.composite_channel_credentials(
                creds, grpc.access_token_call_credentials(token))
        channel = grpc.secure_channel(server.grpc_address, creds)
        self.addCleanup(channel.close)
        return channel

    def stub(self, server, **kwargs):
        return service_pb2_grpc.AsapServiceStub(
            self.grpc_channel(server, **kwargs))

    @staticmethod
    def bearer(token):
        return [("authorization", "Bearer " + token)]

    def assert_echo(self, response, request, sender):
        self.assertEqual(response.payload_type, "task.response", response)
        self.assertEqual(response.correlation_id, request.id)
        self.assertEqual(response.sender, AGENT_ID)
        self.assertEqual(response.recipient, sender)
        payload = json_format.MessageToDict(response.payload)
        self.assertEqual(payload["status"], "completed", payload)
        self.assertEqual(payload["result"],
                         json_format.MessageToDict(request.payload)["input"])

    def grpc_send_ok(self, stub, sender, metadata=None, input_obj=None):
        request = proto_envelope(sender, input_obj)
        response = stub.Send(request, metadata=metadata, timeout=TIMEOUT_S)
        self.assert_echo(response, request, sender)
        return response

    def grpc_send_error(self, stub, sender, metadata=None):
        with self.assertRaises(grpc.RpcError) as cm:
            stub.Send(proto_envelope(sender), metadata=metadata,
                      timeout=TIMEOUT_S)
        return cm.exception

    def assert_grpc_error(self, err, grpc_code, asap_code):
        self.assertEqual(err.code(), grpc_code, err.details())
        self.assertTrue(
            (err.details() or "").startswith(asap_code),
            "details %r do not start with %r" % (err.details(), asap_code))
        trailers = dict(err.trailing_metadata() or ())
        self.assertEqual(trailers.get("asap-error-code"), asap_code, trailers)
        return trailers

    def assert_grpc_unauthenticated(self, err):
        trailers = self.assert_grpc_error(
            err, grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED)
        self.assertEqual(trailers.get("www-authenticate"), WWW_AUTHENTICATE,
                         trailers)

    def assert_grpc_unavailable(self, stub, metadata=None):
        """The call fails before reaching the service: UNAVAILABLE."""
        with self.assertRaises(grpc.RpcError) as cm:
            stub.GetManifest(service_pb2.GetManifestRequest(),
                             metadata=metadata, timeout=TIMEOUT_S)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE,
                         cm.exception.details())
        return cm.exception

    # HTTPS

    def https_client(self, http2=True, verify="ca.pem", cert_name=None):
        kwargs = {"timeout": TIMEOUT_S, "verify": cert(verify),
                  "http1": True, "http2": http2}
        if cert_name is not None:
            kwargs["cert"] = (cert(cert_name + ".pem"),
                              cert(cert_name + ".key"))
        client = httpx.Client(**kwargs)
        self.addCleanup(client.close)
        return client

    def https_post(self, client, server, body, token=None, headers=None,
                   expect_http2=None):
        all_headers = {"Content-Type": "application/json"}
        if token is not None:
            all_headers["Authorization"] = "Bearer " + token
        all_headers.update(headers or {})
        r = client.post(server.url, content=json.dumps(body).encode(),
                        headers=all_headers)
        if expect_http2 is True:
            self.assertEqual(r.http_version, "HTTP/2")
        elif expect_http2 is False:
            self.assertEqual(r.http_version, "HTTP/1.1")
        return r

    def assert_json_result(self, answer, req_id, request_env):
        self.assertEqual(answer.get("jsonrpc"), "2.0", answer)
        self.assertNotIn("error", answer, answer)
        self.assertEqual(answer["id"], req_id, answer)
        env = answer["result"]["envelope"]
        self.assertEqual(env["payload_type"], "task.response", env)
        self.assertEqual(env["correlation_id"], request_env["id"], env)
        self.assertEqual(env["sender"], AGENT_ID)
        self.assertEqual(env["recipient"], request_env["sender"])
        self.assertEqual(env["payload"]["status"], "completed", env)
        self.assertEqual(env["payload"]["result"],
                         request_env["payload"]["input"])

    def https_send_ok(self, client, server, sender, token=None, **kwargs):
        env = json_envelope(sender)
        r = self.https_post(client, server, rpc(env, "ok"), token, **kwargs)
        self.assertEqual(r.status_code, 200, r.text)
        self.assert_json_result(r.json(), "ok", env)
        return r

    def assert_json_error(self, answer, rpc_code, asap_code, status_code,
                          req_id="__any__"):
        self.assertEqual(answer.get("jsonrpc"), "2.0", answer)
        self.assertNotIn("result", answer, answer)
        error = answer["error"]
        self.assertEqual(error["code"], rpc_code, answer)
        self.assertIsInstance(error["message"], str)
        data = error["data"]
        self.assertEqual(data["code"], asap_code, answer)
        self.assertEqual(data["status_code"], status_code, answer)
        self.assertIsInstance(data["error"], str, answer)
        self.assertTrue(data["error"], answer)
        if req_id != "__any__":
            self.assertEqual(answer["id"], req_id, answer)

    def assert_https_unauthenticated(self, r, req_id):
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.headers.get("www-authenticate"), WWW_AUTHENTICATE,
                         r.headers)
        self.assert_json_error(r.json(), -32600, UNAUTHENTICATED, 401, req_id)

    def assert_https_sender_mismatch(self, r, req_id):
        self.assertEqual(r.status_code, 200, r.text)
        self.assert_json_error(r.json(), -32602, SENDER_MISMATCH, 403, req_id)

    def assert_no_http_answer(self, fn):
        """`fn` gets no HTTP response: the connection fails (a TLS or
        connection error, or the server closing it), not a timeout."""
        with self.assertRaises(httpx.TransportError) as cm:
            fn()
        self.assertNotIsInstance(cm.exception, httpx.TimeoutException,
                                 repr(cm.exception))
        return cm.exception


# --- TLS + static tokens + JWTs ----------------------------------------------

class AuthTest(SecureTestBase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(auth_server_args(), cls)

    def jwt(self, **kwargs):
        return mint_jwt(jwt_claims(**kwargs))

    def good_credentials(self):
        """(name, token, identity): a static token and a JWT, both good."""
        return [("static alice", ALICE_TOKEN, ALICE),
                ("static bob", BOB_TOKEN, BOB),
                ("jwt carol", self.jwt(), CAROL),
                # 5 s past exp is inside the 30 s leeway.
                ("jwt within leeway", self.jwt(sub=ALICE, exp_in_s=-5),
                 ALICE)]

    def bad_credentials(self):
        """(name, token): tokens the server must refuse."""
        return [
            ("unknown static token", UNKNOWN_TOKEN),
            ("expired jwt",
             self.jwt(exp_in_s=-300, iat=int(time.time()) - 600,
                      nbf=int(time.time()) - 600)),
            ("jwt for another audience", self.jwt(aud="someone-else")),
            ("jwt from another issuer", self.jwt(iss="https://evil.test")),
            ("jwt with a bad signature",
             mint_jwt(jwt_claims(), secret=b"not-the-secret" * 4)),
            ("jwt with a tampered payload", self.tampered_jwt()),
            ("unsigned jwt (alg none)", self.unsigned_jwt()),
            ("jwt not valid before 5 min from now",
             self.jwt(nbf=int(time.time()) + 300)),
        ]

    def tampered_jwt(self):
        """A good JWT for Carol whose payload now names Alice, with Carol's
        signature."""
        header, _, signature = self.jwt().split(".")
        payload = b64url(json.dumps(jwt_claims(sub=ALICE)).encode())
        return "%s.%s.%s" % (header, payload, signature)

    def unsigned_jwt(self):
        """alg "none" and no signature: never accepted."""
        return "%s.%s." % (
            b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode()),
            b64url(json.dumps(jwt_claims()).encode()))

    # 1. good credentials are served

    def test_good_token_and_jwt_over_grpc(self):
        plain = self.stub(self.server)
        for name, token, identity in self.good_credentials():
            with self.subTest(credentials=name, via="per-call metadata"):
                self.grpc_send_ok(plain, identity, self.bearer(token))
            with self.subTest(credentials=name, via="channel credentials"):
                self.grpc_send_ok(self.stub(self.server, token=token),
                                  identity)

    def test_good_token_and_jwt_over_https(self):
        h2_client = self.https_client(http2=True)
        h1_client = self.https_client(http2=False)
        for name, token, identity in self.good_credentials():
            with self.subTest(credentials=name, via="h2"):
                self.https_send_ok(h2_client, self.server, identity, token,
                                   expect_http2=True)
            with self.subTest(credentials=name, via="http/1.1"):
                self.https_send_ok(h1_client, self.server, identity, token,
                                   expect_http2=False)

    # 2. and 3. missing, unknown or bad credentials are refused

    def test_missing_and_bad_credentials_over_grpc(self):
        plain = self.stub(self.server)
        with self.subTest(credentials="none"):
            self.assert_grpc_unauthenticated(
                self.grpc_send_error(plain, ALICE))
        for name, token in self.bad_credentials():
            with self.subTest(credentials=name, via="per-call metadata"):
                self.assert_grpc_unauthenticated(
                    self.grpc_send_error(plain, CAROL, self.bearer(token)))
            with self.subTest(credentials=name, via="channel credentials"):
                self.assert_grpc_unauthenticated(self.grpc_send_error(
                    self.stub(self.server, token=token), CAROL))
        with self.subTest(credentials="basic scheme"):
            err = self.grpc_send_error(
                plain, ALICE, [("authorization", "Basic YWxpY2U6cHc=")])
            self.assertEqual(err.code(), grpc.StatusCode.UNAUTHENTICATED,
                             err.details())
        # The server is still fine for good callers.
        self.grpc_send_ok(plain, ALICE, self.bearer(ALICE_TOKEN))

    def test_missing_and_bad_credentials_over_https(self):
        for http2 in (True, False):
            client = self.https_client(http2=http2)
            with self.subTest(credentials="none", http2=http2):
                r = self.https_post(client, self.server,
                                    rpc(json_envelope(ALICE), "none"),
                                    expect_http2=http2)
                self.assert_https_unauthenticated(r, "none")
            for name, token in self.bad_credentials():
                with self.subTest(credentials=name, http2=http2):
                    r = self.https_post(client, self.server,
                                        rpc(json_envelope(CAROL), "bad"),
                                        token, expect_http2=http2)
                    self.assert_https_unauthenticated(r, "bad")
        self.https_send_ok(self.https_client(), self.server, ALICE,
                           ALICE_TOKEN)

    # 4. spoofed sender

    def test_spoofed_sender_over_grpc(self):
        plain = self.stub(self.server)
        for name, token, identity, spoofed in (
                ("static", ALICE_TOKEN, ALICE, BOB),
                ("jwt", self.jwt(), CAROL, ALICE)):
            with self.subTest(credentials=name, via="per-call metadata"):
                self.assert_grpc_error(
                    self.grpc_send_error(plain, spoofed, self.bearer(token)),
                    grpc.StatusCode.PERMISSION_DENIED, SENDER_MISMATCH)
            with self.subTest(credentials=name, via="channel credentials"):
                self.assert_grpc_error(
                    self.grpc_send_error(self.stub(self.server, token=token),
                                         spoofed),
                    grpc.StatusCode.PERMISSION_DENIED, SENDER_MISMATCH)

    def test_spoofed_sender_over_https(self):
        for http2 in (True, False):
            client = self.https_client(http2=http2)
            for name, token, spoofed in (("static", BOB_TOKEN, ALICE),
                                         ("jwt", self.jwt(), BOB)):
                with self.subTest(credentials=name, http2=http2):
                    r = self.https_post(client, self.server,
                                        rpc(json_envelope(spoofed), "spoof"),
                                        token, expect_http2=http2)
                    self.assert_https_sender_mismatch(r, "spoof")

    # 5. batches: only the spoofed envelope fails

    def test_json_rpc_batch_with_one_spoofed_sender(self):
        client = self.https_client(http2=True)
        good0 = json_envelope(ALICE, {"i": 0})
        spoofed = json_envelope(BOB, {"i": 1})
        good2 = json_envelope(ALICE, {"i": 2})
        body = [rpc(good0, "b0"), rpc(spoofed, "b1"), rpc(good2, "b2")]
        r = self.https_post(client, self.server, body, ALICE_TOKEN,
                            headers={"ASAP-Version": "2.2"},
                            expect_http2=True)
        self.assertEqual(r.status_code, 200, r.text)
        answer = r.json()
        self.assertIsInstance(answer, list, answer)
        self.assertEqual(len(answer), 3, answer)
        by_id = {item.get("id"): item for item in answer}
        self.assertEqual(set(by_id), {"b0", "b1", "b2"}, answer)
        self.assert_json_result(by_id["b0"], "b0", good0)
        self.assert_json_error(by_id["b1"], -32602, SENDER_MISMATCH, 403,
                               "b1")
        self.assert_json_result(by_id["b2"], "b2", good2)

    def test_json_rpc_batch_without_credentials(self):
        client = self.https_client(http2=False)
        body = [rpc(json_envelope(ALICE), "n0"),
                rpc(json_envelope(ALICE), "n1")]
        r = self.https_post(client, self.server, body,
                            headers={"ASAP-Version": "2.2"},
                            expect_http2=False)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.headers.get("www-authenticate"), WWW_AUTHENTICATE,
                         r.headers)
        answer = r.json()
        # Refused as a whole (one error) or per request: never served.
        items = answer if isinstance(answer, list) else [answer]
        for item in items:
            self.assert_json_error(item, -32600, UNAUTHENTICATED, 401)

    def grpc_batch(self, stub, envelopes, metadata=None):
        frames = [service_pb2.BatchFrame(envelopes=envelopes[:2]),
                  service_pb2.BatchFrame(envelopes=envelopes[2:])]
        results = []
        for frame in stub.SendBatch(iter(frames), metadata=metadata,
                                    timeout=TIMEOUT_S):
            results.extend(frame.results)
        return results

    def test_grpc_send_batch_with_one_spoofed_sender(self):
        for name, stub, metadata, identity in (
                ("per-call metadata", self.stub(self.server),
                 self.bearer(ALICE_TOKEN), ALICE),
                ("channel credentials",
                 self.stub(self.server, token=self.jwt()), None, CAROL)):
            with self.subTest(via=name):
                envelopes = [proto_envelope(identity, {"i": 0}),
                             proto_envelope(identity, {"i": 1}),
                             proto_envelope(BOB, {"i": 2}),
                             proto_envelope(identity, {"i": 3})]
                results = self.grpc_batch(stub, envelopes, metadata)
                self.assertEqual(sorted(r.index for r in results),
                                 [0, 1, 2, 3], results)
                by_index = {r.index: r for r in results}
                for i in (0, 1, 3):
                    self.assertEqual(by_index[i].WhichOneof("outcome"),
                                     "response", by_index[i])
                    self.assert_echo(by_index[i].response, envelopes[i],
                                     identity)
                bad = by_index[2]
                self.assertEqual(bad.WhichOneof("outcome"), "error", bad)
                self.assertEqual(bad.error.asap_code, SENDER_MISMATCH)
                self.assertEqual(
                    bad.error.grpc_code,
                    grpc.StatusCode.PERMISSION_DENIED.value[0])
                self.assertTrue(bad.error.message)

    def test_grpc_send_batch_without_credentials(self):
        stub = self.stub(self.server)
        with self.assertRaises(grpc.RpcError) as cm:
            self.grpc_batch(stub, [proto_envelope(ALICE)] * 3)
        self.assert_grpc_unauthenticated(cm.exception)

    # 6. plaintext against the TLS ports

    def test_plaintext_is_refused(self):
        with grpc.insecure_channel(self.server.grpc_address) as channel:
            stub = service_pb2_grpc.AsapServiceStub(channel)
            self.assert_grpc_unavailable(stub, self.bearer(ALICE_TOKEN))
        with httpx.Client(timeout=TIMEOUT_S) as client:
            url = "http://127.0.0.1:%d/asap" % self.server.http_port
            self.assert_no_http_answer(lambda: client.post(
                url, json=rpc(json_envelope(ALICE)),
                headers={"Authorization": "Bearer " + ALICE_TOKEN}))
            self.assert_no_http_answer(lambda: client.get(
                "http://127.0.0.1:%d/health" % self.server.http_port))
        # h2c with prior knowledge: no answer either.
        with httpx.Client(timeout=TIMEOUT_S, http1=False,
                          http2=True) as client:
            self.assert_no_http_answer(lambda: client.get(
                "http://127.0.0.1:%d/health" % self.server.http_port))

    # 7. a server certificate from another CA

    def test_wrong_ca_fails_the_handshake(self):
        stub = self.stub(self.server, root="other_ca.pem")
        self.assert_grpc_unavailable(stub, self.bearer(ALICE_TOKEN))
        client = self.https_client(verify="other_ca.pem")
        err = self.assert_no_http_answer(
            lambda: client.get(self.server.base + "/health"))
        self.assertIsInstance(err, httpx.ConnectError)
        self.assertIn("CERTIFICATE_VERIFY_FAILED", str(err))
        # The same checks with the right CA pass (the refusal was the CA's).
        self.assertEqual(
            self.https_client().get(self.server.base + "/health").status_code,
            200)
        self.stub(self.server).GetManifest(service_pb2.GetManifestRequest(),
                                           timeout=TIMEOUT_S)

    # 8. an expired server certificate

    def test_expired_server_certificate_fails_verification(self):
        server = Server(["--tls-cert", cert("expired.pem"),
                         "--tls-key", cert("expired.key"),
                         "--auth-tokens", work_file("tokens")], self)
        try:
            stub = self.stub(server)
            self.assert_grpc_unavailable(stub, self.bearer(ALICE_TOKEN))
            err = self.assert_no_http_answer(
                lambda: self.https_client().post(
                    server.url, json=rpc(json_envelope(ALICE)),
                    headers={"Authorization": "Bearer " + ALICE_TOKEN}))
            self.assertIsInstance(err, httpx.ConnectError)
            self.assertIn("certificate has expired", str(err))
            # The server is up: without verification both ports answer TLS,
            # with the expired certificate.
            for port, alpn in ((server.grpc_port, ["h2"]),
                               (server.http_port, ["h2", "http/1.1"])):
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                ctx.set_alpn_protocols(alpn)
                with socket.create_connection(("127.0.0.1", port),
                                              timeout=TIMEOUT_S) as raw:
                    with ctx.wrap_socket(raw,
                                         server_hostname="localhost") as tls:
                        der = tls.getpeercert(binary_form=True)
                self.assertEqual(
                    ssl.DER_cert_to_PEM_cert(der).strip(),
                    read_bytes(cert("expired.pem")).decode().strip())
        finally:
            server.stop()

    # 12. health, manifest and metrics

    def test_health_manifest_and_metrics(self):
        for http2 in (True, False):
            client = self.https_client(http2=http2)
            with self.subTest(http2=http2):
                r = client.get(self.server.base + "/health")
                self.assertEqual(r.status_code, 200, r.text)
                self.assertEqual(r.http_version,
                                 "HTTP/2" if http2 else "HTTP/1.1")
                r = client.get(self.server.base +
                               "/.well-known/asap/manifest.json")
                self.assertEqual(r.status_code, 200, r.text)
                self.assertEqual(r.json()["id"], AGENT_ID)

                r = client.get(self.server.base + "/asap/metrics")
                self.assertEqual(r.status_code, 401, r.text)
                self.assertEqual(r.headers.get("www-authenticate"),
                                 WWW_AUTHENTICATE, r.headers)
                r = client.get(self.server.base + "/asap/metrics",
                               headers={"Authorization":
                                        "Bearer " + UNKNOWN_TOKEN})
                self.assertEqual(r.status_code, 401, r.text)
                for token in (ALICE_TOKEN, self.jwt()):
                    r = client.get(self.server.base + "/asap/metrics",
                                   headers={"Authorization":
                                            "Bearer " + token})
                    self.assertEqual(r.status_code, 200, r.text)
                    self.assertIn("asap_requests_total", r.text)
        manifest = self.stub(self.server).GetManifest(
            service_pb2.GetManifestRequest(), timeout=TIMEOUT_S)
        self.assertEqual(manifest.id, AGENT_ID)


# --- mutual TLS: the client certificate is the identity ----------------------

class MutualTlsTest(SecureTestBase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(
            ["--tls-cert", cert("server.pem"), "--tls-key", cert("server.key"),
             "--tls-client-ca", cert("ca.pem"),
             "--auth-client-certs", "true"], cls)

    def test_without_client_certificate_the_handshake_fails(self):
        self.assert_grpc_unavailable(self.stub(self.server))
        client = self.https_client()
        self.assert_no_http_answer(
            lambda: client.get(self.server.base + "/health"))
        self.assert_no_http_answer(lambda: client.post(
            self.server.url, json=rpc(json_envelope(TLS_CLIENT))))

    def test_client_certificate_is_the_identity_over_grpc(self):
        stub = self.stub(self.server, client="client")
        self.grpc_send_ok(stub, TLS_CLIENT)
        self.assert_grpc_error(self.grpc_send_error(stub, ALICE),
                               grpc.StatusCode.PERMISSION_DENIED,
                               SENDER_MISMATCH)

    def test_client_certificate_is_the_identity_over_https(self):
        for http2 in (True, False):
            with self.subTest(http2=http2):
                client = self.https_client(http2=http2, cert_name="client")
                self.https_send_ok(client, self.server, TLS_CLIENT,
                                   expect_http2=http2)
                r = self.https_post(client, self.server,
                                    rpc(json_envelope(ALICE), "spoof"),
                                    expect_http2=http2)
                self.assert_https_sender_mismatch(r, "spoof")


# --- rate limits ---------------------------------------------------------------

class RateLimitTest(SecureTestBase):
    # More than enough calls to pass 3/s however slow the machine.
    MAX_CALLS = 10

    @classmethod
    def setUpClass(cls):
        cls.server = Server(auth_server_args() + ["--rate-limit", "3/s"], cls)

    def test_rate_limit_over_grpc(self):
        # Alice's bucket; the HTTPS test uses Bob's.
        stub = self.stub(self.server)
        metadata = self.bearer(ALICE_TOKEN)
        served = 0
        refusal = None
        for _ in range(self.MAX_CALLS):
            try:
                self.grpc_send_ok(stub, ALICE, metadata)
                served += 1
            except grpc.RpcError as err:
                refusal = err
                break
        self.assertIsNotNone(refusal, "%d calls, none refused" % served)
        self.assertGreaterEqual(served, 3)
        trailers = self.assert_grpc_error(
            refusal, grpc.StatusCode.RESOURCE_EXHAUSTED, RATE_LIMITED)
        self.assertIn("retry-after", trailers)
        retry_after = int(trailers["retry-after"])
        self.assertGreaterEqual(retry_after, 1)
        self.assertLessEqual(retry_after, 2)
        time.sleep(retry_after)
        self.grpc_send_ok(stub, ALICE, metadata)

    def test_rate_limit_over_https(self):
        client = self.https_client(http2=True)
        served = 0
        refusal = None
        for n in range(self.MAX_CALLS):
            env = json_envelope(BOB)
            req_id = "r%d" % n
            r = self.https_post(client, self.server, rpc(env, req_id),
                                BOB_TOKEN, expect_http2=True)
            if r.status_code != 200:
                refusal = r
                break
            self.assert_json_result(r.json(), req_id, env)
            served += 1
        self.assertIsNotNone(refusal, "%d calls, none refused" % served)
        self.assertGreaterEqual(served, 3)
        self.assertEqual(refusal.status_code, 429, refusal.text)
        retry_after = int(refusal.headers["retry-after"])
        self.assertGreaterEqual(retry_after, 1)
        self.assertLessEqual(retry_after, 2)
        self.assertTrue(refusal.headers["content-type"].startswith(
            "application/json"), refusal.headers)
        answer = refusal.json()
        # JSON-RPC-shaped: it answers the refused request's id.
        self.assertEqual(answer.get("id"), req_id, answer)
        answer.pop("id")
        self.assertEqual(answer, {
            "jsonrpc": "2.0",
            "error": {"code": 429, "message": "Rate limit exceeded",
                      "data": {"retry_after": retry_after, "limit": "3/s",
                               "code": RATE_LIMITED}}})
        time.sleep(retry_after)
        self.https_send_ok(client, self.server, BOB, BOB_TOKEN,
                           expect_http2=True)


# --- SIGHUP reloads the certificates -----------------------------------------

class ReloadTest(SecureTestBase):
    @classmethod
    def setUpClass(cls):
        cls.dir = os.path.join(os.path.dirname(CERTS), "reload")
        os.makedirs(cls.dir, exist_ok=True)
        cls.cert_file = os.path.join(cls.dir, "cert.pem")
        cls.key_file = os.path.join(cls.dir, "key.pem")
        shutil.copyfile(cert("server.pem"), cls.cert_file)
        shutil.copyfile(cert("server.key"), cls.key_file)
        cls.new_cert, cls.new_key = cls.make_reloaded_certificate()
        cls.server = Server(["--tls-cert", cls.cert_file,
                             "--tls-key", cls.key_file,
                             "--auth-tokens", work_file("tokens")], cls)

    @classmethod
    def make_reloaded_certificate(cls):
        """A second server certificate (CN=reloaded), signed by the test CA:
        returns (cert PEM bytes, key PEM bytes)."""
        key = os.path.join(cls.dir, "reloaded.key")
        csr = os.path.join(cls.dir, "reloaded.csr")
        pem = os.path.join(cls.dir, "reloaded.pem")
        ext = os.path.join(cls.dir, "reloaded.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                    "extendedKeyUsage=serverAuth\n"
                    "basicConstraints=CA:FALSE\n")
        for cmd in (
                ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-out", key],
                ["openssl", "req", "-new", "-key", key, "-out", csr,
                 "-subj", "/CN=reloaded"],
                ["openssl", "x509", "-req", "-in", csr, "-CA", cert("ca.pem"),
                 "-CAkey", cert("ca.key"), "-set_serial", "0x5eed1234",
                 "-days", "1", "-sha256", "-extfile", ext, "-out", pem]):
            subprocess.run(cmd, check=True, timeout=30,
                           stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
        return read_bytes(pem), read_bytes(key)

    def test_sighup_reloads_certificates(self):
        ca = cert("ca.pem")
        self.assertEqual(peer_subject(self.server.http_port, ca)["commonName"],
                         "localhost")
        self.assertEqual(
            peer_subject(self.server.grpc_port, ca, ["h2"])["commonName"],
            "localhost")

        # A keep-alive HTTP/1.1 connection and a gRPC channel, before.
        client = self.https_client(http2=False)
        first = self.https_send_ok(client, self.server, ALICE, ALICE_TOKEN,
                                   expect_http2=False)
        stream = first.extensions["network_stream"]
        local_address = stream.get_extra_info("client_addr")
        old_stub = self.stub(self.server)
        self.grpc_send_ok(old_stub, ALICE, self.bearer(ALICE_TOKEN))

        write_atomically(self.key_file, self.new_key)
        write_atomically(self.cert_file, self.new_cert)
        self.server.proc.send_signal(signal.SIGHUP)
        self.server.wait_stderr("certificates reloaded", RELOAD_TIMEOUT_S)

        # HTTP: new connections get the new certificate at once.
        self.assertEqual(peer_subject(self.server.http_port, ca)["commonName"],
                         "reloaded")
        self.assertEqual(
            peer_subject(self.server.http_port, ca,
                         ["h2"])["commonName"], "reloaded")
        # The old keep-alive connection still works (the same connection,
        # still showing the old certificate).
        second = self.https_send_ok(client, self.server, ALICE, ALICE_TOKEN,
                                    expect_http2=False)
        stream = second.extensions["network_stream"]
        self.assertEqual(stream.get_extra_info("client_addr"), local_address)
        old_peer = stream.get_extra_info("ssl_object").getpeercert()
        self.assertIn((("commonName", "localhost"),), old_peer["subject"])
        # A new HTTPS client (new connection) is served, h2 too.
        self.https_send_ok(self.https_client(http2=True), self.server, ALICE,
                           ALICE_TOKEN, expect_http2=True)

        # gRPC: new handshakes get the new certificate within ~1 s.
        deadline = time.monotonic() + GRPC_RELOAD_POLL_S
        while True:
            subject = peer_subject(self.server.grpc_port, ca, ["h2"])
            if subject["commonName"] == "reloaded":
                break
            if time.monotonic() > deadline:
                self.fail("gRPC port still serves %r %d s after the reload" %
                          (subject, GRPC_RELOAD_POLL_S))
            time.sleep(0.1)
        self.grpc_send_ok(self.stub(self.server), ALICE,
                          self.bearer(ALICE_TOKEN))
        self.grpc_send_ok(old_stub, ALICE, self.bearer(ALICE_TOKEN))

    def test_sighup_with_a_broken_file_keeps_the_certificates(self):
        # Runs on its own copy: another server, so the order of the tests
        # does not matter.
        broken_dir = os.path.join(self.dir, "broken")
        os.makedirs(broken_dir, exist_ok=True)
        cert_file = os.path.join(broken_dir, "cert.pem")
        key_file = os.path.join(broken_dir, "key.pem")
        shutil.copyfile(cert("server.pem"), cert_file)
        shutil.copyfile(cert("server.key"), key_file)
        server = Server(["--tls-cert", cert_file, "--tls-key", key_file,
                         "--auth-tokens", work_file("tokens")], self)
        try:
            write_atomically(cert_file, b"not a certificate\n")
            server.proc.send_signal(signal.SIGHUP)
            server.wait_stderr("kept the old certificates", RELOAD_TIMEOUT_S)
            ca = cert("ca.pem")
            self.assertEqual(peer_subject(server.http_port, ca)["commonName"],
                             "localhost")
            self.https_send_ok(self.https_client(), server, ALICE,
                               ALICE_TOKEN, expect_http2=True)
            self.grpc_send_ok(self.stub(server), ALICE,
                              self.bearer(ALICE_TOKEN))
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
