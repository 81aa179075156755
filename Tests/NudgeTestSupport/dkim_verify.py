"""Verifies every DKIM-Signature of a message with dkimpy (an independent implementation).

Usage: python dkim_verify.py MESSAGE.eml RECORDS.json
RECORDS maps "<selector>._domainkey.<domain>" to its TXT value; dkimpy's dnsfunc hook serves
them, so nothing touches the network. Prints a JSON list, one {"ok", "error"} per signature, top first.
"""
import json
import sys

import dkim

message = open(sys.argv[1], "rb").read()
records = json.load(open(sys.argv[2]))


def dnsfunc(name, timeout=5):
    key = (name.decode() if isinstance(name, bytes) else name).rstrip(".").lower()
    value = records.get(key)
    return value.encode() if value is not None else None


verifier = dkim.DKIM(message)
count = sum(1 for name, _ in verifier.headers if name.lower() == b"dkim-signature")
results = []
for index in range(count):
    try:
        results.append({"ok": bool(verifier.verify(idx=index, dnsfunc=dnsfunc))})
    except Exception as error:  # a malformed signature is a failed verification, with its reason
        results.append({"ok": False, "error": repr(error)})
print(json.dumps(results))
