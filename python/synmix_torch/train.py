"""Train the synmix network with PyTorch, on one process or many (torchrun, DDP), from shards.
`--model maskrcnn` or `--model pointrend` trains the seed's detector instead (train_detector.py).

    python -m synmix_torch.train --train 'shards/mix-*.tar' --out run --steps 3000 --batch 8
    torchrun --nproc_per_node 8 -m synmix_torch.train --train 'shards/mix-{000000..000249}.tar' \\
        --out run --epochs 50 --batch 8 --input-size 1024x512 --width 64 --workers 4

The flags mean what `train-shards fit`'s mean (--batch is per process). NCCL on CUDA, gloo
on CPU; bfloat16 autocast on CUDA. Rank 0 writes checkpoints/step-NNNNNN.safetensors (the
last two kept), metrics.json and model.safetensors in synmix's formats, so
`train-shards evaluate --model OUT/model.safetensors --shards VAL` scores the run.
"""
import argparse
import glob
import json
import math
import os
import re
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
import webdataset as wds

from . import checkpoint
from .data import ShardSamples, instance_classes, shard_index
from .model import Net
from .seeds import derive
from .shards import ShardError, verify
from .targets import DEFAULT_SIGMA

DETECTORS = ("maskrcnn", "pointrend")
LOSS_WEIGHTS = {"semantic": 1.0, "center": 200.0, "offset": 1.0}
WARMUP_FRACTION = 0.1


def expand(patterns):
    """Shard lists as `train-shards` takes them: brace ranges and globs, in order."""
    shards = []
    for pattern in patterns:
        named = re.match(r"([A-Za-z_][\w-]*)=", pattern)
        if named and not glob.glob(pattern):
            raise SystemExit(f"--train {pattern}: named sources (NAME=PATTERN, with --share) are the detector's "
                             f"(--model maskrcnn or pointrend); the twin reads one stream: give the pattern alone")
        for url in wds.shardlists.expand_urls(pattern):
            matches = sorted(glob.glob(url)) if any(c in url for c in "*?[") else [url]
            if not matches:
                raise SystemExit(f"{url}: no shard matches")
            shards += matches
    return shards


def pixel_size(text):
    match = re.fullmatch(r"(\d+)[xX](\d+)", text)
    if not match or int(match[1]) % 16 or int(match[2]) % 16 or int(match[1]) == 0 or int(match[2]) == 0:
        raise argparse.ArgumentTypeError(f"--input-size must be WxH with both multiples of 16, got '{text}'")
    return int(match[1]), int(match[2])


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def arguments(argv=None):
    p = argparse.ArgumentParser(prog="synmix_torch.train", description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("synmix",), default="synmix", help="synmix (this network); maskrcnn and pointrend: train_detector")
    p.add_argument("--train", action="append", required=True, help="training shards (glob or brace range); repeatable")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--steps", type=positive, help="training steps (every rank takes them all)")
    p.add_argument("--epochs", type=positive, help="instead of --steps: epochs over the shards' samples (from index.json)")
    p.add_argument("--batch", type=positive, default=8, help="images per batch and process")
    p.add_argument("--input-size", type=pixel_size, default=(256, 128), help="network input WxH (multiples of 16)")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (AdamW, linear warm-up, cosine)")
    p.add_argument("--seed", type=int, default=1, help="seed of initialisation, data order and augmentation")
    p.add_argument("--width", type=positive, default=24, help="network width (channels at stride 4)")
    p.add_argument("--init", help="start from this checkpoint's weights (either side's)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes per rank (0: decode in the main process)")
    p.add_argument("--checkpoint-every", type=positive, default=100)
    p.add_argument("--log-every", type=positive, default=10)
    p.add_argument("--no-augment", action="store_true", help="no random scale, crop and flip")
    p.add_argument("--classes", nargs="*", help="instance classes, when index.json does not name the taxonomy")
    p.add_argument("--verify-shards", action="store_true", help="check each shard's SHA-256 against index.json first")
    args = p.parse_args(argv)
    if (args.steps is None) == (args.epochs is None):
        p.error("give exactly one of --steps and --epochs")
    if not (args.lr > 0 and math.isfinite(args.lr)):
        p.error("--lr must be a positive number")
    return args


def learning_rate(peak, step, total):
    """Sources/Network/AdamW.swift's rate(at:) for 1-based `step`: linear warm-up, then cosine to zero."""
    warmup = int(total * WARMUP_FRACTION)
    if warmup > 0 and step <= warmup:
        return peak * step / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def losses(heads, semantic, center, offset, weight, classes):
    """Sources/Network/Losses.swift: cross-entropy (ignore -1), 200 × MSE, masked L1; returns (total, parts)."""
    k = classes + 1
    logits, predicted_center, predicted_offset = heads[:, :k].float(), heads[:, k].float(), heads[:, k + 1:].float()
    counted = (semantic >= 0).sum()
    ce = F.cross_entropy(logits, semantic, ignore_index=-1, reduction="sum") / counted.clamp(min=1)
    mse = F.mse_loss(predicted_center, center)
    l1 = ((predicted_offset - offset).abs() * weight[:, None]).sum() / (weight.sum() * 2).clamp(min=1)
    total = LOSS_WEIGHTS["semantic"] * ce + LOSS_WEIGHTS["center"] * mse + LOSS_WEIGHTS["offset"] * l1
    return total, {"semantic": ce.item(), "center": mse.item(), "offset": l1.item()}


def train_step(model, optimizer, tensors, device, classes):
    """One step on a batch (image, semantic, center, offset, weight): forward (bfloat16 autocast on
    CUDA), the losses, backward, AdamW. Returns the loss and its parts."""
    cuda = device.type == "cuda"
    image, semantic, center, offset, weight = (t.to(device, non_blocking=True) for t in tensors)
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
        heads = model(image)
    loss, parts = losses(heads, semantic, center, offset, weight, classes)
    loss.backward()
    optimizer.step()
    if cuda:
        torch.cuda.synchronize()
    return loss, parts


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    chooser = argparse.ArgumentParser(add_help=False)
    chooser.add_argument("--model", choices=("synmix",) + DETECTORS, default="synmix")
    chosen, _ = chooser.parse_known_args(argv)
    if chosen.model in DETECTORS:
        from . import train_detector   # needs torchvision (pip install './python[detection]')
        return train_detector.main(argv)
    args = arguments(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo")
    if cuda:
        torch.cuda.set_device(device)

    def say(text):
        if rank == 0:
            print(text, flush=True)

    shards = expand(args.train)
    classes = instance_classes(shards, args.classes)
    if args.verify_shards:
        try:
            verify(shards)
        except ShardError as error:
            sys.exit(str(error))
    folder = os.path.join(args.out, "checkpoints")
    latest = sorted(glob.glob(os.path.join(folder, "step-*.safetensors")))
    earlier = [p for p in latest[-1:] + [os.path.join(args.out, n) for n in ("metrics.json", "model.safetensors")] if os.path.exists(p)]
    if earlier and not args.resume:
        sys.exit(f"{args.out} holds an earlier run ({earlier[0]}): continue it with --resume, or train into a new --out")
    os.makedirs(folder, exist_ok=True)

    samples = None
    if args.epochs:
        index = shard_index(shards)
        if index is None:
            sys.exit(f"--epochs needs pack-mix's index.json beside {shards[0]} (or give --steps)")
        names = {os.path.basename(s) for s in shards}
        samples = sum(e["samples"] for e in index["shards"] if e["name"] in names)
    total = args.steps or math.ceil(args.epochs * samples / (args.batch * world))

    torch.manual_seed(args.seed)
    net = Net(args.width, classes)
    start, epoch, moments, optimizer_step = 0, 0, None, 0
    if args.resume and latest:
        loaded, _, training = checkpoint.load_model(latest[-1])
        net.load_state_dict(loaded.state_dict())
        state, moments = training
        start, optimizer_step, epoch = state["step"], state["optimizer_step"], state["epochs"][0] + 1
        say(f"resumed from {latest[-1]} at step {start}")
    elif args.init:
        loaded, _, _ = checkpoint.load_model(args.init)
        if loaded.config != net.config:
            sys.exit(f"{args.init}: checkpoint of another architecture: it holds {json.dumps(loaded.config)}, "
                     f"this model is {json.dumps(net.config)}")
        net.load_state_dict(loaded.state_dict())
        say(f"initialised from {args.init}")
    net.to(device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4)
    if moments is not None:
        checkpoint.restore_optimizer(net, optimizer, moments, optimizer_step)
    model = torch.nn.parallel.DistributedDataParallel(net, device_ids=[local_rank] if cuda else None) if world > 1 else net

    width, height = args.input_size
    # The epoch the run starts at indexes the stream: a resumed run reads on, not the first epochs again.
    dataset = ShardSamples(shards, classes, width, height, derive(args.seed, "data", epoch), rank, world, augment=not args.no_augment)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch, num_workers=args.workers,
                                         pin_memory=cuda, persistent_workers=args.workers > 0)
    say(f"model {json.dumps(net.config)} with {sum(p.numel() for p in net.parameters())} parameters; {total} steps of "
        f"{args.batch} × {world} process(es) at {width}x{height} on {device.type}")

    metrics_path = os.path.join(args.out, "metrics.json")
    steps_log = []
    if args.resume and os.path.exists(metrics_path):
        with open(metrics_path) as f:
            steps_log = [s for s in json.load(f)["steps"] if s["step"] <= start]
    training_options = {
        "train": [{"name": "train", "shards": shards}], "shares": None, "eval": [], "batch": args.batch,
        "processes": world, "input_size": [width, height], "lr": args.lr, "warmup_fraction": WARMUP_FRACTION,
        "schedule": "linear warm-up, cosine", "seed": args.seed, "threads": torch.get_num_threads(), "init": args.init,
        "augment": not args.no_augment, "center_sigma": DEFAULT_SIGMA, "loss_weights": LOSS_WEIGHTS, "trainer": "synmix_torch",
    }
    waiting = computing = 0.0
    started = time.perf_counter()

    def write_metrics():
        seconds = waiting + computing
        done = len(steps_log) and steps_log[-1]["step"] - start
        metrics = {"model": net.config, "training": training_options, "steps": steps_log, "evaluations": [],
                   "timing": {"images_per_second": done * args.batch * world / seconds if seconds else 0.0,
                              "data_wait_share": waiting / seconds if seconds else 0.0, "seconds": seconds},
                   "skipped": []}
        with open(metrics_path + ".tmp", "w") as f:
            json.dump(metrics, f, indent=2)
        os.replace(metrics_path + ".tmp", metrics_path)

    batches = iter(loader)
    model.train()
    for step in range(start, total):
        t0 = time.perf_counter()
        batch = next(batches)
        t1 = time.perf_counter()
        rate = learning_rate(args.lr, step + 1, total)
        for group in optimizer.param_groups:
            group["lr"] = rate
        loss, parts = train_step(model, optimizer, batch, device, len(classes))
        optimizer_step += 1
        t2 = time.perf_counter()
        waiting += t1 - t0
        computing += t2 - t1
        if not math.isfinite(loss.item()):
            sys.exit(f"{args.out}: the loss diverged at step {step + 1}")
        done = step + 1
        steps_log.append({"step": done, "loss": loss.item(), **parts, "lr": rate})
        if rank == 0 and (done % args.log_every == 0 or done == total):
            rate_ips = (done - start) * args.batch * world / (time.perf_counter() - started)
            say(f"step {done}/{total}  loss {loss.item():.4f} (sem {parts['semantic']:.4f} ctr {parts['center']:.5f} "
                f"off {parts['offset']:.4f})  lr {rate:.2e}  {rate_ips:.1f} img/s  data wait {100 * waiting / (waiting + computing):.1f}%")
        if rank == 0 and (done % args.checkpoint_every == 0 or done == total):
            write_metrics()
            checkpoint.save(net, os.path.join(folder, f"step-{done:06d}.safetensors"), (width, height), optimizer, done, optimizer_step, epoch)
            for old in sorted(glob.glob(os.path.join(folder, "step-*.safetensors")))[:-2]:
                os.remove(old)
    if rank == 0:
        write_metrics()
        checkpoint.save(net, os.path.join(args.out, "model.safetensors"), (width, height))
        say(f"done: {total} steps; model in {args.out}/model.safetensors")
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
