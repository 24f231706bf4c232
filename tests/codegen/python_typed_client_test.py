"""The generated Python client (inventory_asap.InventoryAgentClient) against
the C++ agent generated from the same .proto, and the manifest's generated
JSON Schemas checked with python3-jsonschema against real inputs and
results, and against wrong inputs they must refuse."""

import json
import os
import subprocess
import unittest

import grpc
import jsonschema
from google.protobuf import empty_pb2, json_format

import asap_testing
from asap.v1 import service_pb2, service_pb2_grpc
from tests.codegen import inventory_asap, inventory_pb2

SENDER = "urn:asap:agent:python-test"


def full_item():
    item = inventory_pb2.Item(
        sku="sku-1", quantity=(1 << 53) | 1,
        condition=inventory_pb2.CONDITION_USED,
        tags=["blue", "sale"], price_text="on request",
        photo=b"\x00\xff\x10 bytes", serial=(1 << 64) - 1, weight_kg=0.25,
        fragile=True)
    item.dimensions.width_cm = 12.5
    item.dimensions.height_cm = 3
    item.stock_by_site["paris"] = 4
    item.added.FromSeconds(1700000000)
    item.shelf_life.FromSeconds(86400)
    item.reorder_level.value = 0
    item.attributes.update({"origin": "fr"})
    return item


class TypedPythonClientTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = subprocess.Popen(
            [asap_testing.runfile("tests/codegen/inventory_server")],
            stdout=subprocess.PIPE, text=True)
        line = cls.server.stdout.readline()
        if not line.startswith("listening on "):
            asap_testing.stop_process(cls.server)
            raise RuntimeError("the inventory server did not start: %r" % line)
        cls.address = line[len("listening on "):].strip()
        cls.channel = grpc.insecure_channel(cls.address)
        cls.client = inventory_asap.InventoryAgentClient(cls.channel, SENDER)
        manifest = service_pb2_grpc.AsapServiceStub(cls.channel).GetManifest(
            service_pb2.GetManifestRequest(), timeout=10)
        cls.skills = {
            skill.id: skill for skill in manifest.capabilities.skills}

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        asap_testing.stop_process(cls.server)

    # ---- typed calls ----

    def test_a_full_item_round_trips(self):
        added = self.client.add_items(
            inventory_pb2.AddItemsRequest(items=[full_item()]), timeout=10)
        self.assertEqual(added.added, 1)
        self.assertEqual(added.total_quantity, (1 << 53) | 1)
        found = self.client.lookup(
            inventory_pb2.LookupRequest(sku="sku-1"), timeout=10)
        self.assertEqual(found, full_item())

    def test_streaming_skill_reports_progress(self):
        seen = []
        counted = self.client.count(
            inventory_pb2.CountRequest(steps=3),
            on_progress=lambda percent, message: seen.append(
                (round(percent), message)),
            timeout=10)
        self.assertIsInstance(counted, inventory_pb2.CountResponse)
        self.assertEqual(seen, [(33, "step 1"), (67, "step 2"),
                                (100, "step 3")])

    def test_skill_errors_carry_the_asap_code(self):
        with self.assertRaises(inventory_asap.AsapError) as raised:
            self.client.lookup(inventory_pb2.LookupRequest(sku="missing"),
                               timeout=10)
        self.assertEqual(raised.exception.code,
                         "asap:protocol/malformed_envelope")
        self.assertIn("input.sku", raised.exception.message)
        self.assertEqual(raised.exception.grpc_code,
                         grpc.StatusCode.INVALID_ARGUMENT)

    def test_an_unimplemented_skill_is_handler_not_found(self):
        with self.assertRaises(inventory_asap.AsapError) as raised:
            self.client.clear(empty_pb2.Empty(), timeout=10)
        self.assertEqual(raised.exception.code,
                         "asap:transport/handler_not_found")

    def test_skill_ids_come_from_the_proto(self):
        self.assertEqual(inventory_asap.InventoryAgentClient.AGENT_ID,
                         "urn:asap:agent:inventory")
        self.assertEqual(inventory_asap.InventoryAgentClient.LOOKUP_SKILL,
                         "inventory.lookup")

    def test_a_sender_is_required(self):
        with self.assertRaises(ValueError):
            inventory_asap.InventoryAgentClient(self.channel, "")

    # ---- the manifest's JSON Schemas ----

    def schema(self, skill_id, which):
        skill = self.skills[skill_id]
        return json_format.MessageToDict(getattr(skill, which))

    def assert_valid(self, schema, instance):
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.Draft202012Validator(schema).validate(instance)

    def assert_invalid(self, schema, instance):
        with self.assertRaises(jsonschema.ValidationError, msg=instance):
            jsonschema.Draft202012Validator(schema).validate(instance)

    def test_real_inputs_validate(self):
        schema = self.schema("add_items", "input_schema")
        second = inventory_pb2.Item(sku="b", quantity=3, price_cents=1250)
        request = inventory_pb2.AddItemsRequest(items=[full_item(), second])
        self.assert_valid(schema, json_format.MessageToDict(request))
        self.assert_valid(self.schema("count", "input_schema"), {"steps": 4})
        self.assert_valid(self.schema("inventory.lookup", "input_schema"),
                          {"sku": "x"})
        self.assert_valid(self.schema("clear", "input_schema"), {})

    def test_real_results_validate(self):
        self.client.add_items(
            inventory_pb2.AddItemsRequest(items=[full_item()]), timeout=10)
        found = self.client.lookup(
            inventory_pb2.LookupRequest(sku="sku-1"), timeout=10)
        self.assert_valid(self.schema("inventory.lookup", "output_schema"),
                          json_format.MessageToDict(found))
        added = self.client.add_items(
            inventory_pb2.AddItemsRequest(items=[full_item()]), timeout=10)
        self.assert_valid(self.schema("add_items", "output_schema"),
                          json_format.MessageToDict(added))

    def test_wrong_inputs_are_refused(self):
        add = self.schema("add_items", "input_schema")
        for wrong in [
                {"items": [{"quantity": True}]},
                {"items": [{"quantity": 1.5}]},
                {"items": [{"colour": "red"}]},
                {"items": [{"condition": "CONDITION_BROKEN"}]},
                {"items": [{"priceCents": 1, "priceText": "one"}]},
                {"items": [{"stockBySite": {"paris": "four"}}]},
                {"items": [{"tags": "blue"}]},
                {"items": {}},
                {"items": [{"shelfLife": 86400}]},
                {"items": [{"reorderLevel": "zero"}]},
                {"items": [{"dimensions": {"widthCm": "wide"}}]},
        ]:
            self.assert_invalid(add, wrong)
        count = self.schema("count", "input_schema")
        for wrong in [{"steps": "three"}, {"steps": 2 ** 31}, {"steps": 0.5},
                      [], "steps"]:
            self.assert_invalid(count, wrong)

    def test_the_generated_manifest_file_matches_the_served_schemas(self):
        path = asap_testing.runfile(
            "tests/codegen/inventory_asap_asap_json/tests/codegen/"
            "inventory.asap.json")
        with open(path) as f:
            generated = json.load(f)["agents"][0]
        self.assertEqual(generated["id"], "urn:asap:agent:inventory")
        for skill in generated["capabilities"]["skills"]:
            self.assertEqual(skill["input_schema"],
                             self.schema(skill["id"], "input_schema"))
            self.assertEqual(skill["output_schema"],
                             self.schema(skill["id"], "output_schema"))


if __name__ == "__main__":
    unittest.main()
