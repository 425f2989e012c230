"""A trained detector's predictions on shards, in the Cityscapes results format, at each image's original size.

    python -m synmix_torch.predict --run RUN --shards 'val/mix-*.tar' --out PRED
    train-shards evaluate --predictions PRED --shards 'val/mix-*.tar'

Per image NAME_pred.txt (NAME: the last part of the record id, as `train-shards predict` names it) with a
line `masks/NAME_I.png LABELID SCORE` per instance, masks 8-bit 0/255 at the record's `original_size`:
what cityscapesScripts' evaluation and `train-shards evaluate --predictions` read. Each image is resized
to the checkpoint's test scale (short side, longest side) before the detector sees it.
"""
import argparse
import io
import os
import re
import sys

import numpy as np
import torch
from PIL import Image

from . import detector_checkpoint as checkpoints
from .detection import paste_masks
from .detection_data import image_tensor, scaled_size
from .shards import SampleReader, ShardError, expand, sample_counts

# The evaluated classes' Cityscapes label ids (cityscapesScripts, helpers/labels.py); the results format names these.
CITYSCAPES_LABEL_IDS = {"person": 24, "rider": 25, "car": 26, "truck": 27, "bus": 28, "train": 31, "motorcycle": 32, "bicycle": 33}


def result_name(record):
    """Sources/SynmixCore/Files.swift safeName of the record id's last part: the name both predictors write."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", str(record["id"]).split("/")[-1])


def write_atomically(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def png_bytes(mask):
    buffer = io.BytesIO()
    Image.fromarray((mask.astype(np.uint8) * 255)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


@torch.no_grad()
def predict_image(detector, pixels, settings, output_size, device):
    """(labels, scores, masks [N, H, W] bool at output_size (w, h)) for one uint8 image [h, w, 3]."""
    height, width = pixels.shape[:2]
    size = scaled_size(width, height, settings["test_short_side"], settings["test_max_size"])
    result = detector([image_tensor(pixels, size).to(device)])[0]
    boxes = result["boxes"] * torch.tensor([output_size[0] / size[0], output_size[1] / size[1]] * 2, device=result["boxes"].device)
    masks = paste_masks(result["masks"].float(), boxes, output_size[1], output_size[0])
    return result["labels"].cpu(), result["scores"].float().cpu(), masks.cpu()


def write_predictions(name, classes, labels, scores, masks, out):
    lines = []
    for i, (label, score, mask) in enumerate(zip(labels.tolist(), scores.tolist(), masks.numpy())):
        label_id = CITYSCAPES_LABEL_IDS.get(classes[label - 1])
        if label_id is None:
            continue     # a class the Cityscapes evaluation does not score
        file = f"masks/{name}_{i}.png"
        write_atomically(os.path.join(out, file), png_bytes(mask))
        lines.append(f"{file} {label_id} {score!r}\n")
    write_atomically(os.path.join(out, f"{name}_pred.txt"), "".join(lines).encode())


def predict_shards(detector, settings, shards, out, device):
    """Writes the predictions of every sample of `shards` under `out`; returns how many images."""
    detector.eval()
    classes = detector.config["classes"]
    os.makedirs(os.path.join(out, "masks"), exist_ok=True)
    reader, names = SampleReader(), {}
    for shard, count in zip(shards, sample_counts(shards)):
        for index in range(count):
            key, record, pixels = reader.read(shard, index, count)
            name = result_name(record)
            if name in names:
                raise ShardError(f"{shard}: sample {key!r} would write {name}_pred.txt, as {names[name]} does")
            names[name] = key
            labels, scores, masks = predict_image(detector, pixels, settings, tuple(record["original_size"]), device)
            write_predictions(name, classes, labels, scores, masks, out)
    return len(names)


def main(argv=None):
    p = argparse.ArgumentParser(prog="synmix_torch.predict", description=__doc__.splitlines()[0])
    p.add_argument("--run", help="a training run folder (its model.safetensors)")
    p.add_argument("--model", help="instead of --run: a detector checkpoint")
    p.add_argument("--shards", required=True, help="shards to predict (glob or brace range)")
    p.add_argument("--out", required=True, help="output folder (NAME_pred.txt and masks/)")
    args = p.parse_args(argv)
    if (args.run is None) == (args.model is None):
        p.error("give --run or --model")
    path = args.model or os.path.join(args.run, "model.safetensors")
    try:
        detector, settings, _, _ = checkpoints.load(path)
    except checkpoints.CheckpointError as error:
        sys.exit(str(error))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    detector.to(device)
    try:
        written = predict_shards(detector, settings, expand(args.shards), args.out, device)
    except ShardError as error:
        sys.exit(str(error))
    print(f"wrote predictions for {written} images to {args.out}", flush=True)


if __name__ == "__main__":
    main()
