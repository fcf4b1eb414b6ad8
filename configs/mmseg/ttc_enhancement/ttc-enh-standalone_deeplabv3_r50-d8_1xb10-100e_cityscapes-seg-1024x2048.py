# Standalone reference (METHOD section 2): a trained conditional segmentation enhancement model
# with zeros in place of y_b; everything but its entropy model is frozen (BN statistics too)
# and only the rate is trained, so the mIoU stays that of the conditional model and the bpp
# gap to it is what the side information saves. One command (load_from is required):
#   python tools/train.py configs/mmseg/ttc_enhancement/<this file> \
#       --cfg-options load_from=work_dirs/<proposed config>/best_mIoU_epoch_N.pth
# (alpha only scales the rate gradient here: Adam makes it all but irrelevant.)
_base_ = ['./ttc-enh-proposed_deeplabv3_r50-d8_1xb10-100e_cityscapes-seg-1024x2048.py']
model = dict(standalone=True)
load_from = None  # the trained conditional model: set it (training refuses to start without)
# only the rate changes: keep the lowest-rate checkpoint and stop when it no longer improves
default_hooks = dict(checkpoint=dict(save_best='bpp', rule='less'))
custom_hooks = [
    dict(type='TTCCheckpointHook'),
    dict(type='EarlyStoppingHook', monitor='bpp', rule='less', patience=5),
]
