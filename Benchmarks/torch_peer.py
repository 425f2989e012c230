"""The train-shards network in PyTorch (python/synmix_torch, CPU), loaded from our checkpoint.

Usage: torch_peer.py EXPORT_DIR [threads=2] [batch=8] [steps=20] [warmup=5]

EXPORT_DIR holds what `synmix-bench train-step --export` wrote: model.safetensors
(our checkpoint, loaded with strict=True: every name and shape must match) and
io.safetensors (an input and our eval-mode head outputs). Checks that PyTorch's
outputs equal ours within 1e-4, then times PyTorch's training step for the same
network and losses (CE + 200·MSE + 1·masked L1 at the heads' stride 4, AdamW)
at batch 8 and 256×128.
Prints one JSON object.
"""
import json
import statistics
import sys
import time

import os

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

# The network is python/synmix_torch's (the PyTorch twin of the trainer).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from synmix_torch.model import Net  # noqa: E402

export = sys.argv[1]
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
B = int(sys.argv[3]) if len(sys.argv) > 3 else 8
STEPS = int(sys.argv[4]) if len(sys.argv) > 4 else 20
WARM = int(sys.argv[5]) if len(sys.argv) > 5 else 5
torch.set_num_threads(threads)


state = load_file(f"{export}/model.safetensors")
with open(f"{export}/model.safetensors", "rb") as f:
    header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
config = json.loads(header["__metadata__"]["synmix.config"])
K = len(config["classes"])
net = Net(config["width"], config["classes"])
net.load_state_dict(state, strict=True)
net.eval()
io = load_file(f"{export}/io.safetensors")
with torch.no_grad():
    ours = io["heads"]
    theirs = net(io["input"])
max_difference = float((theirs - ours).abs().max())

# Training step, same shapes and losses as synmix-bench train-step.
net.train()
H, W = io["input"].shape[-2:]
torch.manual_seed(0)
x = torch.randn(B, 3, H, W)
sem_t = torch.randint(-1, K + 1, (B, H // 4, W // 4))
ctr_t = torch.rand(B, 1, H // 4, W // 4)
off_t = torch.randn(B, 2, H // 4, W // 4) * 4
weight = torch.randint(0, 2, (B, 1, H // 4, W // 4)).float()
opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)


def step():
    opt.zero_grad(set_to_none=True)
    out = net(x)
    sem, ctr, off = out[:, :K + 1], out[:, K + 1:K + 2], out[:, K + 2:]
    l1 = ((off - off_t).abs() * weight).sum() / (weight.sum() * 2).clamp(min=1)
    loss = F.cross_entropy(sem, sem_t, ignore_index=-1) + 200 * F.mse_loss(ctr, ctr_t) + l1
    loss.backward()
    opt.step()


for _ in range(WARM):
    step()
times = []
for _ in range(STEPS):
    t0 = time.perf_counter()
    step()
    times.append((time.perf_counter() - t0) * 1000)
net.eval()
with torch.no_grad():
    for _ in range(3):
        net(x)
    forward = []
    for _ in range(STEPS):
        t0 = time.perf_counter()
        net(x)
        forward.append((time.perf_counter() - t0) * 1000)
print(json.dumps({
    "torch": torch.__version__, "threads": torch.get_num_threads(), "batch": B, "input": [W, H],
    "parameters": sum(p.numel() for p in net.parameters()),
    "max_output_difference": max_difference,
    "step_ms": statistics.median(times), "images_per_second": B / (statistics.median(times) / 1000),
    "forward_ms": statistics.median(forward), "forward_images_per_second": B / (statistics.median(forward) / 1000),
}))
if max_difference > 1e-4:
    sys.exit(f"PyTorch's outputs differ from synmix's by {max_difference} (limit 1e-4)")
