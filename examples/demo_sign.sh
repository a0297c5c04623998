#!/usr/bin/env bash
# Model signing demo: sign the bundled tiny model with a hybrid key pair (ECDSA P-256 first, so
# model_signing can verify it too, then ML-DSA-65), verify it, tamper with one byte and
# watch verification fail, restore it, and load it through pqml.load, which verifies
# before it deserializes anything.
#
# Usage: examples/demo_sign.sh [OUTPUT_DIR]     (needs `pqml` on PATH; default demo-out/sign)
set -euo pipefail
out=${1:-demo-out/sign}
rm -rf "$out" && mkdir -p "$out"
model="$out/tiny-model"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
python=$(command -v python3)
pqml_python=$(head -1 "$(command -v pqml)" | sed -n 's/^#!//p')
[ -x "${pqml_python:-}" ] && python=$pqml_python  # the interpreter pqml is installed in

step "The bundled model (examples/data/tiny-model) plus a tokenizer"
cp -r "$(cd "$(dirname "$0")" && pwd)/data/tiny-model" "$model"
echo '{"vocab": {"<pad>": 0, "hello": 1, "world": 2}}' > "$model/tokenizer.json"
ls -l "$model" | tail -n +2 | awk '{print "  " $5 "\t" $NF}'

step "A hybrid signing identity: ECDSA P-256 (classical) + ML-DSA-65 (post-quantum)"
pqml keygen --alg ECDSA-P256 --allow-classical -o "$out/ecdsa.pem" > "$out/ecdsa.pub" 2>/dev/null
pqml keygen --alg ML-DSA-65 -o "$out/mldsa65.pem" > "$out/mldsa65.pub"
echo "  $out/ecdsa.pem, $out/mldsa65.pem (and their .pub)"

step "Sign: one OMS bundle, two signatures (ECDSA first for model_signing)"
pqml sign "$model" -k "$out/ecdsa.pem" -k "$out/mldsa65.pem"

step "Verify, requiring a post-quantum signature"
pqml verify "$model" -k "$out/ecdsa.pub" -k "$out/mldsa65.pub" --require-pq

step "Tamper with one byte of the weights: verification must fail"
cp "$model/model.safetensors" "$out/model.safetensors.orig"
"$python" - "$model/model.safetensors" <<'EOF'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
data[-1] ^= 0x01
open(path, "wb").write(bytes(data))
EOF
if pqml verify "$model" -k "$out/ecdsa.pub" -k "$out/mldsa65.pub" --require-pq; then
  echo "tampering was NOT detected" >&2; exit 1
else
  echo "(failure expected: the flipped byte was caught)"
fi

step "Restore the byte; a pickle dropped into the model is refused too"
cp "$out/model.safetensors.orig" "$model/model.safetensors"
"$python" -c 'import pickle, sys; open(sys.argv[1], "wb").write(pickle.dumps({"x": 1}))' \
  "$model/extra.pkl"
pqml verify "$model" -k "$out/mldsa65.pub" || echo "(failure expected: unsigned pickle)"
rm "$model/extra.pkl"

step "Load the weights verified (pqml.load checks the signature before it deserializes)"
pqml verify "$model" -k "$out/mldsa65.pub" --require-pq > /dev/null && echo "  model verifies again"
"$python" - "$model" "$out/mldsa65.pub" <<'EOF'
import sys
import pqml
model, key = sys.argv[1], sys.argv[2]
tensors = pqml.load(f"{model}/model.safetensors", trusted=[key],
                   verify=pqml.VerifyOptions(require_pq=True))
config = pqml.load(f"{model}/config.json", trusted=[key])
shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in sorted(tensors.items())[:3])
print(f"  loaded {len(tensors)} tensors ({shapes}, ...), layers={config['num_hidden_layers']}")
EOF

step "Root digest (names + sizes + digests), as recorded in the bundle"
pqml digest "$model" --method files
step "Done: the model and keys are in $out/"
