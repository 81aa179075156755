"""Writes replies into a Dovecot Maildir for ops/bench imap, the way a mail server delivers them.

Usage: imap_replies.py MAILDIR UID REPLIES.tsv PREFIX RATE SECONDS OUT.tsv
REPLIES.tsv: rfc822_message_id, recipient, inbox address, subject (one sent step per line).
RATE 0 writes them all at once (a backlog); otherwise RATE replies per second for SECONDS.
Each reply is completed in tmp/ then renamed into new/ (Maildir's rule); OUT.tsv gets the
Message-ID of each reply and the time it landed (epoch seconds).
"""
import os
import sys
import time
import uuid

maildir, uid, replies, prefix, rate, seconds, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
rows = [line.rstrip("\n").split("\t") for line in open(replies) if line.strip()]
if rate > 0:
    rows = rows[: int(rate * seconds)]
for sub in ("tmp", "new", "cur"):
    os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    os.chown(os.path.join(maildir, sub), uid, uid)
os.chown(maildir, uid, uid)
start = time.time()
with open(out, "w") as log:
    for i, (mid, recipient, inbox, subject) in enumerate(rows):
        if rate > 0:
            wait = start + i / rate - time.time()
            if wait > 0:
                time.sleep(wait)
        reply_id = f"<{prefix}{uuid.uuid4()}@bench.test>"
        body = (
            f"From: <{recipient}>\r\nTo: <{inbox}>\r\nSubject: Re: {subject}\r\n"
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\nMessage-ID: {reply_id}\r\n"
            f"In-Reply-To: {mid}\r\nReferences: {mid}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Thanks, this looks good. Let's talk next week.\r\n"
        ).encode()
        name = f"{int(time.time())}.{prefix}{i}.bench"
        tmp = os.path.join(maildir, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(body)
        os.chown(tmp, uid, uid)
        os.rename(tmp, os.path.join(maildir, "new", name))
        log.write(f"{mid}\t{time.time():.6f}\n")
