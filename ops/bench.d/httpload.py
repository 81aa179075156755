#!/usr/bin/env python3
"""HTTP/1.1 keep-alive load for ops/bench, standard library only.

  httpload.py open   --rate R --duration S ...   open loop: request i is *scheduled* at t0 + i/R and
                                                 its latency counts from that moment (no coordinated
                                                 omission: a slow answer does not delay the next
                                                 arrival; a new connection is opened instead, up to
                                                 --max-connections, then it waits for a free one)
  httpload.py closed --concurrency C ...         closed loop: C connections, each sends its next
                                                 request when the previous answer arrived

Kinds of request: `enroll` (POST /v1/sequences/enrollments/ with a distinct recipient per request)
and `inbound` (POST the raw replies of --replies FILE, one per request, to the inbound endpoint).
Prints one JSON line: requests, ok, statuses, seconds, rate, p50_ms, p99_ms, max_ms (and for
inbound, how many answers were human_reply with at least one enrollment stopped).
"""
import argparse
import asyncio
import json
import sys
import time


class Conn(asyncio.Protocol):
    def __init__(self):
        self.buf = bytearray()
        self.fut = None
        self.transport = None
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buf += data
        self._parse()

    def connection_lost(self, exc):
        self.closed = True
        if self.fut is not None and not self.fut.done():
            self.fut.set_exception(ConnectionError("connection closed"))

    def _parse(self):
        if self.fut is None:
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).decode("latin-1")
        lines = head.split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        chunked = False
        for line in lines[1:]:
            k, _, v = line.partition(":")
            k = k.strip().lower()
            if k == "content-length":
                length = int(v)
            elif k == "transfer-encoding" and "chunked" in v.lower():
                chunked = True
        start = end + 4
        if chunked:
            body = bytearray()
            pos = start
            while True:
                nl = self.buf.find(b"\r\n", pos)
                if nl < 0:
                    return
                size = int(bytes(self.buf[pos:nl]).split(b";")[0], 16)
                if len(self.buf) < nl + 2 + size + 2:
                    return
                body += self.buf[nl + 2:nl + 2 + size]
                pos = nl + 2 + size + 2
                if size == 0:
                    break
            total = pos
            body = bytes(body)
        else:
            total = start + length
            if len(self.buf) < total:
                return
            body = bytes(self.buf[start:total])
        del self.buf[:total]
        fut, self.fut = self.fut, None
        fut.set_result((status, body))

    async def request(self, data):
        self.fut = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.fut


def http_request(host, port, path, token, ctype, body):
    return (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def make_requests(a):
    """A function i -> request bytes, and how many there are (None: unbounded)."""
    if a.kind == "enroll":
        path = "/v1/sequences/enrollments/"

        def req(i):
            body = json.dumps({"inbox_id": a.inbox, "sequence_id": a.sequence,
                               "recipient": {"email": f"{a.prefix}{i}@bench.test"}}).encode()
            return http_request(a.host, a.port, path, a.token, "application/json", body)
        return req, None
    path = f"/v1/inboxes/{a.inbox}/messages/inbound/"
    replies = []
    with open(a.replies) as f:
        for n, line in enumerate(f):
            rfc, to, sender, subject = line.rstrip("\n").split("\t")
            raw = (f"From: <{to}>\r\nTo: <{sender}>\r\nSubject: Re: {subject}\r\n"
                   f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n"
                   f"Message-ID: <reply-{a.prefix}{n}@bench.test>\r\nIn-Reply-To: <{rfc}>\r\nReferences: <{rfc}>\r\n"
                   "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                   "Thanks for following up. Yes, we reviewed the proposal and would like to talk next week.\r\n"
                   "Could you send two times that work on Tuesday?\r\n\r\n"
                   f"On Mon, someone <{sender}> wrote:\r\n> {subject}\r\n").encode()
            replies.append(http_request(a.host, a.port, path, a.token, "message/rfc822", raw))
    return (lambda i: replies[i]), len(replies)


class Stats:
    def __init__(self, kind):
        self.kind = kind
        self.lat = []
        self.statuses = {}
        self.errors = 0
        self.stopped = 0

    def add(self, status, body, latency):
        self.lat.append(latency)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if self.kind == "inbound" and status == 202:
            try:
                r = json.loads(body)
                if r.get("classification") == "human_reply" and r.get("enrollments"):
                    self.stopped += 1
            except ValueError:
                pass

    def report(self, seconds, ok_status):
        lat = sorted(self.lat)

        def pct(p):
            return round(lat[min(len(lat) - 1, int(len(lat) * p / 100))] * 1000, 2) if lat else None
        out = {"requests": len(lat) + self.errors, "ok": sum(v for k, v in self.statuses.items() if k in ok_status),
               "statuses": {str(k): v for k, v in sorted(self.statuses.items())}, "errors": self.errors,
               "seconds": round(seconds, 3), "rate": round(len(lat) / seconds, 1) if seconds else None,
               "p50_ms": pct(50), "p99_ms": pct(99), "max_ms": round(lat[-1] * 1000, 2) if lat else None}
        if self.kind == "inbound":
            out["replies_that_stopped_an_enrollment"] = self.stopped
        return out


async def connect(a):
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(Conn, a.host, a.port)
    return proto


async def open_loop(a, req, stats):
    loop = asyncio.get_running_loop()
    idle = [await connect(a) for _ in range(a.connections)]
    total = int(a.rate * a.duration)
    pending = set()

    opened = [len(idle)]
    freed = asyncio.Condition()

    async def take():
        # An idle connection, else a new one up to --max-connections, else wait for one: the
        # request still counts its latency from its scheduled time.
        while True:
            if idle:
                return idle.pop()
            if opened[0] < a.max_connections:
                opened[0] += 1
                return await connect(a)
            async with freed:
                await freed.wait()

    async def give(c):
        if c.closed:
            opened[0] -= 1
        else:
            idle.append(c)
        async with freed:
            freed.notify()

    async def one(i, scheduled):
        c = await take()
        try:
            status, body = await c.request(req(i))
            stats.add(status, body, loop.time() - scheduled)
        except (ConnectionError, OSError):
            stats.errors += 1
        await give(c)

    t0 = loop.time()
    for i in range(total):
        scheduled = t0 + i / a.rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        t = asyncio.ensure_future(one(i, scheduled))
        pending.add(t)
        t.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending)
    return loop.time() - t0


async def closed_loop(a, req, count, stats):
    loop = asyncio.get_running_loop()
    conns = [await connect(a) for _ in range(a.concurrency)]
    next_i = 0

    async def worker(c):
        nonlocal next_i
        while next_i < count:
            i = next_i
            next_i += 1
            t = loop.time()
            try:
                status, body = await c.request(req(i))
                stats.add(status, body, loop.time() - t)
            except (ConnectionError, OSError):
                stats.errors += 1
                c = await connect(a)

    t0 = loop.time()
    await asyncio.gather(*(worker(c) for c in conns))
    return loop.time() - t0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["open", "closed"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--kind", choices=["enroll", "inbound"], required=True)
    p.add_argument("--inbox", required=True)
    p.add_argument("--sequence")
    p.add_argument("--prefix", default="o")
    p.add_argument("--replies")
    p.add_argument("--rate", type=float, default=1000)
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--connections", type=int, default=64, help="open loop: connections opened up front")
    p.add_argument("--max-connections", type=int, default=256, help="open loop: at most this many connections")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--count", type=int, default=0)
    a = p.parse_args()
    req, count = make_requests(a)
    stats = Stats(a.kind)
    if a.mode == "open":
        seconds = asyncio.run(open_loop(a, req, stats))
        out = stats.report(seconds, {200, 201, 202})
        out["target_rate"] = a.rate
    else:
        n = min(count, a.count) if count is not None and a.count else (count or a.count)
        seconds = asyncio.run(closed_loop(a, req, n, stats))
        out = stats.report(seconds, {200, 201, 202})
        out["concurrency"] = a.concurrency
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
