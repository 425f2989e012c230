#!/usr/bin/env bash
# train-shards at batch 8 and 256x128 (issue 6): the training step against plain
# cblas_sgemm on the same GEMM shapes, inference, the same network in PyTorch
# loaded from our checkpoint (outputs compared, step timed), and a real `fit` on
# shards (JPEG at 512x256, decoded and augmented on worker threads) for the
# images/s and the share of time spent waiting for data.
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/common.sh
THREADS=${THREADS:-2}
RUNS=${RUNS:-5}
DATA=bench-data/train-frames-400
work=bench-data/train
generated "$DATA" "400 Cityscapes-layout frames of 1024x512" "$BIN/synmix-generate" cityscapes --out "$DATA" --count 400 --seed 11 --noise 4 --width 1024 --height 512 --city trainbench
rm -rf "$work" && mkdir -p "$work"
"$BIN/harmonize" --dataset cityscapes --root "$DATA" --out "$work/manifest" >/dev/null
"$BIN/pack-mix" --real "$work/manifest" --max-size 512x256 --image-format jpg --shard-samples 100 --out "$work/shards" >/dev/null

number() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))" "$@"; }

# Interleaved runs, ours then PyTorch, under each OpenBLAS kernel choice: its own (the CPU's) and
# Haswell's AVX2 kernels (some machines force them with OPENBLAS_CORETYPE). Never set in tests or CI.
kernels_table=$(mktemp)
for kernels in default Haswell; do
  for r in $(seq "$RUNS"); do
    if [ "$kernels" = default ]; then
      env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$BIN/synmix-bench" train-step --threads "$THREADS" --export "$work/export" > "$work/ours-$kernels-$r.json"
    else
      OPENBLAS_CORETYPE=Haswell "$BIN/synmix-bench" train-step --threads "$THREADS" --export "$work/export" > "$work/ours-$kernels-$r.json"
    fi
    "$PY" Benchmarks/torch_peer.py "$work/export" "$THREADS" > "$work/torch-$kernels-$r.json"
  done
  each() { for r in $(seq "$RUNS"); do number "$work/$1-$kernels-$r.json" "$2"; done; }
  ratios() { for r in $(seq "$RUNS"); do
      awk -v a="$(number "$work/$1-$kernels-$r.json" "$2")" -v b="$(number "$work/$3-$kernels-$r.json" "$4")" 'BEGIN { print a / b }'
    done; }
  {
    printf "| %s | %s | %s | %s | %s | %s | %s |\n" "$(each ours step_ms | spread %.1f)" "$(each torch step_ms | spread %.1f)" \
      "$(ratios ours step_ms torch step_ms | spread %.2f)" "$(each ours forward_images_per_second | spread %.0f)" \
      "$(each torch forward_images_per_second | spread %.0f)" "$(ratios ours step_gflops ours sgemm_gflops | spread %.2f)" "$kernels"
  } >> "$kernels_table"   # one row per kernel choice
done
kernels=default
ours_step=$(each ours step_ms | median)
ours_gflops=$(each ours step_gflops | median)
sgemm_gflops=$(each ours sgemm_gflops | median)
ours_forward=$(each ours forward_images_per_second | median)
ours_predict=$(each ours predict_images_per_second | median)
torch_step=$(each torch step_ms | median)
torch_forward=$(each torch forward_images_per_second | median)
difference=$(for k in default Haswell; do for r in $(seq "$RUNS"); do number "$work/torch-$k-$r.json" max_output_difference; done; done | sort -g | tail -1)
torch_version=$(number "$work/torch-default-1.json" torch)
gflop=$(number "$work/ours-default-1.json" train_gflop)

/usr/bin/time -f "%e %M" -o "$work/time" "$BIN/train-shards" fit --train "$work/shards/mix-*.tar" --out "$work/fit" \
  --steps 150 --batch 8 --input-size 256x128 --jobs "$THREADS" --log-every 50 > "$work/fit.log"
read -r fit_s fit_kb < "$work/time"
fit_rate=$(number "$work/fit/metrics.json" "timing['images_per_second']")
wait_share=$(number "$work/fit/metrics.json" "100 * timing['data_wait_share']")
# The PyTorch twin's data path: images/s reading the shards (webdataset, decode, targets in one worker)
# against the same step on a batch already in memory.
"$PY" Benchmarks/torch_data_path.py "$work/shards/mix-*.tar" 30 8 256x128 1 "$THREADS" > "$work/torch-data.json"
shards_rate=$(number "$work/torch-data.json" images_per_second_from_shards)
memory_rate=$(number "$work/torch-data.json" images_per_second_in_memory)
{
  echo "| what (batch 8, 256×128, $THREADS threads, median of $RUNS) | synmix | PyTorch $torch_version |"
  echo "|---|---:|---:|"
  awk -v o="$ours_step" -v t="$torch_step" 'BEGIN { printf "| training step (forward, losses, backward, AdamW) | %.1f ms (%.0f img/s) | %.1f ms (%.0f img/s) |\n", o, 8000 / o, t, 8000 / t }'
  awk -v g="$ours_gflops" -v s="$sgemm_gflops" -v f="$gflop" 'BEGIN { printf "| GEMM work per step %.2f GFLOP: achieved rate | %.1f GFLOP/s = %.0f%% of plain sgemm (%.1f GFLOP/s) | |\n", f, g, 100 * g / s, s }'
  awk -v o="$ours_forward" -v t="$torch_forward" 'BEGIN { printf "| inference forward pass | %.0f img/s | %.0f img/s |\n", o, t }'
  awk -v o="$ours_predict" 'BEGIN { printf "| predict one image (forward + grouping, batch 1) | %.0f img/s | |\n", o }'
  awk -v r="$fit_rate" -v w="$wait_share" -v s="$fit_s" -v m="$fit_kb" 'BEGIN { printf "| fit on JPEG shards, 150 steps | %.0f img/s, %.1f%% waiting for data, %.0f s, peak %.0f MiB | |\n", r, w, s, m / 1024 }'
  awk -v s="$shards_rate" -v m="$memory_rate" 'BEGIN { printf "| PyTorch twin training from the shards (1 worker) / on a batch in memory | | %.0f / %.0f img/s (data path %.0f%%) |\n", s, m, 100 * (1 - s / m) }'
  echo
  echo "Median (min–max) of $RUNS interleaved runs per kernel choice:"
  echo
  echo "| step, ms: synmix | PyTorch | synmix ÷ PyTorch | forward, img/s: synmix | PyTorch | GEMM share of plain sgemm | OpenBLAS kernels |"
  echo "|---:|---:|---:|---:|---:|---:|---|"
  cat "$kernels_table"
  echo
  echo "PyTorch loads our checkpoint with strict=True; largest difference of its outputs from ours: $difference (limit 1e-4)."
} | tee bench-data/train.md
