# `make demo`: the Standalone reference of the scalable reconstruction at demo size: zeros replace
# y_b and only the enhancement entropy model is retrained for 30 epochs (as many as the
# Continued control), from a trained conditional model (the demo passes load_from=... and
# model.base.checkpoint=...). The lowest selection/bpp_estimated checkpoint is reported.
_base_ = ['./ttc-enh-recon_synthesis-n3_1xb4-30e_synthetic-cityscapes-halfres-recon-64x128.py']
model = dict(standalone=True)
default_hooks = dict(checkpoint=dict(save_best='selection/bpp_estimated', rule='less'))
