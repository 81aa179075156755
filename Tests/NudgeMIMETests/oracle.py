#!/usr/bin/env python3
"""Reference extraction with Python's email package, for NudgeMIME's oracle test.

Usage: oracle.py CORPUS_DIR < list-of-relative-paths
Prints one JSON object per line: file, subject, from, message_id, text (first text/plain
part, or null), and error fields when Python itself raises for a field.

"First text/plain part" = depth-first walk in document order that does not descend into
message/delivery-status (Python models its field groups as pseudo-messages with a default
text/plain type; they are not MIME parts).
"""
import email
import email.policy
import json
import sys


def first_text_plain(part):
    if part.get_content_type() == "text/plain" and not part.is_multipart():
        return part
    if part.get_content_type() == "message/delivery-status":
        return None
    if part.is_multipart():
        for sub in part.get_payload():
            found = first_text_plain(sub)
            if found is not None:
                return found
    return None


def main():
    root = sys.argv[1]
    for name in sys.stdin.read().split("\n"):
        if not name:
            continue
        with open(f"{root}/{name}", "rb") as fh:
            raw = fh.read()
        out = {"file": name}
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        for key, header in (("subject", "subject"), ("message_id", "message-id")):
            try:
                out[key] = str(msg[header]) if msg[header] is not None else None
            except Exception as exc:  # Python's header parser raises on some malformed values
                out[key + "_error"] = repr(exc)
        try:
            addrs = msg["from"].addresses if msg["from"] is not None else ()
            out["from"] = addrs[0].addr_spec if addrs else None
        except Exception as exc:
            out["from_error"] = repr(exc)
        try:
            part = first_text_plain(msg)
            out["text"] = part.get_content() if part is not None else None
        except Exception as exc:  # e.g. LookupError for a charset Python does not know
            out["text_error"] = repr(exc)
        # Structural defects mean Python split the MIME tree differently from what the sender
        # meant (e.g. an unindented "boundary=" line); the Swift side uses this to explain diffs.
        structural = {"NoBoundaryInMultipartDefect", "StartBoundaryNotFoundDefect", "CloseBoundaryNotFoundDefect",
                      "MissingHeaderBodySeparatorDefect", "MultipartInvariantViolationDefect"}
        out["defects"] = sorted({type(d).__name__ for p in msg.walk() for d in p.defects if type(d).__name__ in structural})
        print(json.dumps(out, ensure_ascii=False))


main()
