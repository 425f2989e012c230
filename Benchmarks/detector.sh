#!/usr/bin/env bash
# PointRend (python/synmix_torch) training from shards against the same steps on batches already in
# memory (issue 22): what the data path costs the step with the default loader workers. Frames of
# 1024x512 packed as JPEG at 512x256; ResNet-18-FPN at short side 256 on the CPU here (ResNet-50 and the
# full frame size on a GPU: BACKBONE=resnet50 SHORT_SIDE=1024 bash Benchmarks/detector.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/common.sh
DATA=bench-data/train-frames-400
work=bench-data/detector
generated "$DATA" "400 Cityscapes-layout frames of 1024x512" "$BIN/synmix-generate" cityscapes --out "$DATA" --count 400 --seed 11 --noise 4 --width 1024 --height 512 --city trainbench
rm -rf "$work" && mkdir -p "$work"
"$BIN/harmonize" --dataset cityscapes --root "$DATA" --out "$work/manifest" >/dev/null
"$BIN/pack-mix" --real "$work/manifest" --max-size 512x256 --image-format jpg --shard-samples 100 --out "$work/shards" >/dev/null
for workers in 0 4; do
  PYTHONPATH=python "$PY" Benchmarks/detector_bench.py "$work/shards/mix-*.tar" --steps "${STEPS:-12}" --batch 2 \
    --backbone "${BACKBONE:-resnet18}" --short-side "${SHORT_SIDE:-256}" --workers "$workers" --rois-per-image 128 | tee "$work/workers-$workers.json"
done
"$PY" - "$work" <<'PY' | tee bench-data/detector.md
import json, sys
print("| loader workers | in memory (img/s) | from shards (img/s) | data path's cost |")
print("|---:|---:|---:|---:|")
for workers in (0, 4):
    r = json.load(open(f"{sys.argv[1]}/workers-{workers}.json"))
    print(f"| {workers} | {r['in_memory_images_per_second']:.2f} | {r['shards_images_per_second']:.2f} | {100 * r['data_path_cost']:.1f} % |")
print(f"\n{r['device']}, {r['threads']} threads, {r['backbone']}-FPN PointRend, batch {r['batch']}, short side {r['short_side']}")
PY
