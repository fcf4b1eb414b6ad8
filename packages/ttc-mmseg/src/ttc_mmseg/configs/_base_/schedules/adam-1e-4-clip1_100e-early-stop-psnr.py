# The enhancement-stage schedule of adam-1e-4-clip1_100e-early-stop-miou.py (Adam, lr 1e-4, no LR
# schedule, gradient clipping at 1.0), keeping the best checkpoint and stopping early on the
# scalable-reconstruction PSNR of the selection split instead of the mIoU.
_base_ = ['./adam-1e-4-clip1_100e-early-stop-miou.py']
default_hooks = dict(checkpoint=dict(save_best='selection/psnr_scalable', rule='greater'))
custom_hooks = [
    dict(type='TTCCheckpointHook'),
    dict(type='EarlyStoppingHook', monitor='selection/psnr_scalable', rule='greater', patience=5),
]
