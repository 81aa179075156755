"""ops/chaos crash: 2,000 email steps across 20 organizations, due over a few minutes, sent by two
worker processes that are killed with SIGKILL at random moments (and restarted at once) 100 times,
while PostgreSQL is restarted in fast mode twice. Then, counted at the SMTP sink by Message-ID:
lost (a step never accepted by the sink) must be 0; duplicates are reported with their count.

Usage: crash.py NUDGE_BINARY   (environment: CHAOS_KILLS, CHAOS_ORGS, CHAOS_STEPS, CHAOS_PG_RESTARTS,
CHAOS_SPREAD_SECONDS, CHAOS_SEED, CHAOS_KEEP=1 to keep the temp dir)"""
import collections
import json
import os
import random
import sys
import time

from harness import Cluster, Server, Sink, Workspace, base_env, call, log, must, nudge, wait_for

KILLS = int(os.environ.get("CHAOS_KILLS", 100))
ORGS = int(os.environ.get("CHAOS_ORGS", 20))
STEPS = int(os.environ.get("CHAOS_STEPS", 2000))
PG_RESTARTS = int(os.environ.get("CHAOS_PG_RESTARTS", 2))
SPREAD = float(os.environ.get("CHAOS_SPREAD_SECONDS", 150))
SEED = int(os.environ.get("CHAOS_SEED", int(time.time())))


def main():
    binary = sys.argv[1]
    rng = random.Random(SEED)
    with Workspace("crash") as ws:
        tmp = ws.tmp
        log(f"crash run in {tmp} (seed {SEED}): {STEPS} steps, {ORGS} organizations, 2 workers, {KILLS} kills, {PG_RESTARTS} PostgreSQL restarts")
        return run(binary, rng, ws, tmp)


def run(binary, rng, ws, tmp):
    cluster = ws.track(Cluster(tmp), Cluster.stop)
    sink = ws.track(Sink(tmp), Sink.close)
    env = base_env(cluster, sink, {"NUDGE_SMTP_LANES": "4"})
    nudge(binary, {**env, "NUDGE_DATA_DIR": os.path.join(tmp, "data-cli")}, "migrate")
    api = ws.track(Server(binary, tmp, "api", "api", env), Server.stop)

    # 20 organizations, each with an inbox and enrollments of two steps: the first due within
    # 80% of the spread, the second a little later, so sending goes on for the whole run.
    per_org = STEPS // ORGS // 2
    enrollments = 0
    for o in range(ORGS):
        org = nudge(binary, {**env, "NUDGE_DATA_DIR": os.path.join(tmp, "data-cli")}, "org", "create", f"Chaos {o}")
        token = org["admin_token"]
        inbox = must(call(api.base, token, "POST", "/v1/inboxes/", {"address": f"sales@org{o}.chaos.test", "timezone": "UTC"}), 201)["id"]
        for i in range(per_org):
            first = rng.uniform(5, SPREAD * 0.8) / 60
            second = rng.uniform(0.05, SPREAD * 0.2) / 60
            must(call(api.base, token, "POST", "/v1/sequences/enrollments/", {
                "inbox_id": inbox, "recipient": {"email": f"c{i}@client{o}.chaos.test"},
                "emails": [{"delay_minutes": first, "subject": "Following up", "body": f"Step one for {i}."},
                           {"delay_minutes": second, "subject": "Checking in", "body": f"Step two for {i}."}]}), 201)
            enrollments += 1
    expected = enrollments * 2
    log(f"{enrollments} enrollments, {expected} steps, created; starting the workers")

    workers = [ws.track(Server(binary, tmp, f"worker{w}", "worker", env), Server.stop) for w in range(2)]
    restart_at = set(int(KILLS * (k + 1) / (PG_RESTARTS + 1)) for k in range(PG_RESTARTS))
    started = time.time()
    kills = restarts = 0
    sent_at_kill = []
    while kills < KILLS:
        time.sleep(rng.uniform(0.2, 2.2))
        w = rng.choice(workers)
        w.kill()
        kills += 1
        sent_at_kill.append(len(sink.message_ids()))
        if kills in restart_at:
            log(f"kill {kills}: restarting PostgreSQL (fast)")
            cluster.restart()
            restarts += 1
        w.start(wait=False)
        if kills % 10 == 0:
            log(f"{kills} kills, {sent_at_kill[-1]} messages at the sink after {time.time() - started:.0f} s")
    for w in workers:
        w.wait_ready()
    log(f"{kills} kills done after {time.time() - started:.0f} s; waiting for every enrollment to complete")

    done = wait_for(lambda: int(cluster.psql("SELECT count(*) FROM enrollments WHERE state = 'completed'")) == enrollments,
                    timeout=SPREAD + 600, interval=1)
    time.sleep(3)  # anything still in flight lands
    for s in [api] + workers:
        s.stop()
    ids = sink.message_ids()
    counts = collections.Counter(ids)
    recorded = set(i.strip("<>") for i in cluster.psql("SELECT rfc822_message_id FROM messages WHERE direction = 'outbound'").split())
    lost = len(recorded - set(counts)) + max(0, expected - len(recorded))
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    unknown = len(set(counts) - recorded)
    states = cluster.psql("SELECT state || ' ' || count(*) FROM enrollments GROUP BY state ORDER BY 1").replace("\n", ", ")
    during = sum(1 for a, b in zip(sent_at_kill, sent_at_kill[1:]) if b > a)
    report = {"steps": expected, "organizations": ORGS, "kills": kills, "pg_restarts": restarts,
              "kills_while_sending": during, "accepted_at_sink": len(ids), "distinct_message_ids": len(counts),
              "recorded_as_sent": len(recorded), "lost": lost, "duplicates": duplicates, "unknown_at_sink": unknown,
              "enrollments": states, "all_completed": done, "seconds": round(time.time() - started), "seed": SEED}
    print(json.dumps(report), flush=True)
    log(f"lost {lost} (target 0), duplicates {duplicates} (target 0), {kills} kills ({during} while sending), "
        f"{restarts} PostgreSQL restarts; enrollments: {states}")
    return 0 if lost == 0 and unknown == 0 and done else 1


if __name__ == "__main__":
    sys.exit(main())
