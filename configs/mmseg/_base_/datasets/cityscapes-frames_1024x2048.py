# Cityscapes frames only (leftImg8bit), full 1024x2048, for the reconstruction enhancement
# layer: the model reconstructs each frame at the coded, half resolution (512x1024).
# Set CITYSCAPES_ROOT (default: data/cityscapes) or override the datasets' data_root.
dataset_type = 'CityscapesDataset'
data_root = '{{$CITYSCAPES_ROOT:data/cityscapes}}/'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.5, contrast=0.5, saturation=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=10,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='leftImg8bit/train'),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
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
test_dataloader = val_dataloader
# PSNR of the half-resolution reconstruction (dB, [0, 1] RGB) and the rate of both layers:
# bpp = (base + enhancement bits) / (512 x 1024) coded pixels (METHOD section 5), with
# bpp_base / bpp_enh (estimated; *_actual too with model.test_cfg.actual_bits=True)
val_evaluator = [dict(type='RateMetric')]
test_evaluator = val_evaluator
