# Scalable reconstruction on the Proposed depth base (METHOD sections 2-3): the enhancement
# layer y_e is coded given the frozen base's y_b and decoded by g_e (n = 3) into the frame at
# half resolution (512x1024). PSNR and bpp count the 512x1024 pixels (METHOD section 5).
# Reference settings: Adam 1e-4, batch 10, gradient clip 1.0, flip + colour jitter,
# early stopping and best checkpoint on the selection split's psnr_scalable; Cityscapes val is
# reported once, at the end.
#   python tools/train.py configs/mmseg/ttc_enhancement/<this file> \
#       --cfg-options model.codec_loss.alpha=1.0 [model.base.checkpoint=PATH]
_base_ = [
    '../_base_/models/ttc-enh-recon_synthesis-n3.py',
    '../_base_/datasets/cityscapes-frames_1024x2048.py',
    '../_base_/schedules/adam-1e-4-clip1_100e-early-stop-psnr.py',
]
custom_imports = dict(imports=['ttc_mmseg'], allow_failed_imports=False)
model = dict(
    base=dict(
        checkpoint='work_dirs/ttc-proposed_lraspp_m-v3-d8_1xb10-100e_cityscapes-disparity-1024x2048'
    )
)
