"""Write the bundled tiny model (examples/data/tiny-model/) deterministically.

    python examples/make_model.py [OUTDIR]

A small decoder-shaped model in safetensors with a Hugging Face style config.json, just
big enough (about 1 MiB, 67 chunks of 16 KiB once encrypted) for the encryption demo to show that
loading one tensor decrypts only that tensor's chunks. The weights come from a seeded
numpy generator, so every run writes identical bytes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import safetensors.numpy

VOCAB, DIM, HIDDEN, LAYERS = 1024, 96, 256, 2
CONFIG = {
    "model_type": "pqml-tiny-decoder",
    "vocab_size": VOCAB,
    "hidden_size": DIM,
    "intermediate_size": HIDDEN,
    "num_hidden_layers": LAYERS,
    "torch_dtype": "float32",
    "note": "random weights for the pqml encryption demo; not a trained model",
}


def tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240601)

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) / np.sqrt(shape[-1])).astype(np.float32)

    out = {"model.embed_tokens.weight": w(VOCAB, DIM), "model.norm.weight": np.ones(DIM,
                                                                                  np.float32)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        out[p + "self_attn.qkv_proj.weight"] = w(3 * DIM, DIM)
        out[p + "self_attn.o_proj.weight"] = w(DIM, DIM)
        out[p + "mlp.up_proj.weight"] = w(HIDDEN, DIM)
        out[p + "mlp.down_proj.weight"] = w(DIM, HIDDEN)
        out[p + "input_layernorm.weight"] = np.ones(DIM, np.float32)
    return out


def main(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    model = outdir / "model.safetensors"
    safetensors.numpy.save_file(tensors(), str(model), metadata={"format": "pt"})
    model.chmod(0o644)  # safetensors creates it 0600; this is public demo data
    (outdir / "config.json").write_text(json.dumps(CONFIG, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else
         Path(__file__).resolve().parent / "data" / "tiny-model")
