#!/usr/bin/env python3
"""Counts test cases in Bazel's test.xml files and prints 'N passed, N failed'.

usage: test_summary.py [--group NAME] TESTLOGS_DIR TARGET...
                       [--group NAME TESTLOGS_DIR TARGET...]...
                       [--extra-passed N] [--extra-failed N]

Each group is one `bazel test` run: its bazel-testlogs directory (each
--config has its own) and the targets it ran. Each target's test.xml
(GoogleTest, unittest via Bazel, sh_test, a fuzzer run) is read; a target with
no test.xml, or whose XML has no test case, counts as one case, failed if its
log says so. Failures of a named group are printed with the group's name
("FAILED: [asan] //tests/asap:ids_test Suite.Case"). Exits 1 when anything
failed.
"""
import os
import sys
import xml.etree.ElementTree as ET


def count_target(testlogs, target):
    path = target.lstrip("/").replace(":", "/")
    xml_path = os.path.join(testlogs, path, "test.xml")
    if not os.path.exists(xml_path):
        return 0, 1, [target + " (no test result)"]
    root = ET.parse(xml_path).getroot()
    passed = failed = 0
    failures = []
    cases = root.iter("testcase")
    for case in cases:
        bad = case.find("failure") is not None or case.find("error") is not None
        if case.get("status") == "notrun" or case.find("skipped") is not None:
            continue
        if bad:
            failed += 1
            failures.append("%s %s.%s" % (target, case.get("classname"), case.get("name")))
        else:
            passed += 1
    if passed + failed == 0:
        # sh_test and friends: one case, judged by the suite's failure count.
        suite_failed = any(
            int(s.get("failures", "0")) + int(s.get("errors", "0")) > 0
            for s in root.iter("testsuite"))
        if suite_failed:
            return 0, 1, [target]
        return 1, 0, []
    return passed, failed, failures


def parse_args(argv):
    """Returns ([(group name or None, testlogs, [targets])], extra passed,
    extra failed)."""
    groups = []
    extra_passed = extra_failed = 0
    name = None
    current = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--extra-passed":
            extra_passed = int(argv[i + 1]); i += 2
        elif arg == "--extra-failed":
            extra_failed = int(argv[i + 1]); i += 2
        elif arg == "--group":
            name = argv[i + 1]; current = None; i += 2
        elif current is None:
            current = (name, arg, [])
            groups.append(current)
            i += 1
        else:
            current[2].append(arg); i += 1
    return groups, extra_passed, extra_failed


def main(argv):
    groups, passed, failed = parse_args(argv)
    failures = []
    for name, testlogs, targets in groups:
        # The plain `bazel test` run keeps the names it always had.
        prefix = "[%s] " % name if name and name != "tests" else ""
        for target in targets:
            p, f, names = count_target(testlogs, target)
            passed += p
            failed += f
            failures += [prefix + n for n in names]
    for name in failures:
        print("FAILED: " + name)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
