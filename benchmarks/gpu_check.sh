#!/usr/bin/env bash
# The prepared GPU check (issue 16): fits in about 8 minutes on one CUDA GPU and writes its
# results (gpu_check.json + README.md) to OUT (default results/gpu/check):
#   1. the training step of the ttc detector vs the plain R50-FPN at the reference size
#      (batch 4, 800×1216): time and peak memory, float32 and AMP (float16 on a GPU);
#   2. a few hundred iterations of the Proposed and Baseline detection bases through
#      tools/train_net.py (reference widths, generated COCO-layout scenes, real-bit report);
#   3. real bitstreams of the GPU-trained weights: every validation image coded and decoded on
#      the CPU (`ttc compress DIR` / `ttc decompress DIR`; decoding checks each latent's CRC).
#   bash benchmarks/gpu_check.sh [--out OUT] [--iters N]
#   bash benchmarks/gpu_check.sh --device cpu --tiny --out /tmp/check   # the CPU dry run
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" benchmarks/gpu_check.py "$@"
