# `make demo`: scalable reconstruction at half resolution (the paper's headline experiment) on
# the generated 64x128 Cityscapes-layout frames: the shipped configs/mmseg/ttc_enhancement/
# ttc-enh-proposed_synthesis-n3_* with a 64-channel enhancement latent, a higher learning rate
# and a short schedule. One config for both bases: the demo passes the depth base with
# --cfg-options model.base.checkpoint=PATH (Proposed or Baseline). The frames are reconstructed
# at 32x64; bpp counts those coded pixels (METHOD section 5). Selection every 5 epochs on the
# selection split (best selection/psnr_scalable); the best checkpoint is evaluated once on the
# val split with real bitstreams by tools/train.py (work_dir/ttc_report.json: psnr_scalable,
# bpp, bpp_base, bpp_enhancement and their _estimated).
_base_ = ['../ttc_enhancement/ttc-enh-proposed_synthesis-n3_1xb10-100e_cityscapes-halfres-recon-1024x2048.py']
model = dict(
    enhancement=dict(
        latent_channels=64,
        analysis_channels=(16, 32, 64),
        analysis_blocks=1,
        synthesis_channels=(64, 32, 16)),
    test_cfg=dict(mode='whole', actual_bits=False))
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = dict(num_workers=0, persistent_workers=False)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
train_cfg = dict(max_epochs=30, val_interval=5)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(
        interval=30, save_best='selection/psnr_scalable', rule='greater', max_keep_ckpts=1),
    visualization=dict(type='SegVisualizationHook', draw=False))
custom_hooks = [dict(type='TTCCheckpointHook')]
randomness = dict(seed=0)
