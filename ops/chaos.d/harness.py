"""Shared pieces of the ops/chaos runs: a durable PostgreSQL cluster of their own, the scriptable
SMTP sink of the tests (Tests/NudgeTestSupport/smtp_server.py: keeps every accepted message as a
file, answers 421 while a DOWN file exists), `nudge serve` processes, and the API calls the runs make.
Standard library only (Debian's python3)."""
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "chaos-secret-0123456789abcdefghijklmnopqrstuvwxyz"


def log(msg):
    print(f"[chaos] {msg}", flush=True)


class Workspace:
    """A run's temp folder (/tmp/nudge-chaos-NAME.PID) and what was started in it: on leaving, each
    is stopped (last started first) and the folder removed, unless CHAOS_KEEP=1."""

    def __init__(self, name):
        self.tmp = f"/tmp/nudge-chaos-{name}.{os.getpid()}"
        os.makedirs(self.tmp)
        os.chmod(self.tmp, 0o755)  # the postgres user walks into it
        self._stops = []

    def track(self, thing, stop):
        self._stops.append(lambda: stop(thing))
        return thing

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for stop in reversed(self._stops):
            try:
                stop()
            except Exception as e:  # clean up the rest regardless
                log(f"clean-up: {e}")
        if os.environ.get("CHAOS_KEEP") == "1":
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pg_bindir():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    return dirs[-1]


class Cluster:
    """A durable cluster (fsync, synchronous_commit, full_page_writes on) with the product's roles."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "pg")
        self.port = free_port()
        self.bin = pg_bindir()
        os.makedirs(self.dir)
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres([f"{self.bin}/initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8"])
        self.start()
        self.psql("CREATE ROLE nudge LOGIN; CREATE ROLE nudge_api NOLOGIN; CREATE ROLE nudge_worker NOLOGIN BYPASSRLS;"
                  " GRANT nudge_api, nudge_worker TO nudge; GRANT pg_read_all_stats TO nudge_api, nudge_worker;", db="postgres")
        self.psql("CREATE DATABASE nudge OWNER nudge", db="postgres")

    @property
    def data(self):
        return os.path.join(self.dir, "data")

    @property
    def url(self):
        return f"postgres://nudge@127.0.0.1:{self.port}/nudge?sslmode=disable"

    def _as_postgres(self, argv):
        subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, text=True)

    def start(self):
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._as_postgres([f"{self.bin}/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "-t", "60", "-o", opts, "start"])

    def stop(self, mode="fast"):
        subprocess.run(["runuser", "-u", "postgres", "--", f"{self.bin}/pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop"],
                       capture_output=True, text=True)

    def restart(self):
        """Fast mode: every session is ended, open transactions roll back."""
        self.stop("fast")
        self.start()

    def psql(self, sql, db="nudge"):
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db, "-qtAX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()


class Sink:
    """The tests' aiosmtpd server: one .eml file per accepted message."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "sink")
        os.makedirs(self.dir)
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "Tests/NudgeTestSupport/smtp_server.py"), "--dir", self.dir, "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "sink.log"), "w"), text=True)
        line = self.proc.stdout.readline()
        self.port = int(line.split()[1])
        self.url = f"smtp://127.0.0.1:{self.port}"

    def down(self, is_down):
        path = os.path.join(self.dir, "DOWN")
        if is_down:
            open(path, "w").close()
        elif os.path.exists(path):
            os.remove(path)

    def message_ids(self):
        """Message-ID (without its angle brackets) of every accepted message; duplicates kept."""
        ids = []
        for path in glob.glob(os.path.join(self.dir, "*.eml")):
            with open(path, "rb") as f:
                head = f.read(16384).split(b"\r\n\r\n", 1)[0]
            m = re.search(rb"^Message-ID:\s*<([^>]+)>", head, re.I | re.M)
            ids.append(m.group(1).decode() if m else f"(none in {os.path.basename(path)})")
        return ids

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)


class Server:
    """One `nudge serve` process; `kill()` is kill -9, `start()` brings it back on the same port."""

    def __init__(self, binary, tmp, name, role, env, args=()):
        self.binary, self.name, self.role, self.args = binary, name, role, list(args)
        self.port = free_port()
        # Its organizations create inboxes on made-up domains: allow any (an operator's setting).
        self.env = {**os.environ, "NUDGE_ALLOW_ANY_SENDER_DOMAIN": "1", **env, "NUDGE_DATA_DIR": os.path.join(tmp, f"data-{name}")}
        self.logfile = open(os.path.join(tmp, f"{name}.log"), "a")
        self.proc = None
        self.starts = 0
        self.start()

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait=True):
        self.proc = subprocess.Popen([self.binary, "serve", "--role", self.role, "--port", str(self.port), *self.args],
                                     env=self.env, stdout=self.logfile, stderr=subprocess.STDOUT)
        self.starts += 1
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see its log")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not healthy after {timeout} s")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def base_env(cluster, sink, extra=None):
    env = {"NUDGE_DATABASE_URL": cluster.url, "NUDGE_SMTP_URL": sink.url, "NUDGE_SECRET": SECRET,
           "NUDGE_RATE_LIMIT": "off", "NUDGE_ORG_DAILY_QUOTA": "off", "NUDGE_LOG_LEVEL": "info",
           "NUDGE_PUBLIC_URL": "https://nudge.chaos.test"}
    env.update(extra or {})
    return env


def nudge(binary, env, *args):
    out = subprocess.run([binary, *args], env={**os.environ, **env}, check=True, capture_output=True, text=True).stdout
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def call(base, token, method, path, body=None, timeout=30, raw=None, content_type="application/json"):
    """(status, parsed JSON or None, seconds taken)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", content_type)
    started = time.time()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        text = e.read()
        status = e.code
    took = time.time() - started
    try:
        return status, json.loads(text or b"null"), took
    except ValueError:
        return status, None, took


def must(result, *ok):
    status, body, _ = result
    if status not in ok:
        raise RuntimeError(f"unexpected answer {status}: {body}")
    return body


def wait_for(predicate, timeout, interval=0.5):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def metric(base, name):
    """Sum of a Prometheus series over its labels (name may include a label filter, e.g. 'x{a="b"}')."""
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        text = r.read().decode()
    want, _, labels = name.partition("{")
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(want):
            continue
        series, _, value = line.rpartition(" ")
        if series.split("{")[0] != want:
            continue
        if labels and not all(part in series for part in labels.rstrip("}").split(",")):
            continue
        total += float(value)
    return total
