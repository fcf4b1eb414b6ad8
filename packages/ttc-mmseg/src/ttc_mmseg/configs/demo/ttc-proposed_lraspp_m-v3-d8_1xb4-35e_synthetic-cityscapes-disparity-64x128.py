# `make demo`: the shipped Proposed depth config, shrunk for 2 CPU cores and the generated
# 64x128 Cityscapes-layout frames (`ttc data synth cityscapes`). Architecture unchanged except
# for the bottleneck widths; higher learning rate and a short schedule so a run takes seconds.
# beta = 0.01 (the slides' value): with 0.1 the reward outweighs this tiny depth loss so much
# that the Proposed and Baseline rate ranges do not meet within 200 steps.
# Protocol as the shipped config: fit on the 'fit' part of the training split, evaluate the
# selection split (10 % of the training frames) every 5 epochs and keep the best
# selection/rmse checkpoint; tools/train.py then evaluates it once on the val split with real
# bitstreams (work_dir/ttc_report.json: rmse, bpp, bpp_estimated, psnr_direct, ...).
_base_ = ["../ttc_depth/ttc-proposed_lraspp_m-v3-d8_1xb10-100e_cityscapes-disparity-1024x2048.py"]
model = dict(
    backbone=dict(
        bottleneck=dict(
            latent_channels=64,
            analysis_channels=(16, 32, 64),
            analysis_blocks=1,
            synthesis_channels=(64, 32, 16),
            recon_blocks=1,
        )
    ),
    codec_loss=dict(beta=0.01),
    # estimates during training and selection; the reported evaluation codes real bitstreams
    test_cfg=dict(mode="whole", actual_bits=False),
)
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = dict(num_workers=0, persistent_workers=False)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
train_cfg = dict(max_epochs=35, val_interval=5)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=35, save_best="selection/rmse", rule="less", max_keep_ckpts=1),
    visualization=dict(type="SegVisualizationHook", draw=False),
)
# a fixed demo budget: no early stopping
custom_hooks = [dict(type="TTCCheckpointHook")]
randomness = dict(seed=0)
