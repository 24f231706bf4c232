"""A Python gRPC client talking to `asap serve`: the wire contract seen from
another language.

Starts `asap serve --port 0` (the echo agent), then calls AsapService with
Debian's grpcio and the stubs of //proto:asap_py_grpc: GetManifest, Send (a
task, an unknown payload type, a malformed envelope), SendBatch and Send with
gRPC's own gzip compression.
"""

import secrets
import unittest

# No try/except: without grpcio or the stubs the test must fail, not skip.
import grpc
from google.protobuf import json_format

from asap.v1 import envelope_pb2
from asap.v1 import service_pb2
from asap.v1 import service_pb2_grpc
from asap_testing import AsapServer, envelope_proto

RPC_TIMEOUT_S = 10

AGENT_ID = "urn:asap:agent:echo"
CLIENT_ID = "urn:asap:agent:python-client"


def make_envelope(payload_type, payload, sender=CLIENT_ID):
    return envelope_proto(sender, AGENT_ID, payload_type, payload)


def task_request(input_obj, sender=CLIENT_ID):
    return make_envelope(
        "task.request",
        {"conversation_id": "conv-py", "skill_id": "echo", "input": input_obj},
        sender=sender,
    )


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = AsapServer()
        cls.addClassCleanup(cls.server.stop)
        cls.address = cls.server.grpc_address

        cls.channel = grpc.insecure_channel(cls.address)
        cls.addClassCleanup(cls.channel.close)
        grpc.channel_ready_future(cls.channel).result(timeout=RPC_TIMEOUT_S)
        cls.stub = service_pb2_grpc.AsapServiceStub(cls.channel)

    def assert_asap_error(self, err, grpc_code, asap_code):
        self.assertEqual(err.code(), grpc_code, err.details())
        self.assertTrue(
            err.details().startswith(asap_code),
            "details %r do not start with %r" % (err.details(), asap_code))
        trailers = dict(err.trailing_metadata() or ())
        self.assertIn("asap-error-code", trailers)
        self.assertEqual(trailers["asap-error-code"], asap_code)

    def test_get_manifest(self):
        manifest = self.stub.GetManifest(
            service_pb2.GetManifestRequest(), timeout=RPC_TIMEOUT_S)
        self.assertEqual(manifest.id, AGENT_ID)
        self.assertTrue(manifest.endpoints.asap)

    def test_send_task_request(self):
        input_obj = {"text": "hello", "n": 3,
                     "nested": {"list": [1, "two", True]}}
        request = task_request(input_obj)
        response = self.stub.Send(request, timeout=RPC_TIMEOUT_S)
        self.assertEqual(response.payload_type, "task.response")
        self.assertEqual(response.correlation_id, request.id)
        self.assertEqual(response.sender, AGENT_ID)
        self.assertEqual(response.recipient, CLIENT_ID)
        payload = json_format.MessageToDict(response.payload)
        self.assertEqual(payload["status"], "completed")
        self.assertEqual(payload["result"], input_obj)

    def test_unknown_payload_type(self):
        request = make_envelope("no.such.type", {"anything": 1})
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.Send(request, timeout=RPC_TIMEOUT_S)
        self.assert_asap_error(cm.exception, grpc.StatusCode.UNIMPLEMENTED,
                               "asap:transport/handler_not_found")

    def test_malformed_envelope(self):
        request = task_request({"x": 1}, sender="not-an-agent-urn")
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.Send(request, timeout=RPC_TIMEOUT_S)
        self.assert_asap_error(cm.exception, grpc.StatusCode.INVALID_ARGUMENT,
                               "asap:protocol/malformed_envelope")

    def test_send_batch(self):
        envelopes = [
            task_request({"i": 0}),
            task_request({"i": 1}, sender="urn:asap:agent:BAD_URN"),
            task_request({"i": 2}),
        ]
        frames = [service_pb2.BatchFrame(envelopes=envelopes)]
        results = []
        for frame in self.stub.SendBatch(iter(frames), timeout=RPC_TIMEOUT_S):
            results.extend(frame.results)
        self.assertEqual(sorted(r.index for r in results), [0, 1, 2])
        by_index = {r.index: r for r in results}
        for i in (0, 2):
            result = by_index[i]
            self.assertEqual(result.WhichOneof("outcome"), "response", result)
            self.assertEqual(result.response.payload_type, "task.response")
            self.assertEqual(result.response.correlation_id, envelopes[i].id)
            payload = json_format.MessageToDict(result.response.payload)
            self.assertEqual(payload["result"], {"i": i})
        bad = by_index[1]
        self.assertEqual(bad.WhichOneof("outcome"), "error", bad)
        self.assertEqual(bad.error.asap_code,
                         "asap:protocol/malformed_envelope")
        self.assertEqual(bad.error.grpc_code,
                         grpc.StatusCode.INVALID_ARGUMENT.value[0])
        self.assertTrue(bad.error.message)

    def test_gzip_large_input(self):
        # ~100 KB of varied (so not trivially compressible) data.
        rows = [{"k": "key-%05d" % i, "v": secrets.token_hex(16)}
                for i in range(1700)]
        input_obj = {"rows": rows}
        request = task_request(input_obj)
        self.assertGreater(request.ByteSize(), 100 * 1000)
        with grpc.insecure_channel(
                self.address, compression=grpc.Compression.Gzip) as channel:
            stub = service_pb2_grpc.AsapServiceStub(channel)
            response = stub.Send(request, timeout=RPC_TIMEOUT_S)
        self.assertEqual(response.payload_type, "task.response")
        self.assertEqual(response.correlation_id, request.id)
        payload = json_format.MessageToDict(response.payload)
        self.assertEqual(payload["result"], input_obj)

    def test_plain_send_of_large_input_without_grpc_compression(self):
        rows = [{"k": "key-%05d" % i, "v": secrets.token_hex(16)}
                for i in range(1700)]
        request = task_request({"rows": rows})
        response = self.stub.Send(request, timeout=RPC_TIMEOUT_S)
        payload = json_format.MessageToDict(response.payload)
        self.assertEqual(payload["result"], {"rows": rows})

    def test_send_compressed_with_gzip_body(self):
        # asap's own compression path, driven from Python's gzip module.
        import gzip
        rows = [{"k": "key-%05d" % i, "text": "agent task result " * 4}
                for i in range(500)]
        request = task_request({"rows": rows})
        compressed = service_pb2.CompressedEnvelope(
            encoding="gzip",
            body=gzip.compress(request.SerializeToString()),
            accept_encoding="gzip")
        self.assertLess(len(compressed.body), request.ByteSize() // 3)
        answer = self.stub.SendCompressed(compressed, timeout=RPC_TIMEOUT_S)
        self.assertEqual(answer.encoding, "gzip")
        response = envelope_pb2.Envelope()
        response.ParseFromString(gzip.decompress(answer.body))
        self.assertEqual(response.correlation_id, request.id)
        payload = json_format.MessageToDict(response.payload)
        self.assertEqual(payload["result"], {"rows": rows})

    def test_send_compressed_unsupported_encoding(self):
        compressed = service_pb2.CompressedEnvelope(encoding="zstd", body=b"x")
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.SendCompressed(compressed, timeout=RPC_TIMEOUT_S)
        self.assert_asap_error(cm.exception, grpc.StatusCode.UNIMPLEMENTED,
                               "asap:transport/unsupported_encoding")
        self.assertIn("gzip", cm.exception.details())


if __name__ == "__main__":
    unittest.main()
