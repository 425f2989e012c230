"""Sources/ShardData/Targets.swift in numpy: a shard sample mapped onto the network input
(bilinear, resized to fill it; randomly scaled, cropped and flipped when augmenting) and its
targets at stride 4 — semantic classes (0 background, k + 1 class k, -1 ignore), centre heatmap
(Gaussians of σ head pixels at instance centres), offsets to the centre and their weights."""
import math

import numpy as np

INPUT_MEAN = 0.5
INPUT_STD = 0.25
DEFAULT_SIGMA = 2.0


def rle_decode(rle):
    """COCO compressed RLE ({"size": [h, w], "counts": str}) to a row-major uint8 mask (pycocotools' rleFrString)."""
    h, w = rle["size"]
    text = rle["counts"].encode() if isinstance(rle["counts"], str) else rle["counts"]
    counts, p = [], 0
    while p < len(text):
        x, k, more = 0, 0, True
        while more:
            c = text[p] - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    flat = np.zeros(h * w, dtype=np.uint8)
    position, value = 0, 0
    for run in counts:
        if value:
            flat[position:position + run] = 1
        position += run
        value ^= 1
    return flat.reshape(w, h).T.copy()   # column-major runs


def instance_map(record):
    """Per pixel: the instance index, -1 for no instance, -2 for the ignore region (later instances win)."""
    h, w = record["height"], record["width"]
    m = np.full((h, w), -1, dtype=np.int64)
    if record.get("ignore"):
        m[rle_decode(record["ignore"]) != 0] = -2
    for k, instance in enumerate(record["instances"]):
        m[rle_decode(instance["mask"]) != 0] = k
    return m


def _taps(coordinates, size):
    """Bilinear taps of source coordinates: (valid, i0, i1, weight); invalid beyond half a pixel outside."""
    valid = (coordinates >= -0.5) & (coordinates < size - 0.5)
    clamped = np.clip(coordinates, 0.0, float(size - 1))
    i0 = clamped.astype(np.int64)
    return valid, i0, np.minimum(i0 + 1, size - 1), (clamped - i0).astype(np.float32)


def _round(values):
    """Swift's `rounded()`: half away from zero (numpy's round is half to even)."""
    return np.where(values >= 0, np.floor(values + 0.5), np.ceil(values - 0.5)).astype(np.int64)


def prepare(record, pixels, classes, width, height, augment=None, sigma=DEFAULT_SIGMA, rng=None):
    """`pixels` [h, w, 3] uint8 at the record's size. `augment`: None, or (min_scale, max_scale, flip)
    drawn from `rng` (numpy Generator). Returns image [3, H, W] float32, semantic [H/4, W/4] int64,
    center [H/4, W/4], offset [2, H/4, W/4], offset_weight [H/4, W/4] (float32)."""
    sh, sw = record["height"], record["width"]
    scale, flip = 1.0, False
    if augment is not None:
        lo, hi, can_flip = augment
        scale = lo + rng.random() * (hi - lo)
        flip = bool(can_flip and rng.random() < 0.5)
    sx, sy = width / sw * scale, height / sh * scale

    def crop_offset(scaled, size):
        slack = scaled - size
        return 0.0 if augment is None else min(0.0, slack) + rng.random() * abs(slack)

    crop_x, crop_y = crop_offset(sw * sx, width), crop_offset(sh * sy, height)

    def source_x(x):
        return ((width - x if flip else x) + crop_x) / sx - 0.5

    def source_y(y):
        return (y + crop_y) / sy - 0.5

    # Image: bilinear; outside the sample 0 (the mean after normalisation).
    image = np.zeros((3, height, width), dtype=np.float32)
    vx, x0, x1, wx = _taps(source_x(np.arange(width) + 0.5), sw)
    vy, y0, y1, wy = _taps(source_y(np.arange(height) + 0.5), sh)
    px = pixels.astype(np.float32)
    one = np.float32(1)
    wx_, wy_ = wx[vx][None, :, None], wy[vy][:, None, None]
    rows0, rows1 = px[y0[vy]], px[y1[vy]]
    top = rows0[:, x0[vx]] * (one - wx_) + rows0[:, x1[vx]] * wx_
    bottom = rows1[:, x0[vx]] * (one - wx_) + rows1[:, x1[vx]] * wx_
    values = ((top * (one - wy_) + bottom * wy_) / np.float32(255) - np.float32(INPUT_MEAN)) / np.float32(INPUT_STD)
    image[:, np.flatnonzero(vy)[:, None], np.flatnonzero(vx)[None, :]] = values.transpose(2, 0, 1)

    # Targets at stride 4: each head pixel samples the label under its input-space centre.
    hw, hh = width // 4, height // 4
    labels = instance_map(record)
    rows = _round(source_y(4 * np.arange(hh) + 2.0))
    columns = _round(source_x(4 * np.arange(hw) + 2.0))
    at = np.full((hh, hw), -2, dtype=np.int64)
    ok_rows, ok_columns = (rows >= 0) & (rows < sh), (columns >= 0) & (columns < sw)
    at[np.ix_(ok_rows, ok_columns)] = labels[np.ix_(rows[ok_rows], columns[ok_columns])]

    instances = record["instances"]
    lookup = np.array([classes.index(i["class"]) + 1 if i["class"] in classes else -1 for i in instances] + [-1], dtype=np.int64)
    counted = np.array([i["class"] in classes and not i["iscrowd"] for i in instances] + [False])
    index = np.where(at >= 0, at, len(instances))   # the sentinel row for no instance
    semantic = np.where(at == -1, 0, lookup[index])
    yy, xx = np.indices((hh, hw))
    member = counted[index]
    n = np.bincount(index[member], minlength=len(instances) + 1)
    sum_y = np.bincount(index[member], weights=yy[member], minlength=len(instances) + 1)
    sum_x = np.bincount(index[member], weights=xx[member], minlength=len(instances) + 1)

    center = np.zeros((hh, hw), dtype=np.float32)
    radius = math.ceil(3 * sigma)
    s = np.float32(sigma)
    for k in np.flatnonzero(n[:-1]):
        cy, cx = np.float32(sum_y[k] / n[k]), np.float32(sum_x[k] / n[k])
        iy, ix = int(_round(np.array(cy, dtype=np.float64))), int(_round(np.array(cx, dtype=np.float64)))
        ys = np.arange(max(0, iy - radius), min(hh - 1, iy + radius) + 1, dtype=np.float32)
        xs = np.arange(max(0, ix - radius), min(hw - 1, ix + radius) + 1, dtype=np.float32)
        if len(ys) == 0 or len(xs) == 0:
            continue
        d2 = ((ys - cy) * (ys - cy))[:, None] + ((xs - cx) * (xs - cx))[None, :]
        window = center[int(ys[0]):int(ys[-1]) + 1, int(xs[0]):int(xs[-1]) + 1]
        np.maximum(window, np.exp(-d2 / (np.float32(2) * s * s)).astype(np.float32), out=window)

    with np.errstate(invalid="ignore", divide="ignore"):
        mean_y = (sum_y / np.maximum(n, 1)).astype(np.float32)
        mean_x = (sum_x / np.maximum(n, 1)).astype(np.float32)
    has = n[index] > 0
    offset = np.zeros((2, hh, hw), dtype=np.float32)
    offset[0][has] = mean_y[index][has] - yy[has].astype(np.float32)
    offset[1][has] = mean_x[index][has] - xx[has].astype(np.float32)
    weight = has.astype(np.float32)
    return image, semantic, center, offset, weight
