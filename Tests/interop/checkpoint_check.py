"""Reads a synmix checkpoint with safetensors.numpy and prints what it holds
as JSON: metadata, and per tensor its dtype, shape, first value and sum."""
import json
import sys

from safetensors import safe_open
from safetensors.numpy import load_file

path = sys.argv[1]
tensors = load_file(path)
with safe_open(path, framework="numpy") as f:
    metadata = f.metadata()
print(json.dumps({
    "metadata": metadata,
    "count": len(tensors),
    "tensors": {name: {"dtype": str(t.dtype), "shape": list(t.shape),
                       "first": float(t.reshape(-1)[0]), "sum": float(t.astype("float64").sum())}
                for name, t in tensors.items()},
}))
