#!/usr/bin/env bash
# Key lifecycle demo: put keys in a keyring, rotate the team's encryption key by header
# rewrap, remove a recipient with file-key rotation, and migrate a classical age file and
# an ECDSA-signed model to post-quantum protection.
#
#   bash examples/demo_keys.sh OUTDIR        (needs `pqml` on PATH; uses OUTDIR/pqml-home)
set -euo pipefail
out=${1:?usage: demo_keys.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
model="$here/data/tiny-model"
rm -rf "$out" && mkdir -p "$out"
export PQML_HOME="$out/pqml-home"   # the keyring and the log live here, not in ~/.local
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "A keyring: a new team key, and carol's existing key file imported"
pqml keys new --label team > /dev/null
pqml keygen -o "$out/carol.pem" > /dev/null
pqml keys import "$out/carol.pem" --label carol > /dev/null
pqml keys list

step "Encrypt the model to the team and carol, by keyring label"
pqml encrypt -r team -r carol -o "$out/models" "$model" 2> /dev/null
pqml keys show team

step "Rotate the team key: every recorded file moves to its successor by header rewrap"
pqml keys rotate team --rewrap
pqml keys list --purpose encrypt

step "Carol leaves: revoke her key, remove her with a fresh file key (a rewrap would not"
echo "   take away a file key she may already have)"
pqml keys revoke carol --reason "left the team"
pqml rekey -i team --remove carol --new-file-key "$out"/models/*.pqml
if pqml decrypt -i "$out/carol.pem" -o "$out/carol-try" "$out/models/model.safetensors.pqml" 2> "$out/carol.err"; then
  echo "carol could still decrypt" >&2; exit 1
fi
echo "carol's key no longer opens the new version: $(cat "$out/carol.err")"

step "Migrate a classical age file (X25519 only) to the post-quantum team key"
pqml keygen -a X25519 --allow-classical --format age -o "$out/legacy.txt" > "$out/legacy.recipient"
echo "quarterly numbers" > "$out/report.txt"
pqml encrypt --format age --allow-classical -R "$out/legacy.recipient" -o "$out/report.txt.age" \
  "$out/report.txt" 2> /dev/null
pqml migrate "$out/report.txt.age" -i "$out/legacy.txt" --to "$(pqml pubkey --age team)"
pqml migrate "$out/report.txt.age" -i "$out/legacy.txt" --to "$(pqml pubkey --age team)" --apply
pqml inspect "$out/report.txt.age" | sed -n 1,6p

step "Migrate an ECDSA-signed model: verified first, then co-signed with ML-DSA-65"
cp -r "$model" "$out/signed-model"
pqml keygen -a ECDSA-P256 --allow-classical -o "$out/ecdsa.pem" > "$out/ecdsa.pub"
pqml keys new -a ML-DSA-65 --label release > /dev/null
pqml sign "$out/signed-model" -k "$out/ecdsa.pem" > /dev/null 2>&1
pqml migrate "$out/signed-model/model.sig" --trust-key "$out/ecdsa.pub" --sign-key release --apply
pqml verify "$out/signed-model" -k "$out/ecdsa.pub" -k release --require-pq

step "Done: the keyring and its log are in $PQML_HOME"
