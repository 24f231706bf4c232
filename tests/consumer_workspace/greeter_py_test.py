"""The consumer's Python stubs (py_grpc_library) over real gRPC, asap's own
Python stubs imported from the @asap repository, and the typed Python client
generated from greeter_agent.proto (asap_agent_library)."""

import unittest
from concurrent import futures

import grpc

import greeter_agent_asap
import greeter_pb2
import greeter_pb2_grpc
from asap.v1 import envelope_pb2
from asap.v1 import service_pb2_grpc


class Greeter(greeter_pb2_grpc.GreeterServicer):

    def SayHello(self, request, context):
        if not request.name:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "name is required")
        reply = greeter_pb2.HelloReply(message="Hello, %s!" % request.name)
        reply.details.CopyFrom(request.details)
        return reply


class GreeterPyTest(unittest.TestCase):

    def setUp(self):
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        greeter_pb2_grpc.add_GreeterServicer_to_server(Greeter(), self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.assertGreater(port, 0)
        self.server.start()
        self.addCleanup(self.server.stop, None)
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % port)
        self.addCleanup(self.channel.close)
        self.stub = greeter_pb2_grpc.GreeterStub(self.channel)

    def test_say_hello(self):
        request = greeter_pb2.HelloRequest(name="python")
        request.details.update({"lang": "py"})
        reply = self.stub.SayHello(request, timeout=10)
        self.assertEqual(reply.message, "Hello, python!")
        self.assertEqual(reply.details["lang"], "py")

    def test_missing_name(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.SayHello(greeter_pb2.HelloRequest(), timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_asap_stubs_from_the_asap_repository(self):
        envelope = envelope_pb2.Envelope(
            sender="urn:asap:agent:consumer", payload_type="task.request")
        envelope.payload.update({"input": {"x": 1}})
        parsed = envelope_pb2.Envelope.FromString(envelope.SerializeToString())
        self.assertEqual(parsed, envelope)
        self.assertTrue(hasattr(service_pb2_grpc, "AsapServiceStub"))

    def test_typed_client_from_the_consumers_proto(self):
        client = greeter_agent_asap.GreeterAgentClient(
            self.channel, sender="urn:asap:agent:consumer-py")
        self.assertEqual(client.AGENT_ID, "urn:asap:agent:consumer-greeter")
        # No ASAP agent listens on this channel (it is the plain Greeter):
        # the typed call reaches the server and fails as gRPC UNIMPLEMENTED,
        # raised as the typed client's AsapError.
        with self.assertRaises(greeter_agent_asap.AsapError) as raised:
            client.greet(greeter_pb2.HelloRequest(name="py"), timeout=10)
        self.assertEqual(raised.exception.grpc_code,
                         grpc.StatusCode.UNIMPLEMENTED)
        envelope = client._stub.request(
            "greet", greeter_pb2.HelloRequest(name="py"))
        self.assertEqual(envelope.payload["skill_id"], "greet")
        self.assertEqual(envelope.payload["input"]["name"], "py")
        self.assertEqual(envelope.recipient, "urn:asap:agent:consumer-greeter")


if __name__ == "__main__":
    unittest.main()
