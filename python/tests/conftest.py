"""Shards written the way pack-mix writes them (docs/formats.md, "Shards"), small enough to make in a test."""
import io
import json
import os
import tarfile

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask

CLASSES = ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"]


def rle(mask):
    encoded = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in encoded["size"]], "counts": encoded["counts"].decode()}


def record(key, domain, width=64, height=32, boxes=(("car", 8, 8, 24, 20),), ignore=None):
    instances = []
    for n, (name, x1, y1, x2, y2) in enumerate(boxes):
        mask = np.zeros((height, width), bool)
        mask[y1:y2, x1:x2] = True
        instances.append({"id": n, "class": name, "iscrowd": 0, "area": int(mask.sum()), "bbox": [x1, y1, x2 - x1, y2 - y1],
                          "mask": rle(mask), "source_id": 26000 + n})
    ignore_rle = None
    if ignore is not None:
        region = np.zeros((height, width), bool)
        x1, y1, x2, y2 = ignore
        region[y1:y2, x1:x2] = True
        ignore_rle = rle(region)
    return {"id": f"{domain}/train/{key}", "key": key, "source": "cityscapes" if domain == "real" else "synscapes", "domain": domain,
            "split": "train", "width": width, "height": height, "original_size": [width * 2, height * 2], "image_format": "png",
            "instances": instances, "ignore": ignore_rle}


def png(width, height, seed):
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def add(archive, name, data):
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    archive.addfile(info, io.BytesIO(data))


def write_shard(path, records, members=None):
    """A shard of `records` (json then png per sample); `members` replaces the member list when given."""
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as archive:
        for n, r in enumerate(records):
            add(archive, f"{r['key']}.json", json.dumps(r).encode())
            add(archive, f"{r['key']}.png", png(r["width"], r["height"], n))
        for name, data in members or []:
            add(archive, name, data)


def write_source(folder, domain, shards, per_shard):
    """`shards` shards of `per_shard` samples each, with pack-mix's index.json naming the taxonomy."""
    os.makedirs(folder, exist_ok=True)
    entries = []
    for s in range(shards):
        name = f"mix-{s:06d}.tar"
        write_shard(os.path.join(folder, name), [record(f"{domain}-{s}-{i}", domain) for i in range(per_shard)])
        entries.append({"name": name, "samples": per_shard})
    index = {"format": "synmix-shards-1", "taxonomy": {"classes": [{"name": c, "instances": True} for c in CLASSES]}, "shards": entries}
    with open(os.path.join(folder, "index.json"), "w") as f:
        json.dump(index, f)
    return os.path.join(folder, "mix-*.tar")


@pytest.fixture
def two_sources(tmp_path):
    return (write_source(str(tmp_path / "real"), "real", 2, 5), write_source(str(tmp_path / "synthetic"), "synthetic", 3, 4))
