"""ops/chaos outage: a running `nudge serve` through its dependencies failing, with real processes.
1. SMTP server down for 2 minutes (it answers 421 to every message) while 300 steps fall due: nothing
   lost, no step skipped, nothing sent twice, and the backoff is visible in /metrics.
2. PostgreSQL stopped for 30 s while steps are due and the API is called: every API answer is 503
   with the error envelope and comes quickly, /readyz fails, and API, readiness and sending recover
   without restarting nudge.
(The LLM endpoint going down is covered by the test suite: LLMTests, with a real HTTP server.)

Usage: outage.py NUDGE_BINARY   (environment: OUTAGE_SMTP_SECONDS (120), OUTAGE_PG_SECONDS (30),
OUTAGE_STEPS (300), CHAOS_KEEP=1)"""
import collections
import json
import os
import sys
import time

from harness import Cluster, Server, Sink, Workspace, base_env, call, log, metric, must, nudge, wait_for

SMTP_DOWN = float(os.environ.get("OUTAGE_SMTP_SECONDS", 120))
PG_DOWN = float(os.environ.get("OUTAGE_PG_SECONDS", 30))
STEPS = int(os.environ.get("OUTAGE_STEPS", 300))


def enroll(base, token, inbox, tag, n, first_due, spread):
    for i in range(n):
        delay = (first_due + spread * i / max(1, n - 1)) / 60
        must(call(base, token, "POST", "/v1/sequences/enrollments/", {
            "inbox_id": inbox, "recipient": {"email": f"{tag}{i}@client.outage.test"},
            "emails": [{"delay_minutes": delay, "subject": f"Following up ({tag})", "body": "Any news?"}]}), 201)


def sink_counts(sink, cluster, tag):
    ids = sink.message_ids()
    counts = collections.Counter(ids)
    recorded = set(i.strip("<>") for i in cluster.psql(
        f"SELECT m.rfc822_message_id FROM messages m WHERE m.direction = 'outbound' AND m.subject = 'Following up ({tag})'").split())
    mine = {i: counts[i] for i in recorded}
    return recorded, mine


def main():
    binary = sys.argv[1]
    with Workspace("outage") as ws:
        return run(binary, ws, ws.tmp)


def run(binary, ws, tmp):
    report = {}
    ok = True
    cluster = ws.track(Cluster(tmp), Cluster.stop)
    sink = ws.track(Sink(tmp), Sink.close)
    env = base_env(cluster, sink, {"NUDGE_SMTP_LANES": "2"})
    nudge(binary, {**env, "NUDGE_DATA_DIR": os.path.join(tmp, "data-cli")}, "migrate")
    org = nudge(binary, {**env, "NUDGE_DATA_DIR": os.path.join(tmp, "data-cli")}, "org", "create", "Outage")
    token = org["admin_token"]
    server = ws.track(Server(binary, tmp, "serve", "all", env), Server.stop)
    base = server.base
    inbox = must(call(base, token, "POST", "/v1/inboxes/", {"address": "sales@outage.test", "timezone": "UTC"}), 201)["id"]

    # --- 1. SMTP down for two minutes -----------------------------------------------------
    log(f"SMTP: {STEPS} steps due over the next minute; the SMTP server goes down for {SMTP_DOWN:.0f} s in 10 s")
    enroll(base, token, inbox, "smtp", STEPS, first_due=5, spread=60)
    time.sleep(10)
    sink.down(True)
    down_at = time.time()
    time.sleep(SMTP_DOWN)
    transient = metric(base, 'nudge_dispatch_steps_total{outcome="transient_failure"')
    backoffs = metric(base, "nudge_dispatch_retry_backoff_seconds_count")
    at_sink_when_back = len(sink.message_ids())
    sink.down(False)
    log(f"SMTP back after {time.time() - down_at:.0f} s: {transient:.0f} transient failures and {backoffs:.0f} backoffs in /metrics so far")
    done = wait_for(lambda: int(cluster.psql("SELECT count(*) FROM enrollments WHERE state <> 'completed'")) == 0, timeout=900, interval=2)
    recovered_after = time.time() - down_at - SMTP_DOWN
    recorded, mine = sink_counts(sink, cluster, "smtp")
    lost = STEPS - len([i for i, n in mine.items() if n > 0])
    dups = sum(n - 1 for n in mine.values() if n > 1)
    skipped = int(cluster.psql("SELECT count(*) FROM deliveries WHERE status <> 'sent'"))
    report["smtp"] = {"down_seconds": SMTP_DOWN, "steps": STEPS, "accepted_before_recovery": at_sink_when_back, "transient_failures": transient,
                      "backoffs_in_metrics": backoffs, "all_completed": done, "lost": lost, "duplicates": dups,
                      "deliveries_not_sent": skipped, "all_sent_within_s_of_recovery": round(recovered_after)}
    ok &= done and lost == 0 and dups == 0 and skipped == 0 and transient > 0 and backoffs > 0
    log(f"SMTP outage: {report['smtp']}")

    # --- 2. PostgreSQL down ----------------------------------------------------------------
    n = 50
    log(f"PostgreSQL: {n} steps due in 20-40 s; PostgreSQL stops for {PG_DOWN:.0f} s in 10 s")
    enroll(base, token, inbox, "pg", n, first_due=20, spread=20)
    time.sleep(10)
    cluster.stop("fast")
    stopped = time.time()
    answers = []
    while time.time() - stopped < PG_DOWN:
        answers.append(call(base, token, "GET", "/v1/contacts/", timeout=60))
        time.sleep(0.5)
    ready_down = call(base, None, "GET", "/readyz", timeout=30)
    statuses = collections.Counter(a[0] for a in answers)
    slowest = max(a[2] for a in answers)
    first = answers[0][2]
    envelope = all((a[1] or {}).get("error", {}).get("type") == "service_unavailable" for a in answers if a[0] == 503)
    cluster.start()
    restarted = time.time()
    back = wait_for(lambda: call(base, token, "GET", "/v1/contacts/", timeout=10)[0] == 200, timeout=60, interval=0.25)
    api_back_after = time.time() - restarted
    ready_up = call(base, None, "GET", "/readyz", timeout=10)[0]
    sent = wait_for(lambda: len([i for i, c in sink_counts(sink, cluster, "pg")[1].items() if c > 0]) >= n, timeout=600, interval=2)
    recorded, mine = sink_counts(sink, cluster, "pg")
    report["postgres"] = {"down_seconds": PG_DOWN, "api_requests_while_down": len(answers), "statuses": dict(statuses),
                          "first_answer_s": round(first, 2), "slowest_answer_s": round(slowest, 2), "error_envelope": envelope,
                          "readyz_while_down": ready_down[0], "api_recovered_s_after_restart": round(api_back_after, 2),
                          "readyz_after": ready_up, "steps": n, "lost": n - len([i for i, c in mine.items() if c > 0]),
                          "duplicates": sum(c - 1 for c in mine.values() if c > 1)}
    ok &= (set(statuses) == {503} and envelope and slowest < 10 and ready_down[0] == 503 and back and ready_up == 200
           and sent and report["postgres"]["lost"] == 0)
    log(f"PostgreSQL outage: {report['postgres']}")
    print(json.dumps(report), flush=True)
    log("outage: " + ("PASSED" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
