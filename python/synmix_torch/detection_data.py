"""Detection targets from shard samples, and the loader that feeds the plan's batches (plan.py).

A sample becomes an image tensor [3, H, W] in [0, 1] and torchvision's target: `boxes` (from the masks,
[x1, y1, x2, y2] in pixels), `labels` (taxonomy class k -> k + 1), `masks` [N, H, W] uint8 and `ignore`
[H, W] uint8 — the record's ignore region plus every instance the detector must neither learn nor count
as background: crowd regions and instances of classes outside the taxonomy (reported per sample).
Training resizes the short side to a size drawn per sample from the seeded plan (multi-scale) and flips
half the images; both are drawn from (seed, source, position), so any rank or worker draws the same.
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .seeds import derive
from .shards import SampleReader
from .targets import rle_decode

# Detectron2's Cityscapes recipe (configs/Cityscapes/mask_rcnn_R_50_FPN.yaml): short side drawn from
# 800–1024 in steps of 32 in training, 1024 at test, the long side at most 2048; horizontal flip.
TRAIN_SHORT_SIDES = tuple(range(800, 1025, 32))
TRAIN_MAX_SIZE = 2048
TEST_SHORT_SIDE = 1024
TEST_MAX_SIZE = 2048


def scaled_size(width, height, short_side, max_size):
    """(w, h) with the short side at `short_side`, unless the long side would pass `max_size`."""
    scale = short_side / min(width, height)
    if max(width, height) * scale > max_size:
        scale = max_size / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def image_tensor(pixels, size):
    """uint8 [h, w, 3] -> float [3, H, W] in [0, 1] at `size` (w, h), bilinear."""
    image = Image.fromarray(pixels)
    if image.size != tuple(size):
        image = image.resize(tuple(size), Image.BILINEAR)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()


def resize_masks(masks, size):
    """uint8 masks [N, h, w] to [N, H, W] (nearest, as torchvision resizes target masks)."""
    if masks.shape[0] == 0:
        return torch.zeros((0, size[1], size[0]), dtype=torch.uint8)
    if masks.shape[-1] == size[0] and masks.shape[-2] == size[1]:
        return masks
    return F.interpolate(masks[None].float(), size=(size[1], size[0]), mode="nearest")[0].to(torch.uint8)


def targets(record, classes, size, flip=False, report=None):
    """torchvision's target dict for a record at image size `size` (w, h); `report(text)` hears about
    instances of classes outside `classes`."""
    height, width = record["height"], record["width"]
    ignore = rle_decode(record["ignore"]).astype(bool) if record.get("ignore") else np.zeros((height, width), bool)
    masks, labels, unknown = [], [], []
    for instance in record["instances"]:
        mask = rle_decode(instance["mask"]).astype(bool)
        if instance["class"] not in classes:
            unknown.append(instance["class"])
            ignore |= mask
        elif instance.get("iscrowd"):
            ignore |= mask     # a crowd region: as COCO, neither positive nor negative
        else:
            masks.append(mask)
            labels.append(classes.index(instance["class"]) + 1)
    if unknown and report:
        report(f"sample {record.get('key')!r}: {len(unknown)} instance(s) of classes outside the taxonomy "
               f"({', '.join(sorted(set(unknown)))}) treated as ignore regions")
    stacked = torch.from_numpy(np.stack(masks).astype(np.uint8)) if masks else torch.zeros((0, height, width), dtype=torch.uint8)
    stacked = resize_masks(stacked, size)
    ignore_mask = resize_masks(torch.from_numpy(ignore.astype(np.uint8))[None], size)[0]
    if flip:
        stacked, ignore_mask = stacked.flip(-1), ignore_mask.flip(-1)
    keep = stacked.flatten(1).bool().any(1)           # an instance too small to survive the resize is dropped
    stacked, labels = stacked[keep], torch.tensor(labels, dtype=torch.int64)[keep]
    return {"boxes": boxes_from_masks(stacked), "labels": labels, "masks": stacked, "ignore": ignore_mask}


def boxes_from_masks(masks):
    """[N, 4] float boxes (x1, y1, x2, y2) enclosing each mask's pixels (x2, y2 exclusive: pixel edges)."""
    if masks.shape[0] == 0:
        return torch.zeros((0, 4), dtype=torch.float32)
    rows, columns = masks.bool().any(2), masks.bool().any(1)
    def span(present):
        index = torch.arange(present.shape[1])
        first = torch.where(present, index, present.shape[1]).min(1).values
        last = torch.where(present, index, -1).max(1).values + 1
        return first.float(), last.float()
    x1, x2 = span(columns)
    y1, y2 = span(rows)
    return torch.stack([x1, y1, x2, y2], 1)


def augmentation(seed, source, position, short_sides):
    """(short side, flip) of one sample, the same on any rank, worker or resume."""
    rng = np.random.default_rng(derive(seed, "augmentation", source, position))
    return int(short_sides[rng.integers(len(short_sides))]), bool(rng.random() < 0.5)


class PlanBatches(torch.utils.data.IterableDataset):
    """Rank `rank`'s batches for steps [start, stop): (step, keys, images, targets). Worker w of W yields the
    steps start + w, start + w + W, …, which the DataLoader (batch_size=None) returns in step order."""

    def __init__(self, plan, classes, rank, world, start, stop, short_sides=TRAIN_SHORT_SIDES, max_size=TRAIN_MAX_SIZE,
                 augment=True):
        super().__init__()
        self.plan, self.classes, self.rank, self.world = plan, list(classes), rank, world
        self.start, self.stop, self.short_sides, self.max_size, self.augment = start, stop, tuple(short_sides), max_size, augment

    def batch(self, step, reader):
        keys, images, batch_targets = [], [], []
        for source, position in self.plan.positions(step, self.rank, self.world):
            _, shard, index, count = self.plan.sources[source].locate(position, self.plan.seed)
            key, record, pixels = reader.read(shard, index, count)
            if self.augment:
                short, flip = augmentation(self.plan.seed, source, position, self.short_sides)
            else:
                short, flip = self.short_sides[-1], False
            size = scaled_size(record["width"], record["height"], short, self.max_size)
            image = image_tensor(pixels, size)
            if flip:
                image = image.flip(-1)
            keys.append(key)
            images.append(image)
            batch_targets.append(targets(record, self.classes, size, flip,
                                         report=lambda text, shard=shard: print(f"warning: {shard}: {text}", file=sys.stderr)))
        return step, keys, images, batch_targets

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        reader = SampleReader()
        for step in range(self.start + worker, self.stop, workers):
            yield self.batch(step, reader)
