"""The generated Python of hostile.proto imports, with the hostile texts
intact in its docstrings."""

import unittest

from tests.codegen import hostile_asap


class HostilePythonTest(unittest.TestCase):

    def test_docstrings_keep_the_texts(self):
        client = hostile_asap.HostileAgentClient
        self.assertEqual(client.__doc__,
                         "a\n#error injected \\\n\"\"\" import os \u00e9")
        self.assertEqual(client.ends_in_backslash.__doc__,
                         "ends in a backslash \\")
        self.assertEqual(client.quotes.__doc__, "\"); system(\"x\"); (\"")
        self.assertFalse(hasattr(hostile_asap, "os"))


if __name__ == "__main__":
    unittest.main()
