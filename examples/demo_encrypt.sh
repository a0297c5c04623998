#!/usr/bin/env bash
# Encryption demo: protect the bundled tiny safetensors model for two people with
# post-quantum (X-Wing) keys, load one tensor lazily without decrypting the rest, decrypt
# everything with the other person's key, rotate a recipient out, and inspect the files.
#
#   bash examples/demo_encrypt.sh OUTDIR        (needs `pqml` on PATH)
set -euo pipefail
out=${1:?usage: demo_encrypt.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
model="$here/data/tiny-model"
rm -rf "$out" && mkdir -p "$out"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# the Python that runs pqml (so numpy/safetensors are the ones pqml sees)
py=$(head -1 "$(command -v pqml)" | sed -n 's/^#!//p')
"$py" -c 'import pqml' 2>/dev/null || py=python3

step "Two X-Wing key pairs: alice (PEM) and bob (age identity file)"
pqml keygen -o "$out/alice.pem" > "$out/alice.recipient"
pqml keygen --format age -o "$out/bob.txt" > "$out/bob.recipient"
echo "alice: $(cut -c1-32 "$out/alice.recipient")…   bob: $(cut -c1-32 "$out/bob.recipient")…"

step "Encrypt the model directory to both (file by file, pqml/v1, AES-256-GCM payload)"
pqml encrypt -r "$(cat "$out/alice.recipient")" -r "$out/bob.recipient" \
  -o "$out/encrypted" "$model"
(cd "$out/encrypted" && ls -l | awk 'NR>1 {print "  " $5, $NF}')

step "Inspect it without any key"
pqml inspect "$out/encrypted/model.safetensors.pqml"

step "Alice loads one tensor lazily (only its chunks are decrypted)"
"$py" - "$out/encrypted/model.safetensors.pqml" "$out/alice.pem" "$model/model.safetensors" <<'PY'
import sys
import numpy as np
import safetensors.numpy
import pqml.safetensors

path, key, original = sys.argv[1:4]
with pqml.safetensors.safe_open(path, [key], framework="numpy") as f:
    before = f.raw.chunks_decrypted  # the final chunk and the header's, checked at open
    name = "model.layers.1.mlp.down_proj.weight"
    w = f.get_tensor(name)
    used = f.raw.chunks_decrypted - before
    print(f"{name}: shape {w.shape}, {w.dtype}, decrypted {used} of {f.raw.chunk_count} chunks")
    rows = f.get_slice("model.embed_tokens.weight")[10:12]
    print(f"embed_tokens[10:12]: shape {rows.shape}, first values {rows[0, :3]}")
expected = safetensors.numpy.load_file(original)
assert np.array_equal(w, expected[name]), "tensor differs from the original"
assert np.array_equal(rows, expected["model.embed_tokens.weight"][10:12])
print("matches the unencrypted model: OK")
PY

step "Bob decrypts the whole directory with his own identity"
pqml decrypt -i "$out/bob.txt" -o "$out/decrypted" "$out/encrypted"
diff -r "$model" "$out/decrypted" && echo "decrypted tree is identical to the original: OK"

step "Rotate bob out (header rewrite only; payload bytes unchanged)"
before=$(tail -c 65536 "$out/encrypted/model.safetensors.pqml" | sha256sum)
pqml rekey -i "$out/alice.pem" --remove "$out/bob.recipient" "$out/encrypted/model.safetensors.pqml"
after=$(tail -c 65536 "$out/encrypted/model.safetensors.pqml" | sha256sum)
[ "$before" = "$after" ] && echo "payload tail unchanged: OK"
if pqml decrypt -i "$out/bob.txt" -o "$out/bob-again" "$out/encrypted/model.safetensors.pqml"; then
  echo "bob can still decrypt: UNEXPECTED" && exit 1
fi
echo "bob is refused with a one-line error and no output file: OK"
[ ! -e "$out/bob-again" ]
