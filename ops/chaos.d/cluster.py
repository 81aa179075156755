"""ops/cluster: a local pg_auto_failover formation (monitor, primary, synchronous secondary) and
three `nudge serve --role all` nodes on it, with an organization and its admin token, until Ctrl-C.
Prints the nodes' addresses, the multi-host NUDGE_DATABASE_URL and how to kill the primary.

Usage: cluster.py NUDGE_BINARY   (environment: CLUSTER_NODES (3))"""
import os
import signal
import sys
import time

from formation import Formation
from harness import Server, Sink, Workspace, base_env, log, nudge


def main():
    binary = sys.argv[1]
    count = int(os.environ.get("CLUSTER_NODES", 3))
    with Workspace("cluster") as ws:
        formation = ws.track(Formation(ws.tmp), Formation.stop)
        formation.start()
        sink = ws.track(Sink(ws.tmp), Sink.close)
        env = {**base_env(formation, sink), "NUDGE_DATABASE_URL": formation.url}
        cli = {**env, "NUDGE_DATA_DIR": os.path.join(ws.tmp, "data-cli")}
        nudge(binary, cli, "migrate")
        nodes = [ws.track(Server(binary, ws.tmp, f"node{i}", "all", env), Server.stop) for i in range(count)]
        org = nudge(binary, cli, "org", "create", "Cluster")
        log(f"NUDGE_DATABASE_URL={formation.url}")
        for n in nodes:
            log(f"{n.name}: {n.base} (log {ws.tmp}/{n.name}.log)")
        log(f"admin token of {org['org_id']}: {org['admin_token']}")
        log(f"SMTP sink: {sink.dir}; formation: {formation.dir}")
        log(f"kill the primary node: kill -9 -- -$(pgrep -o -f 'pg_autoctl run --pgdata {formation.dir}/<node>'); Ctrl-C stops everything")
        stop = []
        signal.signal(signal.SIGINT, lambda *_: stop.append(1))
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        while not stop:
            time.sleep(1)
            states = formation.states()
            if states != getattr(main, "last", None):
                log(f"formation: {states}")
                main.last = states
    return 0


if __name__ == "__main__":
    sys.exit(main())
