"""PointRend's training throughput from shards against the same steps on batches already in memory.

    python Benchmarks/detector_bench.py SHARDS_PATTERN --steps 12 --batch 2 --short-side 256 --workers 4

Both runs build the same model from the same seed and run the same steps on the same batches (the plan
is deterministic), so the difference is what reading, decoding and target-making cost the step: the
loader's workers overlap it with the model's compute, and what is left shows as waiting. Prints JSON.
"""
import argparse
import json
import sys
import time

import torch

from synmix_torch.detection import build
from synmix_torch.detection_data import PlanBatches
from synmix_torch.plan import DataPlan, Source
from synmix_torch.shards import expand
from synmix_torch.train_detector import instance_classes


def steps(model, optimizer, batches, device, count):
    """Seconds for `count` training steps on the batches an iterator yields (its first `warm` excluded)."""
    cuda = device.type == "cuda"
    started = None
    for n, (_, _, images, targets) in enumerate(batches):
        if n == 2:
            if cuda:
                torch.cuda.synchronize()
            started = time.perf_counter()
        images = [i.to(device, non_blocking=True) for i in images]
        targets = [{k: v.to(device, non_blocking=True) for k, v in t.items()} for t in targets]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = sum(model(images, targets).values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if n + 1 == count:
            break
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - started


def main():
    p = argparse.ArgumentParser()
    p.add_argument("shards")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--short-side", type=int, default=256)
    p.add_argument("--backbone", default="resnet18")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--rois-per-image", type=int, default=512)
    args = p.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    shards = expand(args.shards)
    classes = instance_classes(shards, None)
    plan = DataPlan([Source("train", shards)], [args.batch], seed=1)

    def dataset():
        return PlanBatches(plan, classes, 0, 1, 0, args.steps, short_sides=(args.short_side,), max_size=4 * args.short_side)

    def fresh():
        torch.manual_seed(1)
        model = build("pointrend", classes, args.backbone).to(device).train()
        model.roi_heads.fg_bg_sampler.batch_size_per_image = args.rois_per_image
        return model, torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)

    in_memory = list(dataset())
    model, optimizer = fresh()
    memory_seconds = steps(model, optimizer, iter(in_memory), device, args.steps)
    model, optimizer = fresh()
    loader = torch.utils.data.DataLoader(dataset(), batch_size=None, num_workers=args.workers, pin_memory=device.type == "cuda",
                                         prefetch_factor=4 if args.workers else None)
    shard_seconds = steps(model, optimizer, iter(loader), device, args.steps)
    images = (args.steps - 2) * args.batch
    json.dump({"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "threads": torch.get_num_threads(),
               "backbone": args.backbone, "batch": args.batch, "short_side": args.short_side, "workers": args.workers,
               "in_memory_images_per_second": images / memory_seconds, "shards_images_per_second": images / shard_seconds,
               "data_path_cost": 1 - memory_seconds / shard_seconds}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
