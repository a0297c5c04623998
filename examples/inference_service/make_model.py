"""Create the tiny model the inference service serves, encrypted from the start.

    python examples/inference_service/make_model.py MODEL.safetensors.pqml RECIPIENT

RECIPIENT is the service's public key (an ``age1pq1…`` recipient or a public key file).
The model is a seeded linear classifier (16 inputs, 4 classes) plus a tiny "vocabulary"
for the streaming endpoint; its safetensors bytes are built and encrypted in memory by
``pqml.safetensors.save_file``, so no plaintext copy of the weights ever touches the disk.
No download: everything is made here.
"""

from __future__ import annotations

import sys

import numpy as np

INPUTS, CLASSES = 16, 4
LABELS = ("cat", "dog", "bird", "fish")
SEED = 20261204


def tensors() -> dict[str, np.ndarray]:
    """The model's weights (deterministic: tests recompute the expected answers)."""
    rng = np.random.default_rng(SEED)
    return {
        "linear.weight": rng.standard_normal((CLASSES, INPUTS)).astype(np.float32),
        "linear.bias": rng.standard_normal(CLASSES).astype(np.float32),
    }


def predict(weights: dict[str, np.ndarray], inputs: np.ndarray) -> np.ndarray:
    """Class scores for a batch of inputs: ``x Wᵀ + b``."""
    return inputs.astype(np.float32) @ weights["linear.weight"].T + weights["linear.bias"]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    import pqml.safetensors

    output, recipient = argv
    pqml.safetensors.save_file(tensors(), output, [recipient],
                               metadata={"labels": ",".join(LABELS),
                                         "note": "seeded toy classifier for the pqml demo"})
    print(f"wrote {output} (encrypted to {recipient if len(recipient) < 60 else 'the key'})",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
