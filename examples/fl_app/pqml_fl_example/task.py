"""The model and the data: numpy logistic regression on data each node generates.

Every node draws its own points from one shared ground truth (seeded by its partition id),
so the federation learns one model no node could see whole. Float32 throughout and a fixed
order of operations: the same inputs give the same bits on every run.
"""

from __future__ import annotations

import numpy as np

DIM = 20
SEED = 2026


def make_data(partition_id: int, *, n: int = 500,
              draw: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(features, labels)`` of one node: shared true weights, node-specific points.
    ``draw`` > 0: other points from the same node's distribution (held out)."""
    truth = np.random.default_rng(SEED).normal(size=DIM).astype(np.float32)
    rng = np.random.default_rng([SEED, partition_id] + ([draw] if draw else []))
    x = rng.normal(loc=0.3 * partition_id, size=(n, DIM)).astype(np.float32)
    noise = rng.normal(scale=0.5, size=n).astype(np.float32)
    y = (x @ truth + noise > 0).astype(np.float32)
    return x, y


def initial_model() -> list[np.ndarray]:
    return [np.zeros(DIM, dtype=np.float32), np.zeros(1, dtype=np.float32)]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def train(model: list[np.ndarray], x: np.ndarray, y: np.ndarray, *, epochs: int,
          lr: float) -> list[np.ndarray]:
    """Full-batch gradient descent on the logistic loss."""
    w, b = model[0].copy(), model[1].copy()
    step = np.float32(lr / len(y))
    for _ in range(epochs):
        error = _sigmoid(x @ w + b[0]) - y
        w -= step * (x.T @ error)
        b -= step * np.float32(error.sum())
    return [w, b]


def evaluate(model: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(loss, accuracy)`` of ``model`` on ``(x, y)``."""
    p = np.clip(_sigmoid(x @ model[0] + model[1][0]), 1e-7, 1 - 1e-7)
    loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return loss, float(np.mean((p > 0.5) == (y > 0.5)))


def make_holdout(num_nodes: int, *, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Fresh points from every node's distribution (a seed no node trains on): what the
    server evaluates the global model on."""
    parts = [make_data(pid, n=n, draw=1) for pid in range(num_nodes)]
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])
