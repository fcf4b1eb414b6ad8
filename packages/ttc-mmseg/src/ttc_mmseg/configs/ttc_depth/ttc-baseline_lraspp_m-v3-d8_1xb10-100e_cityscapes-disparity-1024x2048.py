# Baseline (METHOD section 2): beta = 0 for the encoder. g_a is still trained, as a probe on a
# detached y_b (probe_weight scales only the probe's own learning), so the direct
# reconstruction PSNR (psnr_direct) can be reported; the analysis transform gets no gradient
# from it. beta must be 0.0 here: a Baseline with another beta is refused when the model is
# built (the beta in force is the beta shown). The probe also stays out of every other
# parameter's step: TTCOptimWrapperConstructor / TTCOptimWrapper (from the schedule) clip it
# apart when clip_grad is set.
_base_ = [
    '../_base_/models/ttc-base_lraspp_m-v3-d8.py',
    '../_base_/datasets/cityscapes-disparity_1024x2048.py',
    '../_base_/schedules/adam-1e-4_100e-early-stop.py',
]
custom_imports = dict(imports=['ttc_mmseg'], allow_failed_imports=False)
model = dict(
    codec_loss=dict(alpha=1.0, beta=0.0, mode='baseline', probe_weight=1.0))
