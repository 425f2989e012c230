"""The Python pipeline Detectron2 users run on Cityscapes' PNGs (PIL + numpy per instance + pycocotools):
PIL + numpy per instance + pycocotools.mask.encode, over a multiprocessing pool.

  python cityscapes_reference.py ROOT --json          # per-instance RLE, for the interop test
  python cityscapes_reference.py ROOT --jobs 2        # timing only, the benchmark peer
"""
import argparse
import glob
import json
import multiprocessing
import os
import time

import numpy as np
from PIL import Image
from pycocotools import mask as mask_util

# cityscapesScripts: hasInstances and not ignoreInEval, plus caravan/trailer (ignored).
INSTANCE_LABELS = {24, 25, 26, 27, 28, 31, 32, 33}


def convert(label_file):
    """detectron2 `_cityscapes_files_to_dict` (PNG path), minus its 1-pixel-box drop."""
    inst_image = np.asarray(Image.open(label_file), order="F")
    annos = []
    for instance_id in np.unique(inst_image[inst_image >= 24]):
        label_id = instance_id // 1000 if instance_id >= 1000 else instance_id
        if label_id not in INSTANCE_LABELS:
            continue
        mask = np.asarray(inst_image == instance_id, dtype=np.uint8, order="F")
        rle = mask_util.encode(mask[:, :, None])[0]
        annos.append({
            "source_id": int(instance_id),
            "iscrowd": int(instance_id < 1000),
            "counts": rle["counts"].decode("ascii"),
            "area": int(mask_util.area(rle)),
            "bbox": [int(v) for v in mask_util.toBbox(rle)],
        })
    return {"file": label_file, "height": int(inst_image.shape[0]), "width": int(inst_image.shape[1]), "annotations": annos}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    files = sorted(glob.glob(os.path.join(args.root, "gtFine", "*", "*", "*_gtFine_instanceIds.png")))
    start = time.perf_counter()
    with multiprocessing.Pool(args.jobs) as pool:
        records = pool.map(convert, files, chunksize=4)
    seconds = time.perf_counter() - start
    if args.json:
        for record in records:
            print(json.dumps(record))
    else:
        print(json.dumps({"images": len(records), "seconds": seconds, "images_per_second": len(records) / seconds}))


if __name__ == "__main__":
    main()
