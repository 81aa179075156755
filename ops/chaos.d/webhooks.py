"""ops/chaos webhooks: 1,000 events in two organizations, each with an endpoint at its own receiver
(Tests/NudgeTestSupport/webhook_receiver.py, which verifies every delivery with the standardwebhooks
package), while the worker process that delivers them is killed with SIGKILL 20 times (restarted at
once). Then, at the receivers: lost (an event of the feed never received) must be 0, every delivery
must verify, an organization never receives another's events, and each receiver's first arrivals
must follow its feed's order; duplicates (always the same webhook-id) are counted and reported.

Usage: webhooks.py NUDGE_BINARY   (environment: CHAOS_KILLS, CHAOS_EVENTS, CHAOS_SEED, WEBHOOKS_PYTHON, CHAOS_DEBUG=1 to print the attempts of a duplicate,
CHAOS_KEEP=1 to keep the temp dir)"""
import collections
import json
import os
import random
import subprocess
import sys
import threading
import time

from harness import ROOT, Cluster, Server, Sink, Workspace, base_env, call, log, must, nudge, wait_for

KILLS = int(os.environ.get("CHAOS_KILLS", 20))
EVENTS = int(os.environ.get("CHAOS_EVENTS", 1000))
SEED = int(os.environ.get("CHAOS_SEED", int(time.time())))
PYTHON = os.environ.get("WEBHOOKS_PYTHON", os.path.join(ROOT, ".venv-webhooks/bin/python"))


class Receiver:
    def __init__(self, tmp, name):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.proc = subprocess.Popen([PYTHON, os.path.join(ROOT, "Tests/NudgeTestSupport/webhook_receiver.py"), "--dir", self.dir, "--port", "0"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, f"{name}.log"), "w"), text=True)
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline().split()[1])}/hook"

    def secret(self, secret):
        with open(os.path.join(self.dir, "secrets.json"), "w") as f:
            json.dump([secret], f)

    def deliveries(self):
        try:
            with open(os.path.join(self.dir, "log.jsonl")) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)


def main():
    binary = sys.argv[1]
    rng = random.Random(SEED)
    with Workspace("webhooks") as ws:
        log(f"webhooks run in {ws.tmp} (seed {SEED}): {EVENTS} events, 2 organizations, {KILLS} kills of the delivering worker")
        return run(binary, rng, ws, ws.tmp)


def run(binary, rng, ws, tmp):
    cluster = ws.track(Cluster(tmp), Cluster.stop)
    sink = ws.track(Sink(tmp), Sink.close)
    env = base_env(cluster, sink, {"NUDGE_WEBHOOK_ALLOW_PRIVATE": "1"})
    cli = {**env, "NUDGE_DATA_DIR": os.path.join(tmp, "data-cli")}
    nudge(binary, cli, "migrate")
    # --dev: the receivers are plain http on loopback.
    api = ws.track(Server(binary, tmp, "api", "api", env, ["--dev"]), Server.stop)
    orgs = []
    for o in range(2):
        token = nudge(binary, cli, "org", "create", f"Hooks {o}")["admin_token"]
        receiver = ws.track(Receiver(tmp, f"receiver{o}"), Receiver.close)
        created = must(call(api.base, token, "POST", "/v1/webhooks/", {"url": receiver.url}), 201)
        receiver.secret(created["secret"])
        orgs.append((token, receiver))

    worker = ws.track(Server(binary, tmp, "worker", "worker", env, ["--dev"]), Server.stop)
    posted = [0]

    def post_events():
        for i in range(EVENTS):
            token = orgs[i % 2][0]
            must(call(api.base, token, "POST", "/v1/suppressions/", {"email": f"e{i}@chaos.test"}), 201)
            posted[0] += 1
            time.sleep(0.01)

    poster = threading.Thread(target=post_events)
    poster.start()
    started = time.time()
    received_at_kill = []
    for k in range(KILLS):
        time.sleep(rng.uniform(0.2, 1.0))
        worker.kill()
        received_at_kill.append(sum(len(r.deliveries()) for _, r in orgs))
        worker.start(wait=False)
    poster.join()
    worker.wait_ready()
    log(f"{KILLS} kills in {time.time() - started:.0f} s, {posted[0]} events posted; waiting for every delivery")

    feeds = []
    for token, _ in orgs:
        ids, after = [], None
        while True:
            page = must(call(api.base, token, "GET", "/v1/events/?type=suppression.created&limit=200" + (f"&after={after}" if after else "")), 200)
            ids += [e["id"] for e in page["data"]]
            after = page.get("next_cursor")
            if not page["data"] or not after:
                break
        feeds.append(ids)
    done = wait_for(lambda: all(set(f) <= {d["id"] for d in r.deliveries()} for f, (_, r) in zip(feeds, orgs)), timeout=180, interval=0.5)
    time.sleep(1)
    report = {"events": sum(len(f) for f in feeds), "kills": KILLS, "seed": SEED, "seconds": round(time.time() - started)}
    ok = done
    lost = duplicates = unverified = foreign = out_of_order = 0
    for feed, (_, receiver) in zip(feeds, orgs):
        got = [d for d in receiver.deliveries() if d["type"] == "suppression.created"]
        ids = [d["id"] for d in got]
        counts = collections.Counter(ids)
        lost += len(set(feed) - set(counts))
        duplicates += sum(n - 1 for n in counts.values() if n > 1)
        unverified += sum(1 for d in got if d["verified"] != [0])
        foreign += len(set(counts) - set(feed))
        first = list(dict.fromkeys(ids))
        out_of_order += sum(1 for a, b in zip(first, [i for i in feed if i in counts]) if a != b)
    report.update({"lost": lost, "duplicates": duplicates, "unverified": unverified, "foreign": foreign,
                   "out_of_order": out_of_order, "kills_while_delivering": sum(1 for a, b in zip(received_at_kill, received_at_kill[1:]) if b > a)})
    if duplicates and os.environ.get("CHAOS_DEBUG") == "1":
        dup = next(i for _, r in orgs for i, n in collections.Counter(d["id"] for d in r.deliveries()).items() if n > 1)
        log(cluster.psql(f"SELECT d.id, d.state, d.attempts, a.attempted_at, a.status_code, a.error FROM webhook_deliveries d "
                         f"LEFT JOIN webhook_attempts a ON a.delivery_id = d.id WHERE d.event_id = '{dup}'"))
    print(json.dumps(report), flush=True)
    log(f"lost {lost} (target 0), unverified {unverified}, foreign {foreign}, out of order {out_of_order} (targets 0); "
        f"duplicates {duplicates} (same webhook-id, after a kill)")
    return 0 if ok and lost == 0 and unverified == 0 and foreign == 0 and out_of_order == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
