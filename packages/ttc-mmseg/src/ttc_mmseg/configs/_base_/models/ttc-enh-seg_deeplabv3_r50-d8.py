# Scalable segmentation (METHOD sections 2-3, enhancement layer) on a frozen depth base:
# frame 1024x2048 -> learned 2x downsample -> f_e -> y_e, coded with p(y_e | y_b) -> g_e (n=1)
#   -> pseudo-image 512x1024 -> DeepLabV3 ResNet-50-D8 (ASPP head + auxiliary FCN head,
#   19 classes) -> learned 2x upsample of the logits (nearest + conv5x5) -> 1024x2048.
# The base (learned downsample + f_b + p(y_b)) is rebuilt from a trained depth-base checkpoint
# (its "ttc_codec" spec) and stays frozen. loss = CE + 0.4 CE_aux + alpha * (bpp_e + bpp_b),
# estimated rates counting the frame's 1024x2048 pixels; bpp_b is constant here but reported.
_base_ = ['mmseg::_base_/models/deeplabv3_r50-d8.py']
# one GPU, batch 10 (reference): BN; for several GPUs use SyncBN (or sync_bn='torch')
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size_divisor=1,  # full frames of one size: nothing to pad
    pad_val=0,
    seg_pad_val=255,
)
model = dict(
    type='TTCEnhancementSegmentor',
    data_preprocessor=data_preprocessor,
    # ImageNet weights for the ResNet-50 are given by path only, e.g.
    # model.backbone.init_cfg=dict(type='Pretrained', checkpoint='/path/to/resnet50_v1c.pth')
    pretrained=None,
    # the trained base: a .pth file, or the work_dir of a finished base run (tools/train.py):
    # the checkpoint its ttc_report.json names; override with model.base.checkpoint=PATH
    base=dict(
        checkpoint='work_dirs/ttc-proposed_lraspp_m-v3-d8_1xb10-100e_cityscapes-disparity-1024x2048'
    ),
    downsample=dict(factor=2),
    enhancement=dict(
        latent_channels=192,
        analysis_channels=(24, 48, 192),
        analysis_blocks=3,
        synthesis_channels=(192, 48, 24),
        synthesis_blocks=1,  # pseudo-image decoder (n = 1)
        out_channels=3,
    ),
    # alpha picks the rate point (the paper does not record its values): sweep it
    codec_loss=dict(alpha=1.0),
    # the two retraining controls (only the entropy model trains; load_from a conditional model):
    # standalone=True (zeros for y_b) or continued=True (the true y_b), never both
    standalone=False,
    continued=False,
    bpp_pixels='frame',
    backbone=dict(norm_cfg=norm_cfg, init_cfg=None),
    decode_head=dict(
        type='UpsampledASPPHead', upsample_factor=2, num_classes=19, norm_cfg=norm_cfg
    ),
    auxiliary_head=dict(
        type='UpsampledFCNHead', upsample_factor=2, num_classes=19, norm_cfg=norm_cfg
    ),
    train_cfg=dict(),
    # 'whole' only; actual_bits=True also runs the real rANS coder on both layers (slow; the
    # reported evaluation at the end of tools/train.py turns it on by itself)
    test_cfg=dict(mode='whole', actual_bits=False),
)
