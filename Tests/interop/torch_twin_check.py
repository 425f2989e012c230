"""Checks of python/synmix_torch against the Swift trainer, driven by TorchTwinTests.swift.

    torch_twin_check.py keys SEED EPOCH WORLD WORKERS SHARD...      sample keys per rank (JSON)
    torch_twin_check.py forward CHECKPOINT IO                        max |PyTorch − io["heads"]| on io["input"]
    torch_twin_check.py export CHECKPOINT OUT W H                    PyTorch's heads on a seeded input -> OUT
    torch_twin_check.py targets W H SWIFT_TARGETS SHARD...           max differences from the Swift targets
"""
import json
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from synmix_torch import checkpoint
from synmix_torch.data import ShardSamples, epoch_keys, instance_classes
from synmix_torch.targets import prepare

command, arguments = sys.argv[1], sys.argv[2:]
if command == "keys":
    seed, epoch, world, workers = (int(a) for a in arguments[:4])
    shards = arguments[4:]
    try:
        print(json.dumps({str(rank): epoch_keys(shards, seed, epoch, rank, world, workers) for rank in range(world)}))
    except ValueError as error:
        print(json.dumps({"error": str(error)}))
elif command == "forward":
    net, _, _ = checkpoint.load_model(arguments[0])
    net.eval()
    io = load_file(arguments[1])
    with torch.no_grad():
        heads = net(io["input"])
    print(json.dumps({"max_difference": float((heads - io["heads"]).abs().max())}))
elif command == "export":
    net, _, _ = checkpoint.load_model(arguments[0])
    net.eval()
    width, height = int(arguments[2]), int(arguments[3])
    torch.manual_seed(3)
    x = torch.randn(2, 3, height, width)
    with torch.no_grad():
        save_file({"input": x.contiguous(), "heads": net(x).contiguous()}, arguments[1])
elif command == "targets":
    width, height, theirs = int(arguments[0]), int(arguments[1]), load_file(arguments[2])
    shards = arguments[3:]
    classes = instance_classes(shards)
    worst = {"image": 0.0, "center": 0.0, "offset": 0.0, "weight": 0.0, "semantic_mismatches": 0, "samples": 0}
    for key, record, pixels in ShardSamples(shards, classes, width, height, 0).samples(0, 0, 1):
        image, semantic, center, offset, weight = prepare(record, pixels, classes, width, height)
        for name, ours in [("image", image), ("center", center), ("offset", offset), ("weight", weight)]:
            worst[name] = max(worst[name], float(np.abs(ours - theirs[f"{key}.{name}"].numpy()).max()))
        worst["semantic_mismatches"] += int((semantic != theirs[f"{key}.semantic"].numpy()).sum())
        worst["samples"] += 1
    print(json.dumps(worst))
