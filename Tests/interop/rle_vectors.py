"""Random masks encoded by pycocotools, for the Swift RLE to reproduce byte for byte.

Prints one JSON object per line: size, the mask as a row-major '0'/'1' string,
and pycocotools' compressed counts, area and toBbox.
"""
import json
import sys

import numpy as np
from pycocotools import mask as mask_util


def emit(name, m):
    r = mask_util.encode(np.asfortranarray(m.astype(np.uint8)))
    print(json.dumps({
        "name": name,
        "size": [int(m.shape[0]), int(m.shape[1])],
        "bits": "".join("1" if v else "0" for v in m.reshape(-1)),
        "counts": r["counts"].decode("ascii"),
        "area": int(mask_util.area(r)),
        "bbox": [int(v) for v in mask_util.toBbox(r)],
    }))


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    # The reference vectors V5 and V6 (formats-coco-wds-safetensors.md §1.11).
    emit("V5", (np.random.default_rng(0).random((37, 53)) < 0.5))
    emit("V6", (np.random.default_rng(0).random((37, 53)) < 0.03))
    rng = np.random.default_rng(2024)
    for i in range(count):
        h, w = int(rng.integers(1, 97)), int(rng.integers(1, 131))
        kind = i % 4
        if kind == 0:
            m = rng.random((h, w)) < rng.random()
        elif kind == 1:   # blobs: long runs, large deltas
            m = np.zeros((h, w), bool)
            for _ in range(int(rng.integers(0, 4))):
                y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
                m[y0:y0 + int(rng.integers(1, h + 1)), x0:x0 + int(rng.integers(1, w + 1))] = True
        elif kind == 2:   # empty or full
            m = np.full((h, w), bool(i % 8 == 2))
        else:             # sparse
            m = rng.random((h, w)) < 0.02
        emit(f"random{i}", m)


if __name__ == "__main__":
    main()
