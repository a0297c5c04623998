"""Exploratory analysis exported from a notebook."""

import hashlib

import matplotlib.pyplot as plt
import pandas as pd

df = pd.read_parquet("data/train.parquet")
print(df.describe())
df["bucket"] = df["user_id"].map(lambda u: int(hashlib.sha256(str(u).encode()).hexdigest(), 16) % 10)
df.groupby("bucket").size().plot(kind="bar")
plt.savefig("buckets.png")
