# Standalone reference (METHOD section 2) of the scalable reconstruction: a trained conditional
# model with zeros in place of y_b; only its entropy model is retrained (the PSNR stays the
# conditional model's; the bpp gap is what the side information saves). Compare it with the
# Continued control (ttc-enh-continued_*, the same steps with the true y_b). One command:
#   python tools/train.py configs/mmseg/ttc_enhancement/<this file> \
#       --cfg-options load_from=work_dirs/<proposed config>/best_selection_psnr_scalable_epoch_N.pth
_base_ = ['./ttc-enh-proposed_synthesis-n3_1xb10-100e_cityscapes-halfres-recon-1024x2048.py']
model = dict(standalone=True)
load_from = None  # the trained conditional model: set it (training refuses to start without)
# an equal budget for Standalone and Continued: a fixed number of epochs, no early stopping
train_cfg = dict(max_epochs=100)
default_hooks = dict(checkpoint=dict(save_best='selection/bpp_estimated', rule='less'))
custom_hooks = [dict(type='TTCCheckpointHook')]
