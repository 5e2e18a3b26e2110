#!/usr/bin/env python3
"""An independent reader of Spine records, written from docs/wire-format.md
(not from the Go code), run against the test vectors: every valid vector must
decode to its envelope and schema id, every invalid one must be refused at the
field the document names. Standard library only. Exit 0 when all agree."""
import json, pathlib, re, sys, uuid
from datetime import datetime

ENVELOPE = ["event_id", "event_name", "source", "timestamp", "tenant_id", "trace_id", "version", "schema"]
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")

class Reject(Exception):
    def __init__(self, field): self.field = field

def header_bytes(h):
    return bytes.fromhex(h["value_hex"]) if "value_hex" in h else h["value_utf8"].encode()

def decode(rec, limit=2 * 1024 * 1024 + 5):
    value = bytes.fromhex(rec["value_hex"])
    if len(value) > limit: raise Reject("value")                       # rule 1
    if len(value) < 5 or value[0] != 0: raise Reject("value")          # rule 2
    schema_id = int.from_bytes(value[1:5], "big")
    if not 1 <= schema_id <= 2**31 - 1 or len(value) == 5: raise Reject("value")
    seen = {}
    for h in rec["headers"]:                                           # rule 3
        name = h["key"]
        if not name: raise Reject("header")
        if name in ("key", "value"): raise Reject("header:" + name)
        try: text = header_bytes(h).decode("utf-8")
        except UnicodeDecodeError: raise Reject("header:" + name)
        unique = name in ENVELOPE or name == "authorization" or name.startswith("spine-")
        if unique and name in seen: raise Reject("header:" + name)
        seen.setdefault(name, text)
    for name in ENVELOPE:                                              # rule 4
        if name not in seen: raise Reject("header:" + name)
    ts = seen["timestamp"]                                             # rule 5
    if not TS.match(ts): raise Reject("header:timestamp")
    try: datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError: raise Reject("header:timestamp")
    for name in ("event_id", "tenant_id"):                             # rule 6 (the checks vectors exercise)
        try: u = uuid.UUID(seen[name])
        except ValueError: raise Reject("header:" + name)
        if str(u) != seen[name] or (name == "event_id" and u.version != 4): raise Reject("header:" + name)
    if not re.fullmatch(r"[0-9a-f]{32}", seen["trace_id"]): raise Reject("header:trace_id")
    key = bytes.fromhex(rec["key_hex"])
    if key != seen["tenant_id"].encode(): raise Reject("key")          # rule 7
    return schema_id, {n: seen[n] for n in ENVELOPE}, value[5:]

def main(root):
    failures = 0
    for path in sorted((root / "vectors").glob("*.json")):
        rec = json.loads(path.read_text())
        try: schema_id, header, payload = decode(rec)
        except Reject as r:
            print(f"FAIL {path.name}: refused at {r.field}"); failures += 1; continue
        want = rec["envelope"]
        ok = (schema_id == rec["schema_id"] and payload == rec["payload"].encode()
              and header == want["header"] and json.loads(payload) == want["payload"])
        print(("ok  " if ok else "FAIL") + f" {path.name}: schema id {schema_id}, {len(payload)}-byte payload")
        failures += not ok
    for path in sorted((root / "invalid").glob("*.json")):
        rec = json.loads(path.read_text())
        try:
            decode(rec); print(f"FAIL {path.name}: accepted"); failures += 1
        except Reject as r:
            ok = r.field == rec["error_field"]
            print(("ok  " if ok else "FAIL") + f" {path.name}: refused at {r.field} (want {rec['error_field']})")
            failures += not ok
    print(f"{failures} failed")
    return 1 if failures else 0

if __name__ == "__main__":
    sys.exit(main(pathlib.Path(__file__).resolve().parent))
