"""ops/chaos imap: an inbox reads its own IMAP account (a private Dovecot, STARTTLS) while 2,000
distinct messages land in the mailbox in waves and the worker process that reads them is killed
with SIGKILL 20 times, each a random moment into a poll (restarted at once). Then, in the database: every message stored once as
inbound (lost and processed twice must be 0) and announced by exactly one `message.received` event.

A kill during a poll leaves the mailbox leased to the dead worker for up to 60 s (MailboxReader.lease,
renewed with each chunk): the run cannot wait for that 20 times, so it expires such a lease at once
(the killed process is gone by then), except the last kill's, left to run out so that the takeover
is exercised too; those kills are counted as mid-poll.

Usage: imap.py NUDGE_BINARY   (environment: CHAOS_KILLS, CHAOS_MESSAGES, CHAOS_WAVES, CHAOS_TIMEOUT,
CHAOS_SEED, CHAOS_KEEP=1 to keep the temp dir)"""
import collections
import json
import os
import random
import re
import socket
import subprocess
import sys
import time

from harness import Cluster, Server, Sink, Workspace, base_env, call, free_port, log, must, nudge, wait_for

KILLS = int(os.environ.get("CHAOS_KILLS", 20))
MESSAGES = int(os.environ.get("CHAOS_MESSAGES", 2000))
WAVES = int(os.environ.get("CHAOS_WAVES", 4))
TIMEOUT = float(os.environ.get("CHAOS_TIMEOUT", 180))
SEED = int(os.environ.get("CHAOS_SEED", int(time.time())))
UID = 5000  # Dovecot's mail user (first_valid_uid = last_valid_uid): the Maildir's files are its own
PASSWORD = "chaos-imap-pass"


class Dovecot:
    """One user (chaos) on a free port, STARTTLS with a self-signed certificate for 127.0.0.1 that
    nudge trusts through NUDGE_MAIL_CA_FILE (as ops/bench's start_dovecot)."""

    def __init__(self, tmp):
        d = os.path.join(tmp, "dovecot")
        home = os.path.join(d, "mail", "chaos")
        os.makedirs(home)
        os.chmod(d, 0o755)
        for p in (os.path.dirname(home), home):
            os.chown(p, UID, UID)
        self.cert = os.path.join(d, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", os.path.join(d, "key.pem"), "-out", self.cert],
                       check=True, capture_output=True)
        self.port = free_port()
        with open(os.path.join(d, "users"), "w") as f:
            f.write(f"chaos:{{PLAIN}}{PASSWORD}:{UID}:{UID}::{home}\n")
        self.conf, self.log = os.path.join(d, "dovecot.conf"), os.path.join(d, "dovecot.log")
        settings = [
            f"base_dir = {d}/run", f"state_dir = {d}/state", f"log_path = {self.log}",
            f"instance_name = dovecot-chaos-{self.port}", "listen = 127.0.0.1", "protocols = imap", "ssl = yes",
            f"ssl_cert = <{self.cert}", f"ssl_key = <{d}/key.pem", "ssl_dh = </usr/share/dovecot/dh.pem",
            "disable_plaintext_auth = no", f"passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {d}/users\n}}",
            f"userdb {{\n  driver = passwd-file\n  args = {d}/users\n}}", "mail_location = maildir:~/Maildir",
            f"first_valid_uid = {UID}", f"last_valid_uid = {UID}",
            f"service imap-login {{\n  inet_listener imap {{\n    port = {self.port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}",
        ]
        with open(self.conf, "w") as f:
            f.write("\n".join(settings) + "\n")
        # Not captured: the daemon keeps its inherited stdout/stderr open, so a pipe would never end.
        subprocess.run(["/usr/sbin/dovecot", "-c", self.conf], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for(self._listening, timeout=10, interval=0.05):
            raise RuntimeError(f"dovecot is not listening on {self.port}; see {d}/dovecot.log")
        self.maildir = os.path.join(home, "Maildir")
        for sub in ("", "tmp", "new", "cur"):
            os.makedirs(os.path.join(self.maildir, sub), exist_ok=True)
            os.chown(os.path.join(self.maildir, sub), UID, UID)

    def _listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def deliver(self, i, mid, inbox):
        """Message i, as a delivery agent does: completed in tmp/, then renamed into new/."""
        body = (f"From: Person {i} <p{i}@senders{i % 50}.chaos.test>\r\nTo: <{inbox}>\r\nSubject: Question {i}\r\n"
                f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\nMessage-ID: <{mid}>\r\n"
                f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                f"Hello, could you send me the price list for item {i}? Thanks.\r\n").encode()
        name = f"{int(time.time())}.chaos{i}.{os.getpid()}"
        tmp = os.path.join(self.maildir, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(body)
        os.chown(tmp, UID, UID)
        os.rename(tmp, os.path.join(self.maildir, "new", name))

    def bodies_sent(self):
        """Messages Dovecot sent over all sessions (logged at each disconnect): beyond N, chunks read again."""
        with open(self.log) as f:
            return sum(int(n) for n in re.findall(r"body_count=(\d+)", f.read()))

    def stop(self):
        subprocess.run(["doveadm", "-c", self.conf, "stop"], capture_output=True)


def main():
    binary = sys.argv[1]
    rng = random.Random(SEED)
    with Workspace("imap") as ws:
        log(f"imap run in {ws.tmp} (seed {SEED}): {MESSAGES} messages in {WAVES} waves, {KILLS} kills of the reading worker")
        return run(binary, rng, ws, ws.tmp)


def run(binary, rng, ws, tmp):
    cluster = ws.track(Cluster(tmp), Cluster.stop)
    sink = ws.track(Sink(tmp), Sink.close)
    dovecot = ws.track(Dovecot(tmp), Dovecot.stop)
    env = base_env(cluster, sink, {"NUDGE_ALLOW_PRIVATE_MAIL_HOSTS": "1", "NUDGE_MAIL_CA_FILE": dovecot.cert, "NUDGE_IMAP_CHUNK": "8"})
    cli = {**env, "NUDGE_DATA_DIR": os.path.join(tmp, "data-cli")}
    nudge(binary, cli, "migrate")
    api = ws.track(Server(binary, tmp, "api", "api", env), Server.stop)
    token = nudge(binary, cli, "org", "create", "Mailbox")["admin_token"]
    address = "sales@mailbox.chaos.test"
    inbox = must(call(api.base, token, "POST", "/v1/inboxes/", {"address": address, "timezone": "UTC"}), 201)["id"]
    must(call(api.base, token, "PATCH", f"/v1/inboxes/{inbox}/", {"imap": {
        "host": "127.0.0.1", "port": dovecot.port, "security": "starttls", "username": "chaos", "password": PASSWORD,
        "poll_interval_seconds": 5}}), 200)
    worker = ws.track(Server(binary, tmp, "worker", "worker", env), Server.stop)

    def imap_status():
        return (must(call(api.base, token, "GET", f"/v1/inboxes/{inbox}/"), 200).get("connection") or {}).get("imap_status")
    # The first poll only sets the starting point (mail already there is not read): wait for it.
    if not wait_for(lambda: imap_status() == "ok", timeout=60):
        raise RuntimeError(f"the reader did not connect: imap_status {imap_status()}; see worker.log and dovecot.log")
    org = cluster.psql(f"SELECT org_id FROM inboxes WHERE id = '{inbox}'")

    def stored():
        return int(cluster.psql(f"SELECT count(*) FROM messages WHERE org_id = '{org}' AND inbox_id = '{inbox}' AND direction = 'inbound'"))

    mids = [f"imap-{i}.{SEED}@chaos.test" for i in range(MESSAGES)]
    written = 0

    def wave(w):  # wave w of WAVES ends at message MESSAGES * (w + 1) // WAVES
        nonlocal written
        end = MESSAGES * (w + 1) // WAVES
        for i in range(written, end):
            dovecot.deliver(i, mids[i], address)
        written = end

    started = time.time()
    at_wave = {KILLS * w // WAVES: w for w in range(WAVES)} if KILLS else {}
    mid_poll = mid_fetch = 0
    left_to_expire = False
    stored_at_kill = []

    def leased():
        return cluster.psql(f"SELECT imap_lease_until > now() FROM inboxes WHERE org_id = '{org}' AND id = '{inbox}'") == "t"
    for k in range(KILLS):
        if k in at_wave:
            wave(at_wave[k])
            log(f"kill {k}: {written} messages in the mailbox, {stored_at_kill[-1] if stored_at_kill else 0} stored")
        # Polls come every 5 s and a backlog is read in a few: a kill at any moment would mostly hit
        # the idle time between them. So wait for a poll to be under way (the mailbox leased), then a
        # random 0-1.5 s into it.
        wait_for(leased, timeout=8, interval=0.05)
        before = stored()
        time.sleep(rng.uniform(0, 1.5))
        worker.kill()
        stored_at_kill.append(stored())
        if leased():  # the dead worker's poll: its lease would hold the mailbox (see the top)
            mid_poll += 1
            mid_fetch += stored_at_kill[-1] > before  # messages were being stored when it died
            if k < KILLS - 1:
                cluster.psql(f"UPDATE inboxes SET imap_lease_until = NULL WHERE org_id = '{org}' AND id = '{inbox}'")
            left_to_expire = k == KILLS - 1
        worker.start(wait=False)
    for w in range(WAVES):
        if MESSAGES * (w + 1) // WAVES > written:
            wave(w)
    worker.wait_ready()
    log(f"{KILLS} kills in {time.time() - started:.0f} s ({mid_poll} mid-poll, {mid_fetch} while storing); waiting for all {MESSAGES} messages to be stored")
    done = wait_for(lambda: stored() >= MESSAGES, timeout=TIMEOUT, interval=1)
    time.sleep(2)  # a chunk still in flight lands (or is seen twice)
    worker.stop()
    api.stop()
    time.sleep(0.5)  # Dovecot logs the last session's counts as it ends
    refetched = max(0, dovecot.bodies_sent() - MESSAGES)

    rows = cluster.psql(
        f"SELECT m.rfc822_message_id, count(e.id) FROM messages m LEFT JOIN events e ON e.org_id = m.org_id"
        f" AND e.type = 'message.received' AND e.data->>'message_id' = m.id"
        f" WHERE m.org_id = '{org}' AND m.inbox_id = '{inbox}' AND m.direction = 'inbound' GROUP BY m.id, m.rfc822_message_id")
    pairs = [line.rsplit("|", 1) for line in rows.splitlines() if line]
    counts = collections.Counter(mid.strip("<>") for mid, _ in pairs)
    events = [int(n) for _, n in pairs]
    lost_ids = [m for m in mids if m not in counts]
    lost = len(lost_ids)
    twice = sum(n - 1 for n in counts.values() if n > 1)  # 0 by construction (messages_inbound_once), still counted
    events_twice = sum(n - 1 for n in events if n > 1)
    events_missing = sum(1 for n in events if n == 0)
    unknown = len(set(counts) - set(mids))
    report = {"messages": MESSAGES, "kills": KILLS, "kills_mid_poll": mid_poll, "kills_mid_fetch": mid_fetch, "refetched": refetched, "last_lease_left_to_expire": left_to_expire,
              "stored": sum(counts.values()), "lost": lost, "processed_twice": twice, "events_twice": events_twice,
              "events_missing": events_missing, "unknown": unknown, "all_stored": done,
              "seconds": round(time.time() - started), "seed": SEED}
    print(json.dumps(report), flush=True)
    if lost_ids:
        log(f"lost, e.g.: {', '.join(lost_ids[:5])} (CHAOS_KEEP=1 keeps worker.log and the Maildir)")
    log(f"imap: {MESSAGES} messages, {KILLS} kills ({mid_fetch} mid-fetch, {refetched} read again): lost {lost} (target 0), processed twice {twice} (target 0), "
        f"events twice {events_twice} (target 0), events missing {events_missing} (target 0)")
    return 0 if lost == 0 and twice == 0 and events_twice == 0 and events_missing == 0 and unknown == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
