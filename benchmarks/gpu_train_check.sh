#!/usr/bin/env bash
# GPU check (run on demand on a machine with a CUDA GPU): train the reference-size detection
# base (Faster R-CNN R-50-FPN on ttc's pseudo-image, batch 4, short side 800) for a few hundred
# iterations on generated COCO-layout scenes, Proposed and Baseline, then evaluate with real
# bitstreams; prints the wall time per iteration and the evaluation.
#   bash benchmarks/gpu_train_check.sh OUT_DIR [ITERS] [COCO_ROOT]
# COCO_ROOT: an existing generated dataset (default: generate 24 + 6 scenes of 480×640).
set -euo pipefail
OUT="${1:?usage: gpu_train_check.sh OUT_DIR [ITERS]}"
ITERS="${2:-300}"
PY="${PYTHON:-python3}"
COCO="${3:-$OUT/coco}"
mkdir -p "$OUT"
if [[ ! -d "$COCO/annotations" ]]; then
  "$PY" -m ttc_core.cli data synth coco --out "$COCO" --num-train 24 --num-val 6 \
    --height 480 --width 640 --seed 0
fi
REG=(--register-coco "gpu_train=$COCO/annotations/instances_train2017.json:$COCO/train2017"
     --register-coco "gpu_val=$COCO/annotations/instances_val2017.json:$COCO/val2017")
for mode in proposed baseline; do
  start=$(date +%s.%N)
  "$PY" tools/train_net.py --config-file "configs/detectron2/ttc_${mode}_R_50_FPN_1x_coco.yaml" \
    "${REG[@]}" MODEL.WEIGHTS "" MODEL.DEVICE cuda SOLVER.MAX_ITER "$ITERS" \
    SOLVER.CHECKPOINT_PERIOD "$ITERS" DATASETS.TRAIN "('gpu_train',)" DATASETS.TEST "('gpu_val',)" \
    DATALOADER.NUM_WORKERS 4 TEST.EVAL_PERIOD 0 MODEL.TTC.TEST_ACTUAL_BITS True \
    OUTPUT_DIR "$OUT/$mode" > "$OUT/$mode.log" 2>&1 || { tail -40 "$OUT/$mode.log"; exit 1; }
  end=$(date +%s.%N)
  echo "== $mode: $ITERS iterations + final evaluation in $(awk "BEGIN {print $end - $start}") s"
  grep -E "time: [0-9.]+ .*iter: $((ITERS - 1))|total_loss" "$OUT/$mode.log" | tail -2 || true
  grep -E "Overall training speed|Total inference|copypaste|ttc/|bpp|psnr" "$OUT/$mode.log" | tail -12 || true
  cp "$OUT/$mode/metrics.json" "$OUT/${mode}_metrics.json" 2>/dev/null || true
done
