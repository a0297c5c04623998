#!/usr/bin/env bash
# Audit demo, on the log the key-lifecycle demo left: verify the transparency log, prove
# one entry offline, tamper with a copy and watch `pqml log verify` name the entry, raise
# the monitor's alerts, and print the compliance summary.
#
#   bash examples/demo_audit.sh KEYS_DEMO_OUTDIR OUTDIR
set -euo pipefail
keys=${1:?usage: demo_audit.sh KEYS_DEMO_OUTDIR OUTDIR}
out=${2:?usage: demo_audit.sh KEYS_DEMO_OUTDIR OUTDIR}
rm -rf "$out" && mkdir -p "$out"
export PQML_HOME="$keys/pqml-home"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Every operation of the key demo is on the log"
pqml log show | cut -c1-100
pqml log verify

step "Prove one entry offline: another machine needs only the proof and the log's key"
pqml log proof "$keys/signed-model" -o "$out/signed-model.tlog-proof"
pqml log key > "$out/log.vkey"
pqml log check-proof "$out/signed-model.tlog-proof" --key "$out/log.vkey"

step "Tamper with one entry of a copy of the log: verify names it"
cp -r "$PQML_HOME" "$out/tampered-home"
sed -i '3s/"outcome":"ok"/"outcome":"failed"/' "$out/tampered-home/log/entries.jsonl"
if PQML_HOME="$out/tampered-home" pqml log verify; then
  echo "tampering went unnoticed" >&2; exit 1
fi

step "Monitor: alerts from the rules in pqml.toml [monitor] (JSON lines with --json)"
pqml monitor || true

step "Compliance against NIST IR 8547: models, datasets, code, keys and the log"
pqml compliance "$keys/models" "$keys/signed-model" --no-record --html "$out/compliance.html" \
  || echo "(exit $?: a required control failed, as CI would see it)"
echo "  HTML report -> $out/compliance.html"
