# Cityscapes frames only (leftImg8bit), full 1024x2048, for the reconstruction enhancement
# layer: the model reconstructs each frame at the coded, half resolution (512x1024).
# Set CITYSCAPES_ROOT (default: data/cityscapes) or override the datasets' data_root
# ({train,val}_dataloader.dataset.dataset.data_root, test_dataloader.dataset.data_root).
dataset_type = 'CityscapesDataset'
data_root = '{{$CITYSCAPES_ROOT:data/cityscapes}}/'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='TTCColorJitter', brightness=0.5, contrast=0.5, saturation=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackSegInputs'),
]
# Model selection apart from the reported split (METHOD section 8): training fits on the
# 'fit' part of the training split, the periodic evaluations run on its 'selection' part (10 %,
# seeded hash of the file names; size= / seed= / files= alike in both parts), Cityscapes val is
# the reported split, evaluated once at the end by tools/train.py (work_dir/ttc_report.json).
train_split = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=dict(img_path='leftImg8bit/train'),
)
train_dataloader = dict(
    batch_size=10,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='TTCSelectionSplit',
        part='fit',
        size=0.1,
        seed=0,
        dataset=dict(train_split, pipeline=train_pipeline),
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='TTCSelectionSplit',
        part='selection',
        size=0.1,
        seed=0,
        dataset=dict(train_split, pipeline=test_pipeline),
    ),
)
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='leftImg8bit/val'),
        pipeline=test_pipeline,
    ),
)
# PSNR of the half-resolution reconstruction (psnr_scalable, dB, [0, 1] RGB) and the rate of
# both layers: bits / (512 x 1024) coded pixels (METHOD section 5), bpp_estimated (total),
# bpp_base_estimated, bpp_enhancement_estimated; with real bits (the reported evaluation, or
# model.test_cfg.actual_bits=True) bpp, bpp_base, bpp_enhancement
val_evaluator = [dict(type='RateMetric', prefix='selection')]
test_evaluator = [dict(type='RateMetric')]
