# Reference schedule of the enhancement stage (METHOD section 4): Adam, lr 1e-4, no LR
# schedule, gradient clipping at 1.0, early stopping on the mIoU of the selection split
# (carved from the training split; METHOD section 8; patience 5: not given by the paper). The
# base layer is frozen: only the enhancement layer (and the task network) get gradients. On
# top of MMSeg's runtime defaults.
_base_ = ['mmseg::_base_/default_runtime.py']
optim_wrapper = dict(
    type='TTCOptimWrapper',
    constructor='TTCOptimWrapperConstructor',
    optimizer=dict(type='Adam', lr=1e-4),
    clip_grad=dict(max_norm=1.0, norm_type=2),
)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=True,
        interval=1,
        max_keep_ckpts=3,
        save_best='selection/mIoU',  # best_selection_mIoU_epoch_N.pth
        rule='greater',
    ),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'),
)
custom_hooks = [
    # "ttc_codec" spec (base + enhancement) and settings in every checkpoint,
    # weights_only-safe checkpoints, and the Standalone / Continued check (load_from required)
    dict(type='TTCCheckpointHook'),
    dict(type='EarlyStoppingHook', monitor='selection/mIoU', rule='greater', patience=5),
]
log_processor = dict(by_epoch=True)
