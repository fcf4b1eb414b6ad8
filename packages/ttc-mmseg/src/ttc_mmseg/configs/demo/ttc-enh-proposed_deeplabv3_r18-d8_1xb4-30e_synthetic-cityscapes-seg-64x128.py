# `make demo`: the shipped proposed segmentation-enhancement config, shrunk for 2 CPU cores and the
# generated 64x128 Cityscapes-layout frames: a 64-channel enhancement latent, DeepLabV3 on a
# ResNetV1c-18 with 32 base channels (narrow ASPP / FCN heads) instead of ResNet-50, a higher
# learning rate and a short schedule. The base checkpoint is given by the demo
# (--cfg-options model.base.checkpoint=...). Selection every 5 epochs on the selection split
# (best selection/mIoU); the best checkpoint is evaluated once on the val split with real
# bitstreams by tools/train.py (work_dir/ttc_report.json).
_base_ = ['../ttc_enhancement/ttc-enh-proposed_deeplabv3_r50-d8_1xb10-100e_cityscapes-seg-1024x2048.py']
model = dict(
    enhancement=dict(
        latent_channels=64,
        analysis_channels=(16, 32, 64),
        analysis_blocks=1,
        synthesis_channels=(64, 32, 16)),
    backbone=dict(depth=18, stem_channels=32, base_channels=32),
    decode_head=dict(in_channels=256, channels=32, dilations=(1, 2, 3, 4)),
    auxiliary_head=dict(in_channels=128, channels=16),
    test_cfg=dict(mode='whole', actual_bits=False))
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = dict(num_workers=0, persistent_workers=False)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
train_cfg = dict(max_epochs=30, val_interval=5)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=30, save_best='selection/mIoU', rule='greater', max_keep_ckpts=1),
    visualization=dict(type='SegVisualizationHook', draw=False))
custom_hooks = [dict(type='TTCCheckpointHook')]
randomness = dict(seed=0)
