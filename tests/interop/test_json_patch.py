#!/usr/bin/python3
"""Castor's JSON deltas applied by an independent JSON Patch implementation.

Runs castor-json-patch-cases (random documents and edits, each with the
RFC 6902 patch Castor computes) and applies every patch with Debian's
python3-jsonpatch: the result must equal the new document exactly. Also
checks that a patch is never longer than the document it makes, give or
take the size of one replace operation."""

import json
import subprocess
import sys

import jsonpatch


def main():
    tool = sys.argv[1]
    out = subprocess.run([tool, "2000", "7"], check=True, capture_output=True,
                         text=True).stdout
    cases = [json.loads(line) for line in out.splitlines()]
    assert len(cases) == 2000, len(cases)
    failures = 0
    for i, case in enumerate(cases):
        try:
            got = jsonpatch.apply_patch(case["from"], case["patch"])
        except jsonpatch.JsonPatchException as e:
            got = "<refused: %s>" % e
        if got != case["to"]:
            failures += 1
            if failures <= 5:
                print("case %d: from %s to %s by %s gave %s" % (
                    i, json.dumps(case["from"]), json.dumps(case["to"]),
                    json.dumps(case["patch"]), json.dumps(got)))
        whole = len(json.dumps(
            [{"op": "replace", "path": "", "value": case["to"]}],
            separators=(",", ":")))
        size = len(json.dumps(case["patch"], separators=(",", ":")))
        if size > whole + 2:
            failures += 1
            print("case %d: patch of %d bytes for a value of %d" % (
                i, size, whole))
    ops = sum(len(c["patch"]) for c in cases)
    print("%d patches (%d operations) applied by python3-jsonpatch, "
          "%d failures" % (len(cases), ops, failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
