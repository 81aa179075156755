"""A local pg_auto_failover formation for ops/cluster and ops/chaos failover: a monitor and two
PostgreSQL nodes on loopback ports, run by the postgres user, each `pg_autoctl run` in a process
group of its own so that a node can be killed whole (keeper and server), as a machine dies.
Standard library only; needs Debian's postgresql-15-auto-failover (ops/lib.sh installs it)."""
import json
import os
import shutil
import signal
import subprocess
import time

from harness import free_port, log, pg_bindir


class Formation:
    """Monitor + node1 + node2, synchronous replication (pg_auto_failover's default with one
    standby), fast failure detection (test-only monitor settings; see docs/reliability.md)."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "formation")
        os.makedirs(self.dir)
        shutil.chown(self.dir, "postgres", "postgres")
        self.bin = pg_bindir()
        self.monitor_port = free_port()
        self.nodes = {"node1": free_port(), "node2": free_port()}
        self.procs = {}
        self.env = {
            **os.environ,
            "PATH": f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "XDG_CONFIG_HOME": os.path.join(self.dir, "config"),
            "XDG_DATA_HOME": os.path.join(self.dir, "data"),
            "XDG_RUNTIME_DIR": os.path.join(self.dir, "run"),
        }

    def pgdata(self, name):
        return os.path.join(self.dir, name)

    @property
    def monitor_uri(self):
        return f"postgres://autoctl_node@127.0.0.1:{self.monitor_port}/pg_auto_failover?sslmode=disable"

    def _autoctl(self, *args, check=True):
        out = subprocess.run(["runuser", "-u", "postgres", "--", "env", *[f"{k}={v}" for k, v in self.env.items() if k != "HOME"], "pg_autoctl", *args],
                             capture_output=True, text=True, cwd=self.dir)
        if check and out.returncode != 0:
            raise RuntimeError(f"pg_autoctl {' '.join(args)}: {out.stderr[-2000:]}")
        return out.stdout

    def _run(self, name):
        log_file = open(os.path.join(self.dir, f"{name}.log"), "a")
        self.procs[name] = subprocess.Popen(
            ["runuser", "-u", "postgres", "--", "env", *[f"{k}={v}" for k, v in self.env.items() if k != "HOME"], "pg_autoctl", "run", "--pgdata", self.pgdata(name)],
            stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.dir)

    def _small(self, name):
        # pg_auto_failover sizes a node for a dedicated machine (25% of RAM, 8 GB of WAL).
        with open(os.path.join(self.pgdata(name), "postgresql.auto.conf"), "a") as f:
            f.write("shared_buffers = '128MB'\nwal_keep_size = '256MB'\nmax_connections = 200\n")

    def start(self):
        t0 = time.time()
        # pg_autoctl talks to its nodes over the default socket directory.
        os.makedirs("/var/run/postgresql", exist_ok=True)
        shutil.chown("/var/run/postgresql", "postgres", "postgres")
        self._autoctl("create", "monitor", "--pgdata", self.pgdata("monitor"), "--pgport", str(self.monitor_port), "--hostname", "127.0.0.1",
                      "--auth", "trust", "--no-ssl")
        self._autoctl("config", "set", "--pgdata", self.pgdata("monitor"), "postgresql.listen_addresses", "127.0.0.1")
        self._small("monitor")
        self._run("monitor")
        self._wait(lambda: self._monitor_up(), 60, "the monitor")
        # Test-only detection settings: a failover in seconds, not a minute (never in production).
        for setting in ["health_check_period = 1000", "health_check_timeout = 1000", "health_check_max_retries = 1",
                        "health_check_retry_delay = 500", "node_considered_unhealthy_timeout = 3000", "primary_demote_timeout = 3000"]:
            self.monitor_sql(f"ALTER SYSTEM SET pgautofailover.{setting}")  # one per statement: not in a transaction block
        self.monitor_sql("SELECT pg_reload_conf()")
        for i, (name, port) in enumerate(self.nodes.items()):
            self._autoctl("create", "postgres", "--pgdata", self.pgdata(name), "--pgport", str(port), "--hostname", "127.0.0.1",
                          "--listen", "127.0.0.1", "--name", name, "--auth", "trust", "--no-ssl", "--monitor", self.monitor_uri)
            self._small(name)
            self._run(name)
            want = "single" if i == 0 else "secondary"
            self._wait(lambda: want in self.states().values(), 120, f"{name} to reach {want}")
        self._wait(lambda: sorted(self.states().values()) == ["primary", "secondary"], 120, "a primary and a secondary")
        primary = self.primary()
        self.sql(primary, "CREATE ROLE nudge LOGIN; CREATE ROLE nudge_api NOLOGIN; CREATE ROLE nudge_worker NOLOGIN BYPASSRLS;"
                          " GRANT nudge_api, nudge_worker TO nudge; GRANT pg_read_all_stats TO nudge_api, nudge_worker;", db="postgres")
        self.sql(primary, "CREATE DATABASE nudge OWNER nudge", db="postgres")
        log(f"formation up in {time.time() - t0:.0f} s: monitor {self.monitor_port}, {self.nodes}, primary {primary};"
            f" synchronous_standby_names = {self.sql(primary, 'SHOW synchronous_standby_names', db='postgres')!r}")

    def _monitor_up(self):
        try:
            self.monitor_sql("SELECT 1")
            return True
        except subprocess.CalledProcessError:
            return False

    def monitor_sql(self, sql):
        return self.sql(self.monitor_port, sql, db="pg_auto_failover")

    def sql(self, port_or_name, sql, db="nudge"):
        port = self.nodes.get(port_or_name, port_or_name)
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db, "-qtAX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                             check=True, capture_output=True, text=True, timeout=30)
        return out.stdout.strip()

    def states(self):
        """Node name -> the state the monitor last heard it report."""
        try:
            rows = self.monitor_sql("SELECT nodename || '=' || reportedstate FROM pgautofailover.node")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            return {}
        return dict(line.split("=", 1) for line in rows.splitlines() if "=" in line)

    def primary(self):
        for name, state in self.states().items():
            if state in ("primary", "single", "wait_primary"):
                return name
        return None

    @property
    def url(self):
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.nodes.values())
        return f"postgres://nudge@{hosts}/nudge?sslmode=disable&target_session_attrs=read-write"

    def kill(self, name):
        """kill -9 of the node's whole process group (keeper and PostgreSQL), as a machine dies."""
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        # The postmaster forked by the keeper is in the same group; make sure nothing is left.
        subprocess.run(["pkill", "-9", "-f", f"-D {self.pgdata(name)}"], capture_output=True)
        subprocess.run(["pkill", "-9", "-f", f"{self.pgdata(name)}"], capture_output=True)

    def restart(self, name):
        pid = os.path.join(self.pgdata(name), "postmaster.pid")
        if os.path.exists(pid):
            os.remove(pid)
        self._run(name)

    def stop(self):
        for name, proc in reversed(list(self.procs.items())):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        subprocess.run(["pkill", "-9", "-f", self.dir], capture_output=True)

    @staticmethod
    def _wait(predicate, timeout, what):
        end = time.time() + timeout
        while time.time() < end:
            if predicate():
                return
            time.sleep(0.25)
        raise RuntimeError(f"timed out waiting for {what}")
