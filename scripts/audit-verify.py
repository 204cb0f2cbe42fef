#!/usr/bin/env python3
"""An independent check of an AiCockpit audit export (`aicockpit audit export`
or GET /api/v1/audit/export): recomputes every row's hash from the exported
fields alone, follows the chain from the genesis hash and compares the last
row with the head you saw published (--head SEQ:HASH, e.g. from /metrics or
the log). Exit 0 if intact, 1 with the first broken row otherwise.

Deliberately shares no code with the server: what it checks is the recipe
the export states."""
import hashlib
import json
import sys


def row_hash(r):
    fields = [r["prev_hash"], r["seq"], r["at"], r["actor"], r["workspace_id"], r["action"],
              r["detail"], r["decision"], r["approved_by"], r["result"]]
    canonical = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def main():
    args = sys.argv[1:]
    head = None
    if len(args) >= 2 and args[0] == "--head":
        seq, _, h = args[1].partition(":")
        head = (int(seq), h)
        args = args[2:]
    doc = json.load(open(args[0]) if args else sys.stdin)
    prev, expect = doc["genesis"], 1
    for r in doc["rows"]:
        if r["seq"] != expect:
            return fail(expect, f"row {expect} is missing")
        if r["prev_hash"] != prev:
            return fail(r["seq"], "its prev_hash does not match the row before it")
        if row_hash(r) != r["hash"]:
            return fail(r["seq"], "its fields do not match its hash")
        prev, expect = r["hash"], r["seq"] + 1
    last = expect - 1
    if head is not None:
        if head[0] > last:
            return fail(last + 1, f"rows {last + 1}-{head[0]} are missing: the published head is row {head[0]}")
        match = [r for r in doc["rows"] if r["seq"] == head[0]]
        if not match or match[0]["hash"] != head[1]:
            return fail(head[0], "it differs from the published head")
    print(f"intact: {len(doc['rows'])} rows, head {last}:{prev}")
    return 0


def fail(seq, why):
    print(f"broken at row {seq}: {why}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
