# `make demo`: the Baseline depth base at demo size: the Proposed demo config with the codec loss
# of configs/mmseg/ttc_depth/ttc-baseline_* (beta = 0 for the encoder; g_a a detached probe).
_base_ = ["./ttc-proposed_lraspp_m-v3-d8_1xb4-35e_synthetic-cityscapes-disparity-64x128.py"]
model = dict(codec_loss=dict(beta=0.0, mode="baseline", probe_weight=1.0))
