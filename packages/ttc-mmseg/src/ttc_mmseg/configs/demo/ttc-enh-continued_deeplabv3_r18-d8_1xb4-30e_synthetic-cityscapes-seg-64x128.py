# `make demo`: the Continued control at demo size (configs/mmseg/ttc_enhancement/
# ttc-enh-continued_*): the trained conditional model's entropy model retrained with the true
# y_b for as many epochs as the Standalone (f_e, g_e and the task network frozen; the demo passes
# load_from=...). Standalone vs Continued is the side-information saving at an equal budget.
_base_ = ["./ttc-enh-standalone_deeplabv3_r18-d8_1xb4-30e_synthetic-cityscapes-seg-64x128.py"]
model = dict(standalone=False, continued=True)
