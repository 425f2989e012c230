"""The data path's cost in the PyTorch twin: training images/s reading shards (webdataset, decode,
targets in DataLoader workers) against the same network and step on a batch already in memory.

Usage: torch_data_path.py 'SHARDS' [steps=30] [batch=8] [WxH=256x128] [workers=2] [threads=1]
Prints one JSON object. Runs on CUDA when there is a GPU (bfloat16 autocast, as the trainer).
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from synmix_torch.data import ShardSamples, instance_classes  # noqa: E402
from synmix_torch.model import Net  # noqa: E402
from synmix_torch.train import expand, train_step  # noqa: E402

shards = expand([sys.argv[1]])
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 30
batch = int(sys.argv[3]) if len(sys.argv) > 3 else 8
width, height = (int(v) for v in (sys.argv[4] if len(sys.argv) > 4 else "256x128").split("x"))
workers = int(sys.argv[5]) if len(sys.argv) > 5 else 2
torch.set_num_threads(int(sys.argv[6]) if len(sys.argv) > 6 else 1)
cuda = torch.cuda.is_available()
device = torch.device("cuda" if cuda else "cpu")
classes = instance_classes(shards)
net = Net(24, classes).to(device)
optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)


def step(tensors):
    train_step(net, optimizer, tensors, device, len(classes))


def rate(batches):
    for _ in range(3):
        step(next(batches))
    started = time.perf_counter()
    for _ in range(steps):
        step(next(batches))
    return steps * batch / (time.perf_counter() - started)


loader = torch.utils.data.DataLoader(ShardSamples(shards, classes, width, height, seed=1), batch_size=batch,
                                     num_workers=workers, pin_memory=cuda, persistent_workers=workers > 0)
from_shards = rate(iter(loader))
fixed = next(iter(loader))
in_memory = rate(iter(lambda: fixed, None))
print(json.dumps({"device": device.type, "torch": torch.__version__, "batch": batch, "input": [width, height],
                  "workers": workers, "threads": torch.get_num_threads(),
                  "images_per_second_from_shards": from_shards, "images_per_second_in_memory": in_memory,
                  "data_path_share": max(0.0, 1 - from_shards / in_memory)}))
