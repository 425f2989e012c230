"""Train the seed's detector (`--model maskrcnn` or `pointrend`) from synmix shards, on one process or many.

    python -m synmix_torch.train --model pointrend --train 'shards/mix-*.tar' --out run
    torchrun --nproc_per_node 8 -m synmix_torch.train --model pointrend --backbone-weights resnet50.pth \\
        --train real='real/mix-*.tar' --train synthetic='syn/mix-*.tar' --share real=0.5 --out run

Defaults are Detectron2's Cityscapes recipe (configs/Cityscapes/mask_rcnn_R_50_FPN.yaml; PointRend's
Cityscapes config has the same solver): a global batch of 8 images, SGD with momentum 0.9 and weight
decay 1e-4, lr 0.01 per 8 images scaled linearly with the global batch, 24 000 steps with the lr ×0.1
at 18 000, linear warm-up over 1 000 steps from 0.1 %, multi-scale training on the short side
(800–1024), horizontal flip. NCCL on CUDA, gloo on CPU; bfloat16 autocast on CUDA.

Rank 0 writes OUT/checkpoints/step-NNNNNN.safetensors (the last two kept), metrics.json and
model.safetensors; `python -m synmix_torch.predict --run OUT` writes Cityscapes-format predictions that
`train-shards evaluate --predictions` scores. A run killed at any step continues with --resume and sees
exactly the samples an uninterrupted run sees, also on another number of ranks (plan.py).
"""
import argparse
import glob
import json
import math
import os
import shutil
import subprocess
import sys
import time

import torch
import torch.distributed as dist

from . import detector_checkpoint as checkpoints
from .detection import BACKBONES, DETECTIONS_PER_IMAGE, MODELS, ROI_BATCH, build
from .detection_data import TEST_MAX_SIZE, TEST_SHORT_SIDE, TRAIN_MAX_SIZE, TRAIN_SHORT_SIDES, PlanBatches
from .plan import DataPlan, PlanError, Source, split_batch
from .predict import predict_shards
from .shards import ShardError, expand, index_json, verify

RECIPE_GLOBAL_BATCH = 8          # Detectron2 Cityscapes: IMS_PER_BATCH 8
RECIPE_LR_PER_8_IMAGES = 0.01    # BASE_LR 0.01 at 8 images per batch
RECIPE_STEPS = 24_000            # MAX_ITER 24000
RECIPE_LR_STEP_FRACTION = 0.75   # STEPS (18000,) of 24000
LR_DECAY = 0.1                   # GAMMA
MOMENTUM = 0.9                   # MOMENTUM
WEIGHT_DECAY = 1e-4              # WEIGHT_DECAY
WARMUP_STEPS = 1000              # WARMUP_ITERS (at most a tenth of a shorter run here)
WARMUP_FACTOR = 1e-3             # WARMUP_FACTOR, linear
# Options a resumed run must share with the checkpoint (what fixes the samples, the model and the schedule).
RESUME_FIXED = ("model", "backbone", "classes", "steps", "lr", "lr_steps", "warmup_steps", "seed", "global_batch",
                "train", "share", "short_sides", "max_size", "augment")


def named_sources(values):
    """--train PATTERN or --train NAME=PATTERN (repeatable) -> [(name, shards)]."""
    sources = []
    for value in values:
        name, eq, pattern = value.partition("=")
        if not eq or "/" in name or "*" in name or not name:
            name, pattern = "train", value
        shards = [s for part in pattern.split(",") for s in expand(part)]
        if any(name == n for n, _ in sources):
            raise SystemExit(f"--train names {name} twice: name each source once (real=…, synthetic=…)")
        sources.append((name, shards))
    if len(sources) > 1 and any(n == "train" for n, _ in sources):
        raise SystemExit("with several --train sources, name each: --train real=PATTERN --train synthetic=PATTERN")
    return sources


def shares(values):
    parsed = {}
    for value in values or []:
        name, eq, number = value.partition("=")
        try:
            parsed[name] = float(number)
        except ValueError:
            raise SystemExit(f"--share must be NAME=FRACTION, got {value!r}") from None
        if not eq or not math.isfinite(parsed[name]):
            raise SystemExit(f"--share must be NAME=FRACTION, got {value!r}")
    return parsed


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def sizes(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, got {text!r}") from None
    if not values or any(v < 1 or v > checkpoints.MAX_SIDE for v in values):
        raise argparse.ArgumentTypeError(f"sizes must be in 1…{checkpoints.MAX_SIDE}, got {text!r}")
    return values


def arguments(argv=None):
    p = argparse.ArgumentParser(prog="synmix_torch.train", description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=MODELS, required=True)
    p.add_argument("--backbone", choices=BACKBONES, default="resnet50", help="ResNet depth of the FPN backbone (resnet18 for tests and CPUs)")
    p.add_argument("--train", action="append", required=True, help="shards (glob, brace range); NAME=PATTERN for a named source; repeatable")
    p.add_argument("--share", action="append", help="NAME=FRACTION: that source's exact share of every batch (as train-shards fit)")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--steps", type=positive, default=RECIPE_STEPS)
    p.add_argument("--batch", type=positive, help=f"images per step and process (default: {RECIPE_GLOBAL_BATCH} in all, split over the processes)")
    p.add_argument("--lr", type=float, help="base learning rate (default 0.01 × global batch / 8)")
    p.add_argument("--lr-steps", type=sizes, help="steps at which the lr is multiplied by 0.1 (default: at 75 %% of --steps)")
    p.add_argument("--warmup-steps", type=int, help=f"linear warm-up (default {WARMUP_STEPS}, at most a tenth of --steps)")
    p.add_argument("--short-sides", type=sizes, default=list(TRAIN_SHORT_SIDES), help="training short sides to draw from (pixels)")
    p.add_argument("--max-size", type=positive, default=TRAIN_MAX_SIZE, help="longest side in training")
    p.add_argument("--test-short-side", type=positive, default=TEST_SHORT_SIDE, help="short side at prediction (recorded in the checkpoint)")
    p.add_argument("--test-max-size", type=positive, default=TEST_MAX_SIZE)
    p.add_argument("--rois-per-image", type=positive, default=ROI_BATCH,
                   help=f"proposals sampled per image for the box and mask losses (default {ROI_BATCH}, Detectron2's; fewer on CPUs)")
    p.add_argument("--detections-per-image", type=positive, default=DETECTIONS_PER_IMAGE,
                   help=f"detections kept per image at prediction (default {DETECTIONS_PER_IMAGE}; recorded in the checkpoint)")
    p.add_argument("--no-augment", action="store_true", help="largest short side, no flip")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--backbone-weights", help="ImageNet ResNet state dict (.pth or .safetensors) for the backbone")
    p.add_argument("--init", help="a COCO Mask R-CNN state dict; class-specific layers are re-initialised")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    p.add_argument("--workers", type=int, default=4, help="DataLoader worker processes per rank (0: load in the main process)")
    p.add_argument("--checkpoint-every", type=positive, default=500)
    p.add_argument("--log-every", type=positive, default=20)
    p.add_argument("--log-keys", action="store_true", help="write every step's sample keys (all ranks, in plan order) to OUT/keys.jsonl")
    p.add_argument("--verify-shards", action="store_true", help="check each shard's SHA-256 against index.json first")
    p.add_argument("--eval", action="append", default=[], help="NAME=PATTERN: val shards scored through train-shards evaluate "
                   "every --eval-every steps and at the end (repeatable)")
    p.add_argument("--eval-every", type=positive, help="steps between evaluations (default: only at the end)")
    p.add_argument("--evaluator", default=os.environ.get("SYNMIX_TRAIN_SHARDS", "train-shards"),
                   help="the train-shards executable that scores predictions (default: $SYNMIX_TRAIN_SHARDS, else on PATH)")
    p.add_argument("--classes", nargs="*", help="instance classes, when index.json does not name the taxonomy")
    args = p.parse_args(argv)
    if args.seed < 0:
        p.error("--seed must be 0 or more")
    if args.lr is not None and not (args.lr > 0 and math.isfinite(args.lr)):
        p.error("--lr must be a positive number")
    if args.workers < 0:
        p.error("--workers must be 0 or more")
    for value in args.eval:
        if "=" not in value or not value.split("=", 1)[0]:
            p.error(f"--eval must be NAME=PATTERN, got {value!r}")
    if args.init and args.backbone_weights:
        p.error("give --init (a whole COCO detector) or --backbone-weights (an ImageNet backbone), not both")
    return args


def instance_classes(shards, given):
    """The taxonomy's instance classes in id order, from index.json beside the shards."""
    index = index_json(os.path.dirname(shards[0]) or ".")
    if index and index.get("taxonomy"):
        return [c["name"] for c in index["taxonomy"]["classes"] if c.get("instances")]
    if given:
        return list(given)
    raise SystemExit(f"{shards[0]}: no index.json naming the taxonomy beside the shards; pass --classes")


def learning_rate(base, step, warmup, lr_steps):
    """Detectron2's WarmupMultiStepLR at 0-based `step`: linear warm-up from WARMUP_FACTOR, ×0.1 at each lr step."""
    factor = LR_DECAY ** sum(step >= s for s in lr_steps)
    if step < warmup:
        alpha = step / warmup
        factor *= WARMUP_FACTOR * (1 - alpha) + alpha
    return base * factor


def starting_detector(args, classes, say):
    """A new detector; from --init, a synmix detector checkpoint continues as it is (fine-tuning), any other state
    dict (torchvision's COCO Mask R-CNN) initialises what fits; --backbone-weights initialise the backbone."""
    if args.init and checkpoints.is_detector_checkpoint(args.init):
        detector, _, _, _ = checkpoints.load(args.init)
        if (detector.config["model"], detector.config["backbone"], detector.config["classes"]) != (args.model, args.backbone, classes):
            raise checkpoints.CheckpointError(f"{args.init}: a {detector.config['model']} {detector.config['backbone']} over "
                                              f"{detector.config['classes']}; this run trains a {args.model} {args.backbone} over {classes}")
        say(f"initialised from {args.init}")
        return detector
    detector = build(args.model, classes, args.backbone, pretrained_backbone=bool(args.backbone_weights or args.init))
    initialise(detector, args, say)
    return detector


def initialise(detector, args, say):
    if args.backbone_weights:
        state = checkpoints.load_weights_file(args.backbone_weights)
        loaded, skipped = checkpoints.load_partial(detector.backbone.body, state, args.backbone_weights, f"{args.backbone} backbone")
        say(f"backbone from {args.backbone_weights}: {loaded} tensors ({len(skipped)} not in the file)")
    if args.init:
        # torchvision's COCO Mask R-CNN names its mask head roi_heads.mask_head / mask_predictor; ours is one branch.
        state = {k.replace("roi_heads.mask_head.", "roi_heads.mask_branch.head.").replace("roi_heads.mask_predictor.", "roi_heads.mask_branch.predictor."): v
                 for k, v in checkpoints.load_weights_file(args.init).items()}
        loaded, skipped = checkpoints.load_partial(detector, state, args.init, "detector")
        say(f"initialised from {args.init}: {loaded} tensors; re-initialised {len(skipped)} "
            f"(class-specific or not in the file): {', '.join(skipped[:6])}{' …' if len(skipped) > 6 else ''}")


def main(argv=None):
    args = arguments(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo")

    def say(text):
        if rank == 0:
            print(text, flush=True)

    try:
        evaluations = [(name, pattern, expand(pattern)) for name, _, pattern in (v.partition("=") for v in args.eval)]
        sources = named_sources(args.train)
        classes = instance_classes(sources[0][1], args.classes)
        if args.verify_shards:
            for _, shards in sources:
                verify(shards)
        if args.batch is None and RECIPE_GLOBAL_BATCH % world:
            raise PlanError(f"the recipe's global batch of {RECIPE_GLOBAL_BATCH} does not split over {world} ranks: give --batch")
        global_batch = (args.batch or RECIPE_GLOBAL_BATCH // world) * world
        plan = DataPlan([Source(n, s) for n, s in sources], split_batch(global_batch, shares(args.share), [n for n, _ in sources]), args.seed)
        plan.check_world(world)
    except (PlanError, ShardError) as error:
        sys.exit(str(error))
    lr = args.lr if args.lr is not None else RECIPE_LR_PER_8_IMAGES * global_batch / RECIPE_GLOBAL_BATCH
    lr_steps = args.lr_steps if args.lr_steps is not None else [int(args.steps * RECIPE_LR_STEP_FRACTION)]
    warmup = args.warmup_steps if args.warmup_steps is not None else min(WARMUP_STEPS, args.steps // 10)
    options = {"model": args.model, "backbone": args.backbone, "classes": classes, "steps": args.steps, "lr": lr,
               "lr_steps": lr_steps, "warmup_steps": warmup, "seed": args.seed, "global_batch": global_batch,
               "train": [{"name": s.name, "shards": s.shards} for s in plan.sources], "share": plan.per_step,
               "short_sides": args.short_sides, "max_size": args.max_size, "augment": not args.no_augment,
               "rois_per_image": args.rois_per_image,
               "momentum": MOMENTUM, "weight_decay": WEIGHT_DECAY, "init": args.init, "backbone_weights": args.backbone_weights,
               "processes": world, "batch": global_batch // world, "workers": args.workers, "trainer": "synmix_torch"}
    input_settings = {"mean": None, "std": None, "test_short_side": args.test_short_side, "test_max_size": args.test_max_size,
                      "detections_per_image": args.detections_per_image}

    folder = os.path.join(args.out, "checkpoints")
    latest = sorted(glob.glob(os.path.join(folder, "step-*.safetensors")))
    earlier = [p for p in latest[-1:] + [os.path.join(args.out, n) for n in ("metrics.json", "model.safetensors")] if os.path.exists(p)]
    if earlier and not args.resume:
        sys.exit(f"{args.out} holds an earlier run ({earlier[0]}): continue it with --resume, or train into a new --out")
    if rank == 0:
        os.makedirs(folder, exist_ok=True)

    torch.manual_seed(args.seed)
    start, momentum = 0, {}
    if args.resume and latest:
        try:
            detector, settings, training, momentum = checkpoints.load(latest[-1])
        except checkpoints.CheckpointError as error:
            sys.exit(f"cannot resume: {error}")
        if training is None:
            sys.exit(f"cannot resume: {latest[-1]} holds no training state")
        start = training["step"]
        changed = [f"{k}: checkpoint {training['options'].get(k)!r}, now {options[k]!r}"
                   for k in RESUME_FIXED if training["options"].get(k) != options[k]]
        changed += plan.differences(training["data"], start)
        if start > args.steps:
            changed.append(f"step {start} is past --steps {args.steps}")
        if changed:
            sys.exit(f"cannot resume {latest[-1]}: the run's options or data differ — " + "; ".join(changed)
                     + " (resume with the same options, or train into a new --out)")
        say(f"resumed from {latest[-1]} at step {start} (data position: " +
            ", ".join(f"{s['name']} {s['consumed']} samples, epoch {s['epoch']}" for s in training["data"]["sources"]) + ")")
        input_settings = settings
    else:
        try:
            detector = starting_detector(args, classes, say)
        except checkpoints.CheckpointError as error:
            sys.exit(str(error))
        input_settings["mean"], input_settings["std"] = detector.transform.image_mean, detector.transform.image_std
    detector.roi_heads.fg_bg_sampler.batch_size_per_image = args.rois_per_image
    detector.roi_heads.detections_per_img = input_settings["detections_per_image"]
    detector.to(device)
    parameters = [p for p in detector.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(parameters, lr=lr, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    if momentum:
        names = {id(p): n for n, p in detector.named_parameters()}
        missing = [names[id(p)] for p in parameters if names[id(p)] not in momentum]
        if missing:
            sys.exit(f"cannot resume: {latest[-1]} lacks the momentum of {', '.join(missing[:3])}")
        for p in parameters:
            optimizer.state[p]["momentum_buffer"] = momentum[names[id(p)]].to(device)
    model = torch.nn.parallel.DistributedDataParallel(detector, device_ids=[local_rank] if cuda else None) if world > 1 else detector

    dataset = PlanBatches(plan, classes, rank, world, start, args.steps, args.short_sides, args.max_size, augment=not args.no_augment)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=args.workers, pin_memory=cuda,
                                         persistent_workers=False, prefetch_factor=4 if args.workers else None)
    say(f"{args.model} {args.backbone}-FPN, {sum(p.numel() for p in detector.parameters())} parameters, {len(classes)} classes; "
        f"{args.steps} steps of {global_batch} images ({' + '.join(f'{c} {s.name}' for s, c in zip(plan.sources, plan.per_step))}) "
        f"over {world} process(es) on {device.type}, lr {lr:g}")

    metrics_path = os.path.join(args.out, "metrics.json")
    keys_path = os.path.join(args.out, "keys.jsonl")
    steps_log, earlier_evaluations = [], []
    if start and os.path.exists(metrics_path):
        try:
            with open(metrics_path) as f:
                previous = json.load(f)
            steps_log = [s for s in previous["steps"] if s["step"] <= start]
            earlier_evaluations = list(previous["evaluations"])
        except (ValueError, KeyError, TypeError) as error:
            sys.exit(f"cannot resume: {metrics_path} is damaged ({error}); move it away to start its log afresh")
    if rank == 0 and args.log_keys:
        kept = []
        if start and os.path.exists(keys_path):
            with open(keys_path) as f:
                kept = [line for line in f if json.loads(line)["step"] <= start]
        with open(keys_path + ".tmp", "w") as f:
            f.writelines(kept)
        os.replace(keys_path + ".tmp", keys_path)

    waiting = computing = 0.0
    evaluation_log = [e for e in earlier_evaluations if e["step"] <= start] if start else []

    def evaluate(step):
        """Rank 0 writes predictions on each --eval set and has train-shards score them; the others wait."""
        if rank == 0:
            detector.eval()
            for name, pattern, shards in evaluations:
                folder = os.path.join(args.out, "evaluations", f"step-{step:06d}", name)
                shutil.rmtree(folder, ignore_errors=True)
                predict_shards(detector, input_settings, shards, os.path.join(folder, "predictions"), device)
                scored = subprocess.run([args.evaluator, "evaluate", "--predictions", os.path.join(folder, "predictions"),
                                         "--shards", pattern, "--out", folder], capture_output=True, text=True)
                if scored.returncode != 0:
                    sys.exit(f"{args.evaluator} evaluate on {pattern} failed at step {step}: {scored.stderr.strip()[-2000:]}")
                with open(os.path.join(folder, "metrics.json")) as f:
                    result = json.load(f)
                evaluation_log.append({"step": step, "name": name, "result": result})
                say(f"step {step}: {name} AP {100 * result['ap']:.1f}, AP50 {100 * result['ap50']:.1f} ({result['images']} images)")
            detector.train()
        if world > 1:
            dist.barrier()

    def write_metrics():
        seconds = waiting + computing
        metrics = {"model": detector.config, "training": options, "steps": steps_log, "evaluations": evaluation_log,
                   "timing": {"images_per_second": (len(steps_log) and steps_log[-1]["step"] - start) * global_batch / seconds if seconds else 0.0,
                              "data_wait_share": waiting / seconds if seconds else 0.0, "seconds": seconds}, "skipped": []}
        with open(metrics_path + ".tmp", "w") as f:
            json.dump(metrics, f, indent=2)
        os.replace(metrics_path + ".tmp", metrics_path)

    model.train()
    started = time.perf_counter()
    batches = iter(loader)
    for step in range(start, args.steps):
        t0 = time.perf_counter()
        planned, keys, images, targets = next(batches)
        assert planned == step, f"the loader returned step {planned} at step {step}"
        t1 = time.perf_counter()
        rate = learning_rate(lr, step, warmup, lr_steps)
        for group in optimizer.param_groups:
            group["lr"] = rate
        images = [i.to(device, non_blocking=True) for i in images]
        targets = [{k: v.to(device, non_blocking=True) for k, v in t.items()} for t in targets]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            parts = model(images, targets)
        loss = sum(parts.values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if cuda:
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        waiting += t1 - t0
        computing += t2 - t1
        if not math.isfinite(loss.item()):
            sys.exit(f"{args.out}: the loss diverged at step {step + 1}")
        done = step + 1
        steps_log.append({"step": done, "loss": loss.item(), **{k: v.item() for k, v in parts.items()}, "lr": rate})
        if args.log_keys:
            every = [None] * world
            if world > 1:
                dist.all_gather_object(every, keys)
            else:
                every = [keys]
            if rank == 0:
                with open(keys_path, "a") as f:
                    f.write(json.dumps({"step": done, "keys": plan.in_plan_order(every)}) + "\n")
        if done % args.log_every == 0 or done == args.steps:
            say(f"step {done}/{args.steps}  loss {loss.item():.4f} (" + " ".join(f"{k[5:]} {v.item():.3f}" for k, v in parts.items())
                + f")  lr {rate:.2e}  {(done - start) * global_batch / (time.perf_counter() - started):.1f} img/s  "
                f"data wait {100 * waiting / (waiting + computing):.1f}%")
        if evaluations and ((args.eval_every and done % args.eval_every == 0) or done == args.steps):
            evaluate(done)
        if rank == 0 and done % args.checkpoint_every == 0 and done < args.steps:   # the last step writes model.safetensors
            write_metrics()
            checkpoints.save(detector, os.path.join(folder, f"step-{done:06d}.safetensors"), input_settings,
                             {"step": done, "options": options, "data": plan.state(done)}, optimizer)
            for old in sorted(glob.glob(os.path.join(folder, "step-*.safetensors")))[:-2]:
                os.remove(old)
    if rank == 0:
        write_metrics()
        checkpoints.save(detector, os.path.join(args.out, "model.safetensors"), input_settings)
        say(f"done: {args.steps} steps; model in {args.out}/model.safetensors")
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
