# Standalone reference (METHOD section 2) of the scalable reconstruction: a trained conditional
# model with zeros in place of y_b; only its entropy model is retrained (the PSNR stays the
# conditional model's; the bpp gap is what the side information saves). One command:
#   python tools/train.py configs/mmseg/ttc_enhancement/<this file> \
#       --cfg-options load_from=work_dirs/<proposed config>/best_psnr_epoch_N.pth
_base_ = ['./ttc-enh-proposed_synthesis-n3_1xb10-100e_cityscapes-halfres-recon-1024x2048.py']
model = dict(standalone=True)
load_from = None  # the trained conditional model: set it (training refuses to start without)
default_hooks = dict(checkpoint=dict(save_best='bpp', rule='less'))
custom_hooks = [
    dict(type='TTCCheckpointHook'),
    dict(type='EarlyStoppingHook', monitor='bpp', rule='less', patience=5),
]
