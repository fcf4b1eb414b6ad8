# Scalable segmentation on the Proposed depth base (METHOD sections 2-3): the enhancement layer
# y_e is coded given the frozen base's y_b; DeepLabV3 ResNet-50 segments its pseudo-image.
# Reference settings: Adam 1e-4, batch 10, gradient clip 1.0, full 1024x2048 frames,
# horizontal flip + colour jitter 0.5/0.5/0.5, early stopping and best checkpoint on the mIoU
# of the selection split (carved from the training split); Cityscapes val is reported once.
#   python tools/train.py configs/mmseg/ttc_depth/ttc-proposed_lraspp_m-v3-d8_1xb10-100e_cityscapes-disparity-1024x2048.py
#   python tools/train.py configs/mmseg/ttc_enhancement/<this file> \
#       --cfg-options model.codec_loss.alpha=1.0 [model.base.checkpoint=PATH]
_base_ = [
    '../_base_/models/ttc-enh-seg_deeplabv3_r50-d8.py',
    '../_base_/datasets/cityscapes-seg_1024x2048.py',
    '../_base_/schedules/adam-1e-4-clip1_100e-early-stop-miou.py',
]
custom_imports = dict(imports=['ttc_mmseg'], allow_failed_imports=False)
model = dict(
    base=dict(
        checkpoint='work_dirs/ttc-proposed_lraspp_m-v3-d8_1xb10-100e_cityscapes-disparity-1024x2048'
    )
)
