"""Read synmix shards with the `webdataset` package as Detectron2-style dicts.

    python examples/torch_loader.py 'out/demo/shards/mix-{000000..000002}.tar'

Each sample becomes a dict in Detectron2's dataset format: `image` (decoded
HxWx3 uint8 RGB, when Pillow is installed; Detectron2's default mapper reads
`file_name` from disk, so use a mapper that takes `image` from the dict),
`image_id`, `height`, `width`, `shard` and `key` (where the sample lives),
`annotations` with `bbox` (XYWH, `bbox_mode` 1 = BoxMode.XYWH_ABS),
`category_id` (the class's id in the taxonomy), `segmentation` (COCO
compressed RLE, as `pycocotools.mask.decode` reads it) and `iscrowd`, and
`ignore` (the RLE of the pixels that count neither as instance nor as
background: `filter-instances --policy ignore` moves removed instances there;
None when empty). The class list comes from `index.json` beside the shards,
which names the taxonomy pack-mix checked every record against. With PyTorch
installed the same pipeline is an IterableDataset:

    loader = torch.utils.data.DataLoader(dataset(urls), batch_size=None, num_workers=4)
"""
import argparse
import io
import json
import os
import sys

import webdataset as wds

# synmix_torch from the repository when it is not installed (pip install ./python installs it).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from synmix_torch.shards import ShardError, check_record, index_json  # noqa: E402

BOX_MODE_XYWH_ABS = 1


def taxonomy_classes(first_shard):
    """The taxonomy's class names in id order, from the index.json beside the shards."""
    folder = os.path.dirname(first_shard) or "."
    index = index_json(folder)
    if index is None or index.get("taxonomy") is None:
        sys.exit(f"{folder}/index.json: names no taxonomy (packed without --taxonomy); pass the class names explicitly")
    return [c["name"] for c in index["taxonomy"]["classes"]]


def to_detectron2(sample, classes, decode_images=True):
    """One webdataset sample as a Detectron2 dict; a sample that is not what docs/formats.md says is a
    ShardError naming the shard and the key (synmix_torch's own check of the record)."""
    try:
        meta = json.loads(sample["json"])
    except (KeyError, ValueError) as error:
        raise ShardError(f"{sample['__url__']}: sample {sample['__key__']!r}: no readable .json member ({error})") from None
    check_record(meta, sample["__url__"], sample["__key__"])
    encoded = sample[meta["image_format"]]
    record = {
        "image_id": meta["id"],
        "shard": sample["__url__"],
        "key": sample["__key__"],
        "height": meta["height"],
        "width": meta["width"],
        "annotations": [
            {
                "bbox": instance["bbox"],
                "bbox_mode": BOX_MODE_XYWH_ABS,
                "category_id": classes.index(instance["class"]),
                "segmentation": instance["mask"],
                "iscrowd": instance["iscrowd"],
            }
            for instance in meta["instances"]
        ],
        "ignore": meta["ignore"],
    }
    if decode_images:
        import numpy as np
        from PIL import Image
        record["image"] = np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"))
    else:
        record["image"] = encoded
    return record


def dataset(urls, classes=None, decode_images=True):
    """`urls` as webdataset takes them (a brace range or a list); `classes` default to index.json's taxonomy."""
    if classes is None:
        first = wds.shardlists.expand_urls(urls)[0] if isinstance(urls, str) else urls[0]
        classes = taxonomy_classes(first)
    # shardshuffle=False keeps pack-mix's order (it is already a seeded shuffle).
    return wds.WebDataset(urls, shardshuffle=False).map(lambda s: to_detectron2(s, classes, decode_images))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls", help="shard path(s), brace ranges allowed")
    parser.add_argument("--no-decode", action="store_true", help="keep images as encoded bytes")
    args = parser.parse_args()
    count = 0
    for record in dataset(args.urls, decode_images=not args.no_decode):
        count += 1
        shape = getattr(record["image"], "shape", None)
        ignore = record["ignore"]
        print(json.dumps({"image_id": record["image_id"], "height": record["height"], "width": record["width"],
                          "image_shape": list(shape) if shape is not None else None,
                          "annotations": len(record["annotations"]),
                          "category_ids": [a["category_id"] for a in record["annotations"]],
                          "ignore": None if ignore is None else {"size": ignore["size"], "counts": ignore["counts"]}}))
    print(f"{count} samples", file=sys.stderr)


if __name__ == "__main__":
    main()
