"""A fast webhook receiver for ops/bench webhooks (standard library, asyncio, HTTP/1.1 keep-alive):
answers 200 to every POST at once and keeps, per request, the arrival time (unix seconds), the
path (one per endpoint) and the webhook-id. Prints "PORT <n>" once listening; on SIGTERM writes
the arrivals to --out as tab-separated lines and exits. Signatures are not checked here (the tests
check them with the standardwebhooks package): this measures Nudge, not a verifier."""
import argparse
import asyncio
import signal
import time

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
args = p.parse_args()
arrivals = []
ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            path = lines[0].split(b" ")[1].decode()
            length, hook_id = 0, ""
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"webhook-id":
                    hook_id = value.strip().decode()
            if length:
                await reader.readexactly(length)
            arrivals.append((time.time(), path, hook_id))
            writer.write(ANSWER)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=1024)
    print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    with open(args.out, "w") as f:
        for t, path, hook_id in arrivals:
            f.write(f"{t:.6f}\t{path}\t{hook_id}\n")


asyncio.run(main())
