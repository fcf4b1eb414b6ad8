# `make demo`: the Continued control of the scalable reconstruction at demo size: the trained
# conditional model's entropy model retrained with the true y_b for as many epochs as the
# Standalone (f_e, g_e frozen; the demo passes load_from=... and model.base.checkpoint=...).
_base_ = ['./ttc-enh-recon-standalone_synthesis-n3_1xb4-30e_synthetic-cityscapes-halfres-recon-64x128.py']
model = dict(standalone=False, continued=True)
