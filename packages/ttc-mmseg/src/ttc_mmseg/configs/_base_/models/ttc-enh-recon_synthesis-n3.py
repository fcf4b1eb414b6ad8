# Scalable reconstruction (METHOD sections 2-3, enhancement layer) on a frozen depth base:
# frame 1024x2048 -> learned 2x downsample -> f_e -> y_e, coded with p(y_e | y_b) -> g_e (n=3)
#   -> reconstruction of the frame at half resolution (512x1024, [0, 1] RGB).
# loss = 255 x RMSE (per image, averaged) + alpha * (bpp_e + bpp_b), estimated rates counting
# the 512x1024 coded pixels for both layers (METHOD section 5); bpp_b is constant here but
# reported.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size_divisor=1,
    pad_val=0,
    seg_pad_val=255,
)
model = dict(
    type='TTCReconstructionEnhancement',
    data_preprocessor=data_preprocessor,
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
        synthesis_blocks=3,  # reconstruction decoder (n = 3)
        out_channels=3,
    ),
    codec_loss=dict(alpha=1.0),
    # the two retraining controls (only the entropy model trains; load_from a conditional model):
    # standalone=True (zeros for y_b) or continued=True (the true y_b), never both
    standalone=False,
    continued=False,
    bpp_pixels='coded',
    recon_weight=1.0,
    train_cfg=dict(),
    # actual_bits=True codes real bitstreams (bpp, bpp_base, bpp_enhancement); the reported
    # evaluation at the end of tools/train.py turns it on by itself
    test_cfg=dict(mode='whole', actual_bits=False),
)
