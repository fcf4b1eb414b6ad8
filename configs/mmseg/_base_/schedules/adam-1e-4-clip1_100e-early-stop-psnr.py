# The enhancement-stage schedule of adam-1e-4-clip1_100e-early-stop-miou.py (Adam, lr 1e-4, no LR
# schedule, gradient clipping at 1.0), keeping the best checkpoint and stopping early on the
# validation PSNR instead of the mIoU (reconstruction enhancement).
_base_ = ['./adam-1e-4-clip1_100e-early-stop-miou.py']
default_hooks = dict(checkpoint=dict(save_best='psnr', rule='greater'))
custom_hooks = [
    dict(type='TTCCheckpointHook'),
    dict(type='EarlyStoppingHook', monitor='psnr', rule='greater', patience=5),
]
