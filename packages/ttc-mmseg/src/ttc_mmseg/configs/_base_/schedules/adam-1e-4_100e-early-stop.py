# Reference schedule (METHOD section 4): Adam, lr 1e-4, no LR schedule, early stopping on
# the disparity RMSE of the selection split (carved from the training split; METHOD section 8).
# The patience is not given by the paper (5 epochs here).
# On top of MMSeg's runtime defaults (scope 'mmseg', visualiser, log level, ...).
_base_ = ['mmseg::_base_/default_runtime.py']
# TTCOptimWrapperConstructor puts a Baseline's probe g_a in param groups of its own, and
# TTCOptimWrapper clips each group by its own norm: with clip_grad=dict(max_norm=...) the probe
# cannot scale the other parameters' steps (no clipping in the reference depth training).
optim_wrapper = dict(
    type='TTCOptimWrapper',
    constructor='TTCOptimWrapperConstructor',
    optimizer=dict(type='Adam', lr=1e-4),
    clip_grad=None)
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
        save_best='selection/rmse',  # best_selection_rmse_epoch_N.pth
        rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
custom_hooks = [
    # writes the framework-free codec spec ("ttc_codec") and the settings in force into every
    # checkpoint and keeps checkpoints loadable with torch.load(weights_only=True)
    dict(type='TTCCheckpointHook'),
    dict(type='EarlyStoppingHook', monitor='selection/rmse', rule='less', patience=5),
]
log_processor = dict(by_epoch=True)
