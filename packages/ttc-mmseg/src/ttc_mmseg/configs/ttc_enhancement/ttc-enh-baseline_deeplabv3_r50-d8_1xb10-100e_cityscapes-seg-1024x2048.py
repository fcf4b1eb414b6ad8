# Scalable segmentation on the Baseline depth base (beta = 0): the same enhancement layer and
# task network as the Proposed config, only the frozen base differs.
_base_ = ['./ttc-enh-proposed_deeplabv3_r50-d8_1xb10-100e_cityscapes-seg-1024x2048.py']
model = dict(
    base=dict(
        checkpoint='work_dirs/ttc-baseline_lraspp_m-v3-d8_1xb10-100e_cityscapes-disparity-1024x2048'
    )
)
