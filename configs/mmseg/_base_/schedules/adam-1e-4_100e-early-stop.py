# Reference schedule (METHOD section 4): Adam, lr 1e-4, no LR schedule, early stopping on
# the validation disparity RMSE. The patience is not given by the paper (5 epochs here).
# On top of MMSeg's runtime defaults (scope 'mmseg', visualiser, log level, ...).
_base_ = ['mmseg::_base_/default_runtime.py']
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4), clip_grad=None)
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
        save_best='rmse',
        rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
custom_hooks = [
    # writes the framework-free codec spec ("ttc_codec") into every checkpoint and keeps
    # checkpoints loadable with torch.load(weights_only=True) (resume, load_from)
    dict(type='TTCCheckpointHook'),
    dict(type='EarlyStoppingHook', monitor='rmse', rule='less', patience=5),
]
log_processor = dict(by_epoch=True)
