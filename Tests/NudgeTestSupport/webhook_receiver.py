"""A webhook receiver for the tests: verifies every delivery with the standardwebhooks package
(an independent implementation of the signature scheme) and logs it.

Usage: webhook_receiver.py --dir DIR --port N (0: any). Prints "PORT <n>" once listening; exits when
stdin closes (the test process ended). Read at each request, from DIR:
  secrets.json  a JSON list of "whsec_..." secrets; each delivery is verified with each of them
                separately, and the indexes that verify are logged ("verified")
  MODE          "ok" (default: 200); "<status>" (500, 410, 404...); "429 <seconds>" (with Retry-After
                in seconds) or "429 date <seconds>" (as an HTTP date that far ahead); "302 <url>"
                (with Location); "slow <s>"; "fail <webhook-id>" (500 for that event, 200 for others)
Appends one JSON line per request to DIR/log.jsonl: id, timestamp, type, verified, signatures
(count), answered (status), body.
"""
import argparse, email.utils, json, os, signal, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

# The test process starts us with its signals blocked (inherited mask): SIGTERM must end us.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})

p = argparse.ArgumentParser()
p.add_argument("--dir", required=True)
p.add_argument("--port", type=int, default=0)
args = p.parse_args()
lock = threading.Lock()


def read(name, default):
    try:
        with open(os.path.join(args.dir, name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return default


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        verified = []
        for i, secret in enumerate(json.loads(read("secrets.json", "[]"))):
            try:
                Webhook(secret).verify(body, headers)
                verified.append(i)
            except Exception:
                pass
        mode = read("MODE", "ok").split()
        status, extra = 200, {}
        if mode[0] == "429" and mode[1] == "date":
            status, extra = 429, {"Retry-After": email.utils.formatdate(time.time() + float(mode[2]), usegmt=True)}
        elif mode[0] == "429":
            status, extra = 429, {"Retry-After": mode[1]}
        elif mode[0] == "302":
            status, extra = 302, {"Location": mode[1]}
        elif mode[0].isdigit():
            status = int(mode[0])
        elif mode[0] == "fail" and headers.get("webhook-id") == mode[1]:
            status = 500
        elif mode[0] == "slow":
            time.sleep(float(mode[1]))
        try:
            parsed = json.loads(body)
        except Exception:
            parsed = None
        entry = {
            "id": headers.get("webhook-id"), "timestamp": headers.get("webhook-timestamp"),
            "type": (parsed or {}).get("type"), "verified": verified,
            "signatures": len(headers.get("webhook-signature", "").split()), "answered": status,
            "body": body.decode("utf-8", "replace"),
        }
        with lock:
            with open(os.path.join(args.dir, "log.jsonl"), "a") as f:
                f.write(json.dumps(entry) + "\n")
        answer = b'{"received": true}' if status == 200 else b"nope " * 400
        self.send_response(status)
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *a):
        pass


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
print("PORT %d" % server.server_address[1], flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()  # EOF: the test closed it (stop) or ended
server.shutdown()
server.server_close()
