"""Training data straight from pack-mix's shards with webdataset, correct under DDP.

Every epoch all ranks put the shards in the same seeded order; rank r's loader worker w
reads shards r·W + w, r·W + w + R·W, … of it (R ranks, W workers each), so the parts are
disjoint and together cover every shard. There must be at least R·W shards: a rank with
no shard would leave the others waiting forever. Each stream runs epoch after epoch, so
every rank can take the same number of steps. Decoding and targets run in the workers.
"""
import io
import json
import os
import random
import sys

import numpy as np
import torch
import webdataset as wds
from PIL import Image

from .seeds import derive
from .shards import ShardError, check_record
from .targets import prepare


def shard_index(shards):
    """index.json beside the shards (pack-mix's), or None."""
    path = os.path.join(os.path.dirname(shards[0]) or ".", "index.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def instance_classes(shards, taxonomy=None):
    """The instance classes in id order: from index.json's taxonomy, else from a taxonomy list given."""
    index = shard_index(shards)
    if index and index.get("taxonomy"):
        return [c["name"] for c in index["taxonomy"]["classes"] if c["instances"]]
    if taxonomy:
        return list(taxonomy)
    raise SystemExit(f"{shards[0]}: no index.json naming the taxonomy beside the shards; pass --classes")


def shards_of(shards, epoch, seed, rank, world, worker, workers):
    """The shards rank `rank`'s worker `worker` reads in `epoch` (a seeded order shared by all ranks)."""
    parts = world * workers
    if len(shards) < parts:
        raise ValueError(f"{len(shards)} shard(s) for {world} rank(s) × {workers} worker(s): every worker needs at least one "
                         "(an empty rank would leave DDP waiting); pack with a smaller --shard-samples or use fewer workers")
    order = list(shards)
    random.Random(derive(seed, "epoch-order", epoch)).shuffle(order)
    return order[rank * workers + worker::parts]


class ShardSamples(torch.utils.data.IterableDataset):
    """Prepared samples (image, semantic, center, offset, weight) of this rank, epoch after epoch."""

    def __init__(self, shards, classes, width, height, seed, rank=0, world=1, augment=True, buffer=64, epochs=None):
        super().__init__()
        self.shards, self.classes = list(shards), list(classes)
        self.width, self.height, self.seed = width, height, seed
        self.rank, self.world, self.augment, self.buffer, self.epochs = rank, world, augment, buffer, epochs

    def samples(self, epoch, worker, workers):
        """Raw samples (key, record, pixels) of one epoch for one worker, in the shuffle buffer's order."""
        mine = shards_of(self.shards, epoch, self.seed, self.rank, self.world, worker, workers)
        stream = wds.DataPipeline(
            wds.SimpleShardList(mine),
            wds.tarfile_to_samples(handler=wds.warn_and_continue),
            wds.shuffle(self.buffer, rng=random.Random(derive(self.seed, "shuffle-buffer", epoch, self.rank * workers + worker))),
        )
        seen = set()
        for sample in stream:
            key, shard = sample.get("__key__"), sample.get("__url__", "shard")
            if key in seen:   # a key met again: the first sample is kept, as the Swift reader keeps it
                print(f"warning: {shard}: sample {key!r} repeats; the first is kept", file=sys.stderr)
                continue
            seen.add(key)
            yield (key, *self.decode(sample, shard, key))

    def decode(self, sample, shard, key):
        """(record, pixels) of a webdataset sample; a named ShardError for what the Swift reader refuses."""
        if "json" not in sample:
            raise ShardError(f"{shard}: sample {key!r} has no .json member (has {', '.join(sorted(k for k in sample if not k.startswith('__')))})")
        try:
            record = json.loads(sample["json"])
        except ValueError as error:
            raise ShardError(f"{shard}: sample {key!r}: its JSON does not parse ({error})") from None
        check_record(record, shard, key)
        if record["image_format"] not in sample:
            raise ShardError(f"{shard}: sample {key!r} names image_format {record['image_format']!r} but has no such member")
        try:
            with Image.open(io.BytesIO(sample[record["image_format"]])) as image:
                pixels = np.asarray(image.convert("RGB"))
        except Exception as error:   # PIL's own message names neither the shard nor the sample
            raise ShardError(f"{shard}: sample {key!r}: the .{record['image_format']} image does not decode ({error})") from None
        if pixels.shape[:2] != (record["height"], record["width"]):
            raise ShardError(f"{shard}: sample {key!r}: the image is {pixels.shape[1]}x{pixels.shape[0]}, "
                             f"its JSON says {record['width']}x{record['height']}")
        unknown = sorted({i["class"] for i in record["instances"]} - set(self.classes)) if self.classes else []
        if unknown:
            print(f"warning: {shard}: sample {key!r}: instances of classes outside the taxonomy ({', '.join(unknown)}) "
                  "are left out of the targets", file=sys.stderr)
        return record, pixels

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        rng = np.random.default_rng(derive(self.seed, "augmentation", self.rank, worker))
        epoch = 0
        while self.epochs is None or epoch < self.epochs:
            for _, record, pixels in self.samples(epoch, worker, workers):
                image, semantic, center, offset, weight = prepare(
                    record, pixels, self.classes, self.width, self.height,
                    augment=(0.75, 1.25, True) if self.augment else None, rng=rng)
                yield (torch.from_numpy(image), torch.from_numpy(semantic), torch.from_numpy(center),
                       torch.from_numpy(offset), torch.from_numpy(weight))
            epoch += 1


def epoch_keys(shards, seed, epoch, rank, world, workers):
    """The sample keys rank `rank` reads in `epoch` over all its workers (for checking the split)."""
    dataset = ShardSamples(shards, [], 16, 16, seed, rank, world, augment=False)
    return [key for worker in range(workers) for key, _, _ in dataset.samples(epoch, worker, workers)]
