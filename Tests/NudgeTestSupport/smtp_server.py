#!/usr/bin/python3
"""Scriptable SMTP server for the NudgeSMTP tests (Debian python3-aiosmtpd, no TLS).

Usage: /usr/bin/python3 smtp_server.py --dir DIR [--port 0] [--auth user:pass]
                                        [--idle-timeout SECONDS] [--exit-on-stdin-eof]
                                        [--tls-cert CERT.pem --tls-key KEY.pem [--implicit-tls]]

  --port 0 picks a free port; the chosen port is printed as "PORT <n>" on stdout (flushed).
  --auth requires AUTH (PLAIN or LOGIN, allowed without TLS) with exactly these credentials;
         the password is everything after the first ':'.
  --idle-timeout closes connections idle that long without a word (like real MTAs; default 300).
  --tls-cert/--tls-key offer STARTTLS; with --implicit-tls, TLS starts at connect (smtps).
  --exit-on-stdin-eof exits when stdin closes, so a test that dies never leaks the server.

Files written to DIR:
  <n>.eml          each accepted message, exactly the bytes received after dot-unstuffing
                   (n = 1, 2, ... in acceptance order). Written via temp file + rename.
  <n>.json         its envelope, written before the .eml:
                   {"mail_from": ..., "rcpt_tos": [...], "connection": k, "tls": bool}
  connections.log  one line per accepted TCP connection ("<k> <peer>").

Failure conventions, chosen by the address local part:
  RCPT TO fail4xx+...@  -> 451 4.3.0     RCPT TO fail5xx+...@ -> 550 5.1.1
  RCPT TO drop+...@     -> connection aborted, no reply
  RCPT TO slow<N>+...@  -> waits N seconds, then accepts (for client timeouts)
  RCPT TO faildata+...@ -> accepted, but the message data gets 554 5.6.0
  RCPT TO fullbox+...@  -> accepted, but the message data gets 554 5.2.2 (mailbox full)
  MAIL FROM fail5xx+...@ -> 553 5.7.1 (sender rejected)
  A file named DOWN in DIR makes MAIL FROM answer 421 4.3.2 (server "down").

Scripted replies for every message (server-wide), read at each command:
  A file REPLY_<STAGE> in DIR holds the one-line reply that stage answers instead, for STAGE
  RCPT (RCPT TO), DATACMD (the DATA command, before 354) or DATA (after the message data),
  e.g. REPLY_DATA containing "500 internal error". Removing the file restores normal replies.
"""
import argparse
import asyncio
import json
import os
import re
import signal
import ssl
import sys
import threading

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def local_part(address):
    return address.rsplit("@", 1)[0].lower()


def write_atomically(path, data):
    temp = path + ".tmp"
    with open(temp, "wb") as f:
        f.write(data)
    os.rename(temp, path)


class Handler:
    def __init__(self, directory):
        self.directory = directory
        self.messages = 0

    def scripted(self, stage):
        try:
            with open(os.path.join(self.directory, "REPLY_" + stage)) as f:
                return f.read().strip() or None
        except FileNotFoundError:
            return None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if os.path.exists(os.path.join(self.directory, "DOWN")):
            return "421 4.3.2 Service not available"
        if local_part(address).startswith("fail5xx+"):
            return "553 5.7.1 Sender address rejected"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        scripted = self.scripted("RCPT")
        if scripted:
            return scripted
        local = local_part(address)
        if local.startswith("fail4xx+"):
            return "451 4.3.0 Temporary failure, try again later"
        if local.startswith("fail5xx+"):
            return "550 5.1.1 User unknown"
        if local.startswith("drop+"):
            server.transport.abort()
            return "421 dropped"  # never reaches the client: the transport is gone
        slow = re.match(r"slow(\d+)\+", local)
        if slow:
            await asyncio.sleep(int(slow.group(1)))
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        scripted = self.scripted("DATA")
        if scripted:
            return scripted
        if any(local_part(r).startswith("faildata+") for r in envelope.rcpt_tos):
            return "554 5.6.0 Message content rejected"
        if any(local_part(r).startswith("fullbox+") for r in envelope.rcpt_tos):
            return "554 5.2.2 Mailbox full"
        self.messages += 1
        n = self.messages
        base = os.path.join(self.directory, str(n))
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                "connection": getattr(server, "connection_number", None),
                "tls": server.transport.get_extra_info("ssl_object") is not None}
        write_atomically(base + ".json", json.dumps(meta).encode())
        write_atomically(base + ".eml", envelope.original_content)
        return f"250 2.0.0 Ok: queued as {n}"


class Authenticator:
    def __init__(self, user, password):
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and \
            auth_data.login == self.user and auth_data.password == self.password
        return AuthResult(success=ok, handled=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--auth")
    parser.add_argument("--idle-timeout", type=float, default=300)
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--implicit-tls", action="store_true")
    args = parser.parse_args()
    # A parent that spawns us from a thread with signals blocked (Swift's Dispatch workers do)
    # passes that mask on; unblock so SIGTERM/SIGINT still stop the server.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.makedirs(args.dir, exist_ok=True)
    handler = Handler(args.dir)
    connections = {"count": 0}

    auth_kwargs = {}
    if args.auth:
        user, _, password = args.auth.partition(":")
        auth_kwargs = dict(authenticator=Authenticator(user, password), auth_required=True, auth_require_tls=False)

    class CountingSMTP(SMTP):
        def connection_made(self, transport):
            if getattr(self, "_original_transport", None) is None:  # not a STARTTLS re-handshake
                connections["count"] += 1
                self.connection_number = connections["count"]
                with open(os.path.join(args.dir, "connections.log"), "a") as log:
                    log.write(f"{self.connection_number} {transport.get_extra_info('peername')}\n")
            super().connection_made(transport)

        async def smtp_DATA(self, arg):
            scripted = handler.scripted("DATACMD")
            if scripted and self.envelope.rcpt_tos:
                await self.push(scripted)
                return
            await super().smtp_DATA(arg)

    tls_context = None
    if args.tls_cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)
    starttls_context = None if args.implicit_tls else tls_context

    def factory():
        return CountingSMTP(handler, hostname="nudge-test-smtp", timeout=args.idle_timeout,
                            tls_context=starttls_context, **auth_kwargs)

    if args.exit_on_stdin_eof:
        def watch_stdin():
            sys.stdin.buffer.read()
            os._exit(0)
        threading.Thread(target=watch_stdin, daemon=True).start()

    async def serve():
        server = await asyncio.get_running_loop().create_server(
            factory, "127.0.0.1", args.port, ssl=tls_context if args.implicit_tls else None)
        print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
        await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
