"""Random access to pack-mix's shards: one sample by its position in a shard, read through an
index of the tar's members (headers only, built once per shard and worker).

A shard is someone else's file here: every way it can be wrong is a `ShardError` that names the
shard, the sample and the reason — a member that is not a regular file, a sample without its JSON or
image, a repeated key, a JSON that does not describe the image beside it, a count that disagrees with
index.json. The PyTorch side never trains silently on data the Swift reader would reject.
"""
import glob
import hashlib
import io
import json
import os
import re
import sys
import tarfile
from collections import OrderedDict

import numpy as np
from PIL import Image

# The decoding budget of docs/formats.md (`width`, `height`: at most 2^28 pixels), checked before
# the image is decoded, as the Swift reader does.
MAX_PIXELS = 1 << 28
RECORD_KEYS = ("key", "width", "height", "original_size", "image_format", "instances")


class ShardError(ValueError):
    """A shard or one of its samples is unusable; the message names the file and the reason."""


def expand(pattern):
    """A shard list as `train-shards` takes it: brace ranges ({000000..000012}) and globs, in order."""
    ranges = re.search(r"\{(\d+)\.\.(\d+)\}", pattern)
    if ranges:
        first, last = ranges.group(1), ranges.group(2)
        return [s for n in range(int(first), int(last) + 1)
                for s in expand(pattern[:ranges.start()] + str(n).zfill(len(first)) + pattern[ranges.end():])]
    matches = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
    if not matches or not all(os.path.isfile(m) for m in matches):
        raise ShardError(f"{pattern}: no shard matches")
    return matches


def index_json(folder):
    """pack-mix's index.json in `folder`, or None when there is none."""
    path = os.path.join(folder, "index.json")
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            index = json.load(f)
        if not isinstance(index.get("shards"), list):
            raise ValueError("no 'shards' list")
        return index
    except (ValueError, OSError) as error:
        raise ShardError(f"{path}: not pack-mix's index.json ({error})") from None


def sample_counts(shards):
    """Samples per shard: from index.json beside them (no shard is opened), else by reading each tar's headers."""
    index = index_json(os.path.dirname(shards[0]) or ".")
    listed = {entry.get("name"): entry for entry in index["shards"]} if index else {}
    counts = []
    for shard in shards:
        entry = listed.get(os.path.basename(shard))
        if entry is not None and isinstance(entry.get("samples"), int) and entry["samples"] >= 0:
            counts.append(entry["samples"])
        else:
            counts.append(len(MemberIndex(shard).keys))
    return counts


def verify(shards):
    """Each shard's size and SHA-256 against index.json (what streaming loaders offer as a check before training)."""
    index = index_json(os.path.dirname(shards[0]) or ".")
    if index is None:
        raise ShardError(f"{os.path.dirname(shards[0]) or '.'}/index.json: missing; --verify-shards checks shards against it")
    listed = {entry.get("name"): entry for entry in index["shards"]}
    for shard in shards:
        entry = listed.get(os.path.basename(shard))
        if entry is None:
            raise ShardError(f"{shard}: not listed in index.json")
        size = os.path.getsize(shard)
        if entry.get("bytes") is not None and size != entry["bytes"]:
            raise ShardError(f"{shard}: {size} bytes, index.json says {entry['bytes']} (truncated or replaced)")
        digest = hashlib.sha256()
        with open(shard, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != entry.get("sha256"):
            raise ShardError(f"{shard}: SHA-256 {digest.hexdigest()} differs from index.json's {entry.get('sha256')}")


class MemberIndex:
    """The samples of one shard in file order: key -> {extension: (data offset, size)}. Problems that leave
    the other samples usable (a repeated key: the first is kept) are listed in `problems`."""

    def __init__(self, path):
        self.path = path
        self.keys, self.members, self.problems = [], {}, []
        try:
            with tarfile.open(path, "r:") as archive:
                for member in archive:
                    if not member.isfile():
                        raise ShardError(f"{path}: member {member.name!r} is not a regular file")
                    base = os.path.basename(member.name)
                    key, dot, extension = base.partition(".")
                    if not dot or not key:
                        raise ShardError(f"{path}: member {member.name!r} is not KEY.EXTENSION")
                    if key not in self.members:
                        self.keys.append(key)
                        self.members[key] = {}
                    elif self.keys[-1] != key or extension in self.members[key]:
                        self.problems.append(f"{path}: sample {key!r} repeats (member {member.name!r}); the first is kept")
                        continue
                    self.members[key][extension] = (member.offset_data, member.size)
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ShardError(f"{path}: not a readable tar shard ({error})") from None


class SampleReader:
    """Reads samples by (shard, position in the shard), keeping the member indexes of the last shards used."""

    def __init__(self, cache=8):
        self.indexes = OrderedDict()
        self.cache = cache

    def index(self, shard):
        if shard in self.indexes:
            self.indexes.move_to_end(shard)
        else:
            self.indexes[shard] = MemberIndex(shard)
            for problem in self.indexes[shard].problems:
                print(f"warning: {problem}", file=sys.stderr)
            if len(self.indexes) > self.cache:
                self.indexes.popitem(last=False)
        return self.indexes[shard]

    def read(self, shard, position, expected_count=None):
        """(key, record, pixels [h, w, 3] uint8) of the sample at `position` of `shard`."""
        index = self.index(shard)
        if expected_count is not None and len(index.keys) != expected_count:
            raise ShardError(f"{shard}: holds {len(index.keys)} samples, index.json says {expected_count}")
        if not 0 <= position < len(index.keys):
            raise ShardError(f"{shard}: no sample at position {position} ({len(index.keys)} samples)")
        key = index.keys[position]
        members = index.members[key]
        with open(shard, "rb") as f:
            def member(extension):
                offset, size = members[extension]
                f.seek(offset)
                data = f.read(size)
                if len(data) != size:
                    raise ShardError(f"{shard}: sample {key!r}: member .{extension} is truncated")
                return data

            if "json" not in members:
                raise ShardError(f"{shard}: sample {key!r} has no .json member (has {', '.join(sorted(members)) or 'none'})")
            try:
                record = json.loads(member("json"))
            except ValueError as error:
                raise ShardError(f"{shard}: sample {key!r}: its JSON does not parse ({error})") from None
            check_record(record, shard, key)
            extension = record["image_format"]
            if extension not in members:
                raise ShardError(f"{shard}: sample {key!r} names image_format {extension!r} but has no .{extension} member")
            try:
                with Image.open(io.BytesIO(member(extension))) as image:
                    if image.size != (record["width"], record["height"]):
                        raise ShardError(f"{shard}: sample {key!r}: the image is {image.size[0]}x{image.size[1]}, "
                                         f"its JSON says {record['width']}x{record['height']}")
                    pixels = np.asarray(image.convert("RGB"))
            except ShardError:
                raise
            except Exception as error:   # PIL's own errors name neither the shard nor the sample
                raise ShardError(f"{shard}: sample {key!r}: the .{extension} image does not decode ({error})") from None
        return key, record, pixels


def check_record(record, shard, key):
    """The sample JSON fields the detector reads, with the types and bounds docs/formats.md states."""
    if not isinstance(record, dict):
        raise ShardError(f"{shard}: sample {key!r}: the JSON is not an object")
    missing = [name for name in RECORD_KEYS if name not in record]
    if missing:
        raise ShardError(f"{shard}: sample {key!r}: the JSON lacks {', '.join(missing)}")
    width, height = record["width"], record["height"]
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0 and width * height <= MAX_PIXELS):
        raise ShardError(f"{shard}: sample {key!r}: size {width}x{height} is not positive or over 2^28 pixels")
    if record["image_format"] not in ("png", "jpg"):
        raise ShardError(f"{shard}: sample {key!r}: image_format {record['image_format']!r} is neither png nor jpg")
    size = record["original_size"]
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)
            and size[0] * size[1] <= MAX_PIXELS):
        raise ShardError(f"{shard}: sample {key!r}: original_size {size!r} is not [width, height] within 2^28 pixels")
    if not isinstance(record["instances"], list):
        raise ShardError(f"{shard}: sample {key!r}: instances is not a list")
    for n, instance in enumerate(record["instances"]):
        if not isinstance(instance, dict) or not isinstance(instance.get("class"), str) or not isinstance(instance.get("mask"), dict):
            raise ShardError(f"{shard}: sample {key!r}: instance {n} lacks its class or mask")
        if instance["mask"].get("size") != [height, width]:
            raise ShardError(f"{shard}: sample {key!r}: instance {n}'s mask is {instance['mask'].get('size')}, the image [{height}, {width}]")
    ignore = record.get("ignore")
    if ignore is not None and (not isinstance(ignore, dict) or ignore.get("size") != [height, width]):
        raise ShardError(f"{shard}: sample {key!r}: the ignore mask is not an RLE of the image's size")
