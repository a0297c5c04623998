#!/usr/bin/env bash
# End-to-end demo on a fresh directory: keys of every family, the algorithm table, an
# X-Wing key converted to its age encoding, then the feature demos (signing, encryption).
set -euo pipefail
out=demo-out
rm -rf "$out" && mkdir -p "$out"
# The demo's keyring and transparency log live in demo-out, not in ~/.local/share/pqml.
export PQML_HOME="$PWD/$out/pqml-home"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "pqml $(pqml --version | awk '{print $NF}'): algorithms available here"
COLUMNS=${COLUMNS:-120} pqml algorithms --available

step "Generate one key of each family"
pqml keygen --alg X-Wing -o "$out/xwing.pem" > "$out/xwing.recipient"
echo "X-Wing (hybrid KEM, default)      -> $out/xwing.pem, recipient $(cut -c1-40 "$out/xwing.recipient")..."
pqml keygen --profile cnsa2 --alg kem -o "$out/mlkem1024.pem" > /dev/null
echo "ML-KEM-1024 (CNSA 2.0 KEM)        -> $out/mlkem1024.pem"
pqml keygen --alg ML-DSA-65 -o "$out/mldsa65.pem" > "$out/mldsa65.pub.pem"
echo "ML-DSA-65 (default signature)     -> $out/mldsa65.pem"
pqml keygen --alg SLH-DSA-SHA2-128f -o "$out/slhdsa.pem" > /dev/null
echo "SLH-DSA-SHA2-128f (hash-based)    -> $out/slhdsa.pem"
pqml keygen --alg MLDSA65-Ed25519-SHA512 -o "$out/composite.pem" > /dev/null
echo "MLDSA65-Ed25519-SHA512 (composite) -> $out/composite.pem"
if pqml algorithms --json | python3 -c 'import json,sys; sys.exit(0 if any(a["name"]=="Falcon-512" and a["available"] for a in json.load(sys.stdin)["algorithms"]) else 1)'; then
  pqml keygen --alg Falcon-512 -o "$out/falcon512.pem" > /dev/null
  echo "Falcon-512 (round 3, compact)     -> $out/falcon512.pem"
fi
pqml keygen --alg Ed25519 --allow-classical -o "$out/ed25519.pem" > /dev/null
echo "Ed25519 (classical, flagged)      -> $out/ed25519.pem"
ls -l "$out"/*.pem | awk '{print $1, $5, $NF}'

step "Inspect a key as JSON"
pqml pubkey --json "$out/mldsa65.pem" | python3 -c 'import json,sys; d=json.load(sys.stdin); print({k: d[k] for k in ("algorithm","family","quantum_vulnerable","nist_category")})'

step "Convert the X-Wing key to its age encoding"
pqml convert --to age "$out/xwing.pem" -o "$out/xwing.age"
grep -v '^#' "$out/xwing.age" | cut -c1-60 | sed 's/$/.../'
pqml pubkey --age "$out/xwing.age" | cut -c1-60 | sed 's/$/.../'
if [ "$(pqml pubkey --age "$out/xwing.age")" = "$(cat "$out/xwing.recipient")" ]; then
  echo "age identity and PEM key give the same recipient: OK"
else
  echo "recipient mismatch" >&2; exit 1
fi

step "Model signing (examples/demo_sign.sh)"
bash "$(dirname "$0")/demo_sign.sh" "$out/sign"

step "Encryption (examples/demo_encrypt.sh)"
bash "$(dirname "$0")/demo_encrypt.sh" "$out/encrypt"

step "Crypto inventory: pqml scan on a sample repository (bench/scan_corpus/repo)"
repo="$(dirname "$0")/../bench/scan_corpus/repo"
pqml scan "$repo" -f cbom -o "$out/cbom.json" --no-gitignore --no-progress
pqml scan "$repo" -f html -o "$out/scan-report.html" --no-gitignore --no-progress
echo "  CycloneDX CBOM -> $out/cbom.json, HTML report -> $out/scan-report.html"
pqml scan "$repo" --plan --no-gitignore --no-progress > "$out/scan-plan.txt" 2>/dev/null
sed -n '/[Pp]lan/,$p' "$out/scan-plan.txt" | sed -n 1,20p
echo "  ... full plan in $out/scan-plan.txt"

step "Keys: a keyring, rotation by rewrap, revocation by file-key rotation, migration (examples/demo_keys.sh)"
bash "$(dirname "$0")/demo_keys.sh" "$out/keys"

step "Audit: the transparency log, a tampered copy, monitor alerts, compliance (examples/demo_audit.sh)"
bash "$(dirname "$0")/demo_audit.sh" "$out/keys" "$out/audit"

step "Release signing with a post-quantum CA (examples/demo_ca.sh)"
bash "$(dirname "$0")/demo_ca.sh" "$out/ca"

step "Edge device: an over-the-air model update with rollback (examples/demo_edge_update.sh)"
bash "$(dirname "$0")/demo_edge_update.sh" "$out/edge"

step "Encrypted inference behind an Oblivious HTTP gateway (examples/demo_gateway.sh)"
bash "$(dirname "$0")/demo_gateway.sh" "$out/gateway"

step "Done: everything is in $out/"
