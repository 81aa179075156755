"""Generates a Python client from docs/openapi.json with openapi-python-client (pinned in ops/lib.sh)
and fails when the generator dropped an operation: a reference it cannot follow (such as one into
another schema's property) silently loses the endpoint, for every agent developer who generates a
client. Raw-mail operations (a `message/rfc822` request body) are the one accepted loss: generators
do not support that content type. Run by ops/test through check_generated_client.

usage: client_check.py OPENAPI_JSON WORK_DIR
"""
import json
import pathlib
import subprocess
import sys


def snake(name: str) -> str:
    # The generator's own module names (getOpenAPIDocument -> get_open_api_document).
    from openapi_python_client.strings import snake_case
    return snake_case(name)


def main() -> int:
    doc_path, work = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    doc = json.loads(doc_path.read_text())
    expected, excused = {}, set()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method == "parameters":
                continue
            name = f"{method.upper()} {path}"
            expected[snake(op["operationId"])] = name
            content = op.get("requestBody", {}).get("content", {})
            if content and set(content) == {"message/rfc822"}:
                excused.add(name)
    out = work / "client"
    generator = pathlib.Path(sys.executable).with_name("openapi-python-client")
    run = subprocess.run(
        [str(generator), "generate", "--path", str(doc_path), "--meta", "none", "--output-path", str(out), "--overwrite"],
        capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stdout + run.stderr)
        print("client check: the generator failed")
        return 1
    generated = {p.stem for p in (out / "api").rglob("*.py") if p.stem != "__init__"}
    dropped = sorted(name for op, name in expected.items() if op not in generated and name not in excused)
    kept_excused = sorted(name for op, name in expected.items() if op in generated and name in excused)
    # The generated package must import (the generator can write code that does not).
    imp = subprocess.run([sys.executable, "-c", "import client, client.api, client.models"], cwd=work,
                         capture_output=True, text=True)
    if dropped or imp.returncode != 0:
        print(run.stdout)
        for name in dropped:
            print(f"client check: dropped {name}")
        if imp.returncode != 0:
            print(imp.stderr)
        return 1
    print(f"client check: {len(generated)} of {len(expected)} operations generated"
          f" ({len(excused) - len(kept_excused)} raw-mail ones left out, as expected)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
