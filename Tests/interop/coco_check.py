"""Load a synmix COCO export with pycocotools and print what it sees.

    python coco_check.py OUT/instances.json

One JSON line per annotation (in annotation order): the image's synmix id and
file name, the category name, iscrowd, and the decoded mask's area, box and
sha256 (row-major bytes of maskUtils.decode); then a line with the categories.
"""
import hashlib
import json
import sys

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

coco = COCO(sys.argv[1])
categories = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
for ann_id in sorted(coco.getAnnIds()):
    ann = coco.loadAnns(ann_id)[0]
    image = coco.loadImgs(ann["image_id"])[0]
    mask = coco.annToMask(ann)
    rle = coco.annToRLE(ann)
    print(json.dumps({
        "synmix_id": image["synmix_id"], "file_name": image["file_name"],
        "category": categories[ann["category_id"]], "iscrowd": ann["iscrowd"],
        "area": int(mask.sum()), "rle_area": int(mask_utils.area(rle)),
        "bbox": [int(v) for v in mask_utils.toBbox(rle)],
        "sha256": hashlib.sha256(np.ascontiguousarray(mask).tobytes()).hexdigest(),
    }))
print(json.dumps({"categories": [categories[k] for k in sorted(categories)], "images": len(coco.getImgIds())}))
