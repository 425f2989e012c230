"""Read synmix shards with the `webdataset` package as Detectron2-style dicts.

    python examples/torch_loader.py 'out/demo/shards/mix-{000000..000002}.tar'

Each sample becomes the dict Detectron2's dataset mappers expect:
`file_name`, `image` (decoded HxWx3 uint8 when Pillow is installed), `image_id`,
`height`, `width` and `annotations` with `bbox` (XYWH, `bbox_mode` 1 =
BoxMode.XYWH_ABS), `category_id` (index in mappings/taxonomy.yaml),
`segmentation` (COCO compressed RLE, as `pycocotools.mask.decode` reads it) and
`iscrowd`. With PyTorch installed, the same pipeline is an IterableDataset:

    loader = torch.utils.data.DataLoader(dataset(urls), batch_size=None, num_workers=4)

which is how users who outgrow one CPU train on GPUs.
"""
import argparse
import io
import json
import sys

import webdataset as wds

# mappings/taxonomy.yaml, in id order.
CLASSES = ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"]
BOX_MODE_XYWH_ABS = 1


def to_detectron2(sample, decode_images=True):
    meta = json.loads(sample["json"])
    encoded = sample[meta["image_format"]]
    record = {
        "file_name": f"{sample['__url__']}#{sample['__key__']}.{meta['image_format']}",
        "image_id": meta["id"],
        "height": meta["height"],
        "width": meta["width"],
        "annotations": [
            {
                "bbox": instance["bbox"],
                "bbox_mode": BOX_MODE_XYWH_ABS,
                "category_id": CLASSES.index(instance["class"]),
                "segmentation": instance["mask"],
                "iscrowd": instance["iscrowd"],
            }
            for instance in meta["instances"]
        ],
    }
    if decode_images:
        import numpy as np
        from PIL import Image
        record["image"] = np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"))
    else:
        record["image"] = encoded
    return record


def dataset(urls, decode_images=True):
    # shardshuffle=False keeps pack-mix's order (it is already a seeded shuffle).
    return wds.WebDataset(urls, shardshuffle=False).map(lambda s: to_detectron2(s, decode_images))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls", help="shard path(s), brace ranges allowed")
    parser.add_argument("--no-decode", action="store_true", help="keep images as encoded bytes")
    args = parser.parse_args()
    count = 0
    for record in dataset(args.urls, decode_images=not args.no_decode):
        count += 1
        shape = getattr(record["image"], "shape", None)
        print(json.dumps({"image_id": record["image_id"], "height": record["height"], "width": record["width"],
                          "image_shape": list(shape) if shape is not None else None,
                          "annotations": len(record["annotations"]),
                          "category_ids": [a["category_id"] for a in record["annotations"]]}))
    print(f"{count} samples", file=sys.stderr)


if __name__ == "__main__":
    main()
