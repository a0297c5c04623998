#!/usr/bin/env bash
# Encrypted inference demo: a tiny model encrypted from birth, served from memory by an
# inference API behind `pqml gateway` (Oblivious HTTP, X-Wing HPKE); queries through the
# pqml client with the gateway's key configuration verified by a pinned ML-DSA key; then a
# key rotation while a client loop runs, with zero failed requests.
#
#   bash examples/demo_gateway.sh OUTDIR        (needs `pqml` on PATH; free loopback ports
#                                               are picked, or GATEWAY_PORT / SERVICE_PORT)
set -euo pipefail
out=${1:?usage: demo_gateway.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
service_port=${SERVICE_PORT:-$(free_port)}
gateway_port=${GATEWAY_PORT:-$(free_port)}
gateway="http://127.0.0.1:$gateway_port"
rm -rf "$out" && mkdir -p "$out"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
py=$(head -1 "$(command -v pqml)" | sed -n 's/^#!//p')
"$py" -c 'import pqml' 2>/dev/null || py=python3
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null; }
trap cleanup EXIT
wait_http() {  # wait until a URL answers, at most 20 s
  for _ in $(seq 200); do
    "$py" -c 'import sys, urllib.request as u
try: u.urlopen(sys.argv[1], timeout=0.5)
except u.HTTPError: pass
except OSError: sys.exit(1)' "$1" && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2; return 1
}

step "Keys: the service's X-Wing key, the gateway's OHTTP keys, an ML-DSA-65 signing key"
pqml keygen -o "$out/service.key" > "$out/service.recipient"
pqml gateway keygen "$out/gateway-keys"
pqml keygen --alg ML-DSA-65 -o "$out/gateway-sign.pem" > "$out/gateway-sign.pub"

step "A tiny classifier, made here and encrypted in memory: no plaintext file ever exists"
"$py" "$here/inference_service/make_model.py" "$out/model.safetensors.pqml" \
  "$(cat "$out/service.recipient")"
ls -l "$out" | awk 'NR>1 {print "  " $1, $5, $NF}'

step "The inference service (loopback only) loads the weights into memory"
"$py" "$here/inference_service/service.py" --model "$out/model.safetensors.pqml" \
  --identity "$out/service.key" --port "$service_port" 2> "$out/service.log" &
pids+=($!)
wait_http "http://127.0.0.1:$service_port/v1/model"

step "pqml gateway in front of it (key configs cached by clients for at most 2 s)"
pqml gateway --upstream "http://127.0.0.1:$service_port" --keys "$out/gateway-keys" \
  --port "$gateway_port" --signing-key "$out/gateway-sign.pem" --config-max-age 2s \
  2> "$out/gateway.log" &
pids+=($!)
wait_http "$gateway/.well-known/ohttp-gateway"

step "A query through the gateway (the relay, the network, a TLS terminator: ciphertext only)"
pqml request http://model.internal/v1/infer --gateway "$gateway" \
  --config-key "$out/gateway-sign.pub" -H 'Content-Type: application/json' \
  -d '{"inputs": [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6]]}'
echo

step "A streamed answer over chunked OHTTP: tokens decrypted as they arrive"
pqml request http://model.internal/v1/generate --gateway "$gateway" --chunked \
  --config-key "$out/gateway-sign.pub" -d '{"inputs": [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5], "tokens": 8}'
echo

step "The same from Python: an httpx client with the OHTTP transport"
"$py" - "$gateway" "$out/gateway-sign.pub" <<'PY'
import sys
import httpx
from pqml.gateway.client import OHTTPTransport
from pqml.keys import key_files

transport = OHTTPTransport(sys.argv[1], pinned_key=key_files.load_public(sys.argv[2]))
with httpx.Client(transport=transport, base_url="http://model.internal") as client:
    print(client.get("/v1/model").json())
PY

step "Rotate the gateway key while a client loop runs: zero failed requests"
"$py" - "$gateway" "$out/gateway-sign.pub" "$out/loop.result" <<'PY' &
import sys, time
import httpx
from pqml.gateway.client import OHTTPTransport
from pqml.keys import key_files

transport = OHTTPTransport(sys.argv[1], pinned_key=key_files.load_public(sys.argv[2]))
ok = failed = 0
with httpx.Client(transport=transport, base_url="http://model.internal") as client:
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            r = client.post("/v1/infer", json={"inputs": [[0.0] * 16]})
            ok, failed = (ok + 1, failed) if r.status_code == 200 else (ok, failed + 1)
        except Exception:
            failed += 1
open(sys.argv[3], "w").write(f"{ok} {failed}\n")
PY
loop=$!
sleep 2
pqml gateway rotate "$out/gateway-keys" --grace 5s
pqml gateway list "$out/gateway-keys"
wait "$loop"
sleep 1
pqml gateway prune "$out/gateway-keys"
pqml gateway list "$out/gateway-keys"
read -r ok failed < "$out/loop.result"
echo "client loop: $ok requests answered, $failed failed"
test "$failed" -eq 0

step "What the gateway logged (refusals at info level; never content, paths or headers)"
cat "$out/gateway.log"
