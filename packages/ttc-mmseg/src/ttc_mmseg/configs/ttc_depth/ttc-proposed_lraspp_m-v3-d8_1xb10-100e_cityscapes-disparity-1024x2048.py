# Proposed (METHOD section 2): the depth base layer trained with the reconstruction reward
# beta * rec(g_a(y_b), x), beta = 0.1 (the reference release's default; the slides use 0.01).
# Reference settings: Adam 1e-4, batch 10, full 1024x2048 frames, flip + colour jitter.
#   CITYSCAPES_ROOT=/path/to/cityscapes python tools/train.py \
#       configs/mmseg/ttc_depth/<this file> --cfg-options model.codec_loss.alpha=1.0
_base_ = [
    '../_base_/models/ttc-base_lraspp_m-v3-d8.py',
    '../_base_/datasets/cityscapes-disparity_1024x2048.py',
    '../_base_/schedules/adam-1e-4_100e-early-stop.py',
]
custom_imports = dict(imports=['ttc_mmseg'], allow_failed_imports=False)
model = dict(
    codec_loss=dict(alpha=1.0, beta=0.1, mode='proposed', probe_weight=1.0))
