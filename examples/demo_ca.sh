#!/usr/bin/env bash
# Release signing with a post-quantum PKI: an SLH-DSA root (hash-based, for decades), an
# ML-DSA-65 release CA under it, a 30-day ML-DSA-65 signing certificate for the release
# bot; the bot signs a model into an OMS certificate bundle, a consumer verifies it against
# the root alone, then the bot's key is revoked and the same check fails on the CRL.
#
# Usage: examples/demo_ca.sh [OUTPUT_DIR]     (needs `pqml` on PATH; default demo-out/ca)
set -euo pipefail
out=${1:-demo-out/ca}
rm -rf "$out" && mkdir -p "$out"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
model="$out/tiny-model"
cp -r "$(cd "$(dirname "$0")" && pwd)/data/tiny-model" "$model"

step "A root CA (SLH-DSA-SHA2-128s, 20 years) and a release CA under it (ML-DSA-65)"
pqml ca init "$out/root" --subject "CN=Example Model Root"
pqml ca init "$out/release-ca" --parent "$out/root" --subject "CN=Example Release CA"
ls -l "$out/root" | tail -n +2 | awk '{print "  " $1 "\t" $5 "\t" $NF}'

step "A 30-day code-signing certificate for the release bot (its key never leaves it)"
pqml ca issue "$out/release-ca" --subject "CN=release-bot,O=Example" \
  --san email:release-bot@example.com --new-key "$out/bot.pem" -o "$out/bot.crt"
openssl x509 -in "$out/bot.crt" -noout -subject -issuer -dates \
  -ext keyUsage,extendedKeyUsage,subjectAltName 2>/dev/null || true

step "The bot signs: an OMS bundle carrying its certificate and the release CA"
pqml sign "$model" -k "$out/bot.pem" --certificate "$out/bot.crt" \
  --certificate-chain "$out/release-ca/chain.pem"

step "A consumer trusts only the root certificate"
pqml ca crl "$out/release-ca" -o "$out/release.crl"
pqml verify "$model" --certificate-chain "$out/root/ca.cert.pem" --crl "$out/release.crl"

step "The bot's key leaks: revoke its certificate and publish a new CRL"
pqml ca revoke "$out/release-ca" 1 --reason key-compromise
pqml ca crl "$out/release-ca" -o "$out/release-2.crl"
if pqml verify "$model" --certificate-chain "$out/root/ca.cert.pem" \
     --crl "$out/release-2.crl" > /dev/null; then
  echo "UNEXPECTED: a revoked certificate verified" >&2; exit 1
fi
echo "  (refused, as it must be)"
