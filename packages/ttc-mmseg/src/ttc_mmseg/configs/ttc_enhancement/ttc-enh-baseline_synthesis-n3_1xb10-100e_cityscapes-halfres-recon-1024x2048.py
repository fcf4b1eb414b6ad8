# Scalable reconstruction on the Baseline depth base (beta = 0): only the frozen base differs
# from the Proposed config.
_base_ = ['./ttc-enh-proposed_synthesis-n3_1xb10-100e_cityscapes-halfres-recon-1024x2048.py']
model = dict(
    base=dict(
        checkpoint='work_dirs/ttc-baseline_lraspp_m-v3-d8_1xb10-100e_cityscapes-disparity-1024x2048'
    )
)
