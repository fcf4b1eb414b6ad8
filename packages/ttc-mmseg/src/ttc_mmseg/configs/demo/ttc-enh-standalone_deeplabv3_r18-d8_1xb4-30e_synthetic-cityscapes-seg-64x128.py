# `make demo`: the Standalone reference at demo size, as configs/mmseg/ttc_enhancement/
# ttc-enh-standalone_*: zeros replace y_b and only the enhancement entropy model is retrained,
# starting from a trained conditional model (the demo passes load_from=...), for 30 epochs:
# as many as its Continued control (ttc-enh-continued_*). The lowest selection/bpp_estimated
# checkpoint is reported.
_base_ = ["./ttc-enh-proposed_deeplabv3_r18-d8_1xb4-30e_synthetic-cityscapes-seg-64x128.py"]
model = dict(standalone=True)
default_hooks = dict(checkpoint=dict(save_best="selection/bpp_estimated", rule="less"))
