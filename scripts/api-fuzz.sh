#!/usr/bin/env bash
# Fuzzes a real node's HTTP API against its own OpenAPI document with Schemathesis.
#
#   scripts/api-fuzz.sh                        # ~1.5 min on 2 cores once built (~3 min with the build)
#   API_FUZZ_EXAMPLES=1000 scripts/api-fuzz.sh # more cases per operation (default 300)
#   API_FUZZ_SEED=1234 scripts/api-fuzz.sh     # replay a run (the seed is printed)
#
# It installs Schemathesis into a virtualenv under target/ when it is missing (needs python3
# with venv, and the Python package index), builds `gridmint`, starts `gridmint node --dev` on a
# free loopback port with a temporary data dir, runs Schemathesis against /v1/openapi.json and
# stops the node. Checks: no 5xx (not_a_server_error); every status and body is documented
# (status_code_conformance, content_type_conformance, response_schema_conformance); and a
# request the document calls valid is not refused as malformed (positive_data_acceptance: it may
# get 2xx, or 401/402/403/404/409 — a fuzzer cannot sign for the dev account, so a transaction it
# makes is refused for its signature, signer, fee or nonce, never for its shape). Exits non-zero on
# any failure, or if the node does not stop cleanly.
set -euo pipefail

cd "$(dirname "$0")/.."
SCHEMATHESIS_VERSION=4.32.5
EXAMPLES=${API_FUZZ_EXAMPLES:-300}
SEED=${API_FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
VENV=$PWD/target/api-fuzz/venv

if [ ! -x "$VENV/bin/schemathesis" ] || ! "$VENV/bin/schemathesis" --version | grep -q "$SCHEMATHESIS_VERSION"; then
    echo "installing Schemathesis $SCHEMATHESIS_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --locked --quiet -p gridmint --bin gridmint
BIN=$PWD/target/debug/gridmint

WORK=$(mktemp -d)
NODE_PID=
cleanup() {
    if [ -n "$NODE_PID" ] && kill -0 "$NODE_PID" 2>/dev/null; then
        kill -KILL "$NODE_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
# no rate limit: the fuzzer's bursts would otherwise be answered 429 (documented, but then
# nothing else gets tested); 2-second epochs so that closed epochs exist to ask about; an
# archive node: Schemathesis counts a pruned block's 410 (documented, and tested in
# crates/cli/tests/state.rs) as a valid request refused
"$BIN" node --dev --data "$WORK/data" --listen "127.0.0.1:$PORT" --rate-limit 0 --block-ms 200 \
    --epoch-seconds 2 --archive --quiet >"$WORK/node.log" 2>&1 &
NODE_PID=$!

python3 - "$BASE" <<'EOF'
import sys, time, urllib.request
for _ in range(600):
    try:
        urllib.request.urlopen(sys.argv[1] + "/v1/status", timeout=1).read()
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit("the node did not answer within 60 s")
EOF

# things to ask about: a transfer (a transaction id), a machine (its owner, the dev account, has
# one), closed epochs; the fuzzer tries these ids as well as random ones
export GRIDMINT_NODE="$BASE"
"$BIN" keys new --out "$WORK/machine.json" >/dev/null
"$BIN" keys new --out "$WORK/friend.json" >/dev/null
DEV_KEY="$WORK/data/dev-key.json"
address_of() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["address"])' "$1"; }
DEV=$(address_of "$DEV_KEY")
MACHINE=$(address_of "$WORK/machine.json")
FRIEND=$(address_of "$WORK/friend.json")
TX_ID=$("$BIN" tx --key "$DEV_KEY" --wait transfer --to "$FRIEND" --amount 10 |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
"$BIN" tx --key "$DEV_KEY" --wait register-machine --machine-key "$WORK/machine.json" --gpu-class 1 \
    --bandwidth-mbps 1000 >/dev/null
"$BIN" tx --key "$WORK/machine.json" --wait heartbeat >/dev/null
python3 - "$BASE" <<'EOF'
import json, sys, time, urllib.request
for _ in range(600):
    if json.load(urllib.request.urlopen(sys.argv[1] + "/v1/status", timeout=5))["epoch"] >= 3:
        sys.exit(0)
    time.sleep(0.1)
sys.exit("no epoch closed within 60 s")
EOF

cat >"$WORK/schemathesis.toml" <<EOF
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "402", "403", "404", "409"]

[dictionaries.addresses]
values = ["$DEV", "$MACHINE", "$FRIEND"]

[dictionaries.epochs]
values = [1, 2]

[dictionaries.transactions]
values = ["$TX_ID"]

[parameters]
"path.address" = { dictionary = "addresses", probability = 0.5 }
"path.epoch" = { dictionary = "epochs", probability = 0.5 }
"path.id" = { dictionary = "transactions", probability = 0.5 }
EOF
# JSON Schema counts 5.0 as an integer and Schemathesis sends such numbers; the node takes
# integers written as integers only (its parse is strict, and the document says so), which a
# schema cannot express: spell whole floats in request bodies as integers.
cat >"$WORK/gridmint_hooks.py" <<'EOF'
import schemathesis


def _integers(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integers(v) for v in value]
    if isinstance(value, dict):
        return {k: _integers(v) for k, v in value.items()}
    return value


@schemathesis.hook
def map_body(context, body):
    return _integers(body)
EOF

echo "fuzzing $BASE with $EXAMPLES examples per operation, seed $SEED (API_FUZZ_SEED=$SEED replays)"
status=0
# run from the temporary dir: Schemathesis keeps a cache in the working directory
(cd "$WORK" && PYTHONPATH="$WORK" SCHEMATHESIS_HOOKS=gridmint_hooks "$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" run "$BASE/v1/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,positive_data_acceptance \
    --max-examples "$EXAMPLES" --seed "$SEED" --workers 2 --phases examples,coverage,fuzzing \
    --request-timeout 60 --generation-database none --no-color) || status=$?

# a clean stop (SIGTERM) is part of the test
kill -TERM "$NODE_PID"
if ! wait "$NODE_PID"; then
    echo "the node did not stop cleanly:"
    tail -20 "$WORK/node.log"
    status=1
fi
NODE_PID=
exit "$status"
