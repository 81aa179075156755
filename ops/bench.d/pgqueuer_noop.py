#!/usr/bin/env python3
"""Reference for the dispatch part: pgqueuer's no-op job throughput on the same cluster.

Installs pgqueuer's schema in the given database (fresh), enqueues N jobs in batches of 10,000,
then times one QueueManager draining them with a no-op entrypoint (mode=drain: it stops when the
queue is empty). Prints one JSON line: jobs, seconds, jobs_per_s, left (jobs not done).
Usage: pgqueuer_noop.py DSN N [BATCH_SIZE]
"""
import asyncio
import json
import sys
import time

import asyncpg
from pgqueuer import AsyncpgDriver, Queries, QueueManager
from pgqueuer.domain.types import QueueExecutionMode


async def main(dsn, n, batch):
    conn = await asyncpg.connect(dsn)
    queries = Queries(AsyncpgDriver(conn))
    await queries.install()
    for start in range(0, n, 10_000):
        k = min(10_000, n - start)
        await queries.enqueue(["noop"] * k, [None] * k, [0] * k)
    await conn.close()

    conn = await asyncpg.connect(dsn)
    qm = QueueManager(Queries(AsyncpgDriver(conn)))

    @qm.entrypoint("noop")
    async def noop(job):
        return None

    t0 = time.perf_counter()
    await qm.run(batch_size=batch, mode=QueueExecutionMode.drain)
    seconds = time.perf_counter() - t0
    await conn.close()
    conn = await asyncpg.connect(dsn)
    left = await conn.fetchval("SELECT count(*) FROM pgqueuer WHERE entrypoint = 'noop'")
    await conn.close()
    print(json.dumps({"jobs": n, "seconds": round(seconds, 3), "jobs_per_s": round(n / seconds, 1), "left": left,
                      "batch_size": batch}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 10))
