"""Reads synmix shards with webdataset and pycocotools: prints, per sample in
iteration order, its key, member suffixes, and for every instance mask the
sha256 of pycocotools.mask.decode's bytes (row-major), area and bbox."""
import hashlib
import json
import sys

import numpy as np
import webdataset as wds
from pycocotools import mask as mask_util

for sample in wds.WebDataset(sys.argv[1:], shardshuffle=False):
    meta = json.loads(sample["json"])
    masks = []
    for instance in meta["instances"] + ([{"mask": meta["ignore"]}] if meta["ignore"] else []):
        rle = {"size": instance["mask"]["size"], "counts": instance["mask"]["counts"].encode("ascii")}
        decoded = np.ascontiguousarray(mask_util.decode(rle))
        masks.append({"sha256": hashlib.sha256(decoded.tobytes()).hexdigest(), "area": int(mask_util.area(rle)),
                      "bbox": [int(v) for v in mask_util.toBbox(rle)]})
    print(json.dumps({"key": sample["__key__"], "url": sample["__url__"],
                      "suffixes": sorted(k for k in sample if not k.startswith("__")), "masks": masks}))
