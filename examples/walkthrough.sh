#!/usr/bin/env bash
# The whole path on generated data, as the README's "Try it on generated data" shows it:
# generate both datasets, harmonize, filter, mix into shards, train, evaluate, predict, export.
# Runs in bash and zsh alike (every pattern synmix expands itself is quoted).
#   bash examples/walkthrough.sh [WORK]     (BIN: the folder of the synmix executables, default .build/release)
set -euo pipefail
BIN=${BIN:-.build/release}
WORK=${1:-work}
rm -rf "$WORK"   # start from an empty folder, so the block reruns as it is

# Look-alikes of both datasets: Cityscapes with a train and a val split, Synscapes (its top 4 % of ids are val).
"$BIN/synmix-generate" cityscapes --out "$WORK/data/cityscapes" --count 12 --width 512 --height 256 --split train --look demo
"$BIN/synmix-generate" cityscapes --out "$WORK/data/cityscapes" --count 6 --width 512 --height 256 --split val --city valcity --seed 2 --look demo
"$BIN/synmix-generate" synscapes --out "$WORK/data/synscapes" --count 24 --width 512 --height 256 --look demo

# One taxonomy for both; then drop the synthetic instances no annotator would have labelled.
"$BIN/harmonize" --dataset cityscapes --root "$WORK/data/cityscapes" --out "$WORK/cityscapes"
"$BIN/harmonize" --dataset synscapes --root "$WORK/data/synscapes" --out "$WORK/synscapes"
"$BIN/filter-instances" --in "$WORK/synscapes" --calibrate-from "$WORK/cityscapes" --preview 2 --out "$WORK/synscapes-filtered"

# Real train + 12 filtered synthetic images, shuffled into shards; real val on its own.
"$BIN/pack-mix" --real "$WORK/cityscapes" --synthetic "$WORK/synscapes-filtered" --synthetic-count 12 \
    --max-size 256x128 --shard-samples 8 --out "$WORK/mix"
"$BIN/pack-mix" --real "$WORK/cityscapes" --split val --max-size 256x128 --out "$WORK/val"
"$BIN/pack-mix" verify "$WORK/mix"

# Train, score on real val (with pictures of the worst images), write predictions, export COCO.
"$BIN/train-shards" fit --train "$WORK/mix/mix-*.tar" --eval "real=$WORK/val/mix-*.tar" --out "$WORK/run" \
    --steps 40 --batch 4 --input-size 128x64 --width 8 --log-every 20
"$BIN/train-shards" evaluate --model "$WORK/run/model.safetensors" --shards "$WORK/val/mix-*.tar" \
    --out "$WORK/evaluation" --overlays 2
"$BIN/train-shards" predict --model "$WORK/run/model.safetensors" --shards "$WORK/val/mix-*.tar" --out "$WORK/predictions"
"$BIN/train-shards" evaluate --cityscapes-gt "$WORK/data/cityscapes" --predictions "$WORK/predictions"
"$BIN/pack-mix" coco --shards "$WORK/val/mix-*.tar" --out "$WORK/coco"
