"""Typed calls of ASAP skills from Python over gRPC (Debian's python3-grpcio).

The runtime of the modules protoc-gen-asap generates (`<file>_asap.py`): a
generated `<Service>Client` holds a TypedStub and has one method per skill,
taking and returning the skill's Protobuf messages.

    import grpc
    from examples.research_agent import research_asap, research_pb2

    with grpc.insecure_channel("127.0.0.1:50051") as channel:
        research = research_asap.ResearchAgentClient(
            channel, sender="urn:asap:agent:me")
        result = research.search(research_pb2.SearchRequest(topic="ants"))
        summary = research.summarize(
            research_pb2.SummarizeRequest(paper_id=result.papers[0].id),
            on_progress=lambda percent, message: print(percent, message))

A call sends an ASAP task.request envelope whose `input` is the request in
the Protobuf JSON mapping and reads the task.response's `result` back into
the response message (result fields the message does not know are skipped).
A failed call raises AsapError, with the agent's ASAP error code.
"""

import secrets
import time
from datetime import datetime, timezone

import grpc
from google.protobuf import json_format

from asap.v1 import envelope_pb2, service_pb2_grpc

ASAP_VERSION = "0.1"

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class AsapError(Exception):
    """A failed call: `code` is the ASAP error code ("asap:protocol/...")
    when the agent gave one, `grpc_code` the gRPC status code."""

    def __init__(self, code, message, grpc_code=None):
        super().__init__("%s: %s" % (code, message) if code else message)
        self.code = code
        self.message = message
        self.grpc_code = grpc_code


def new_ulid():
    """A ULID: 48-bit millisecond time and 80 random bits, Crockford base32."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _timestamp():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _asap_error(error):
    """The AsapError of a failed gRPC call."""
    trailers = dict(error.trailing_metadata() or ())
    code = trailers.get("asap-error-code", "")
    message = error.details() or ""
    prefix = code + ": "
    if code and message.startswith(prefix):
        message = message[len(prefix):]
    return AsapError(code, message, error.code())


def read_result(answer, response_type):
    """The `result` of a task.response envelope as a `response_type`."""
    if answer.payload_type not in ("task.response", "TaskResponse"):
        raise AsapError("asap:internal/error",
                        "expected a task.response, got %r" % answer.payload_type[:64])
    payload = answer.payload
    status = payload.fields.get("status")
    if status is not None and status.HasField("string_value") and \
            status.string_value != "completed":
        raise AsapError("asap:internal/error",
                        "the task ended %r" % status.string_value[:64])
    response = response_type()
    result = payload.fields.get("result")
    if result is None or result.HasField("null_value"):
        return response
    if not result.HasField("struct_value"):
        raise AsapError("asap:protocol/malformed_envelope",
                        "result: expected an object")
    try:
        json_format.ParseDict(
            json_format.MessageToDict(result.struct_value), response,
            ignore_unknown_fields=True)
    except json_format.ParseError as error:
        raise AsapError("asap:protocol/malformed_envelope",
                        "result is not a valid %s: %s" %
                        (response_type.DESCRIPTOR.full_name, error)) from error
    return response


class TypedStub:
    """Calls the skills of one agent (the base of the generated clients).

    channel: a grpc.Channel to the agent.
    agent_id: the agent's URN, the default recipient.
    sender: the calling agent's URN (required).
    recipient: the recipient, when it is not agent_id.
    conversation_id: every call's conversation_id; None = a new ULID per call.
    """

    def __init__(self, channel, agent_id, sender, recipient=None,
                 conversation_id=None):
        if not sender:
            raise ValueError("sender is required: the calling agent's URN")
        self._stub = service_pb2_grpc.AsapServiceStub(channel)
        self.sender = sender
        self.recipient = recipient or agent_id
        self.conversation_id = conversation_id

    def request(self, skill_id, message):
        """The task.request envelope of a call."""
        envelope = envelope_pb2.Envelope(
            id=new_ulid(), asap_version=ASAP_VERSION, timestamp=_timestamp(),
            sender=self.sender, recipient=self.recipient,
            payload_type="task.request")
        envelope.payload.update({
            "conversation_id": self.conversation_id or new_ulid(),
            "skill_id": skill_id,
        })
        envelope.payload.get_or_create_struct("input").update(
            json_format.MessageToDict(message))
        return envelope

    def call(self, skill_id, message, response_type, timeout=None,
             metadata=None, wait_for_ready=None):
        """Runs a skill; returns its result as a `response_type`."""
        try:
            answer = self._stub.Send(
                self.request(skill_id, message), timeout=timeout,
                metadata=metadata, wait_for_ready=wait_for_ready)
        except grpc.RpcError as error:
            raise _asap_error(error) from None
        return read_result(answer, response_type)

    def call_streaming(self, skill_id, message, response_type,
                       on_progress=None, timeout=None, metadata=None,
                       wait_for_ready=None):
        """Runs a skill that reports progress over SendStream; calls
        on_progress(percent, message) for each update, then returns the
        result as a `response_type`."""
        final = None
        try:
            for envelope in self._stub.SendStream(
                    self.request(skill_id, message), timeout=timeout,
                    metadata=metadata, wait_for_ready=wait_for_ready):
                marker = envelope.payload.fields.get("final")
                if marker is not None and marker.bool_value:
                    del envelope.payload["final"]
                    final = envelope
                    continue
                progress = envelope.payload.fields.get("progress")
                if on_progress is not None and progress is not None and \
                        progress.HasField("struct_value"):
                    fields = progress.struct_value.fields
                    percent = fields["percent"].number_value \
                        if "percent" in fields else 0.0
                    text = fields["message"].string_value \
                        if "message" in fields else ""
                    on_progress(percent, text)
        except grpc.RpcError as error:
            raise _asap_error(error) from None
        if final is None:
            raise AsapError("asap:internal/error",
                            "the stream ended without a final envelope")
        return read_result(final, response_type)
