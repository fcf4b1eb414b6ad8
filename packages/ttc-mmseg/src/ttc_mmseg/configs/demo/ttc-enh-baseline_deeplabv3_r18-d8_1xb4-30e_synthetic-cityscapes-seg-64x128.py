# `make demo`: segmentation enhancement on the Baseline depth base: the same model as the
# Proposed-base demo config; only the frozen base differs (the demo passes model.base.checkpoint).
_base_ = ["./ttc-enh-proposed_deeplabv3_r18-d8_1xb4-30e_synthetic-cityscapes-seg-64x128.py"]
