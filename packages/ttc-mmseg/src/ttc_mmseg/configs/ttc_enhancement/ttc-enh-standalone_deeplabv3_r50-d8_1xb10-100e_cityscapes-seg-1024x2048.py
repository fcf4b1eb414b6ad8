# Standalone reference (METHOD section 2): a trained conditional segmentation enhancement model
# with zeros in place of y_b; everything but its entropy model is frozen (BN statistics too)
# and only the rate is trained, so the mIoU stays that of the conditional model and the bpp
# gap is what the side information saves. Compare it with the Continued control
# (ttc-enh-continued_*: the same steps with the true y_b, METHOD section 8), not with the
# conditional model it starts from. One command (load_from is required):
#   python tools/train.py configs/mmseg/ttc_enhancement/<this file> \
#       --cfg-options load_from=work_dirs/<proposed config>/best_selection_mIoU_epoch_N.pth
# (alpha only scales the rate gradient here: Adam makes it all but irrelevant.)
_base_ = ['./ttc-enh-proposed_deeplabv3_r50-d8_1xb10-100e_cityscapes-seg-1024x2048.py']
model = dict(standalone=True)
load_from = None  # the trained conditional model: set it (training refuses to start without)
# an equal budget for Standalone and Continued: a fixed number of epochs, no early stopping;
# only the rate changes, so the lowest-rate checkpoint on the selection split is reported
train_cfg = dict(max_epochs=100)
default_hooks = dict(checkpoint=dict(save_best='selection/bpp_estimated', rule='less'))
custom_hooks = [dict(type='TTCCheckpointHook')]
