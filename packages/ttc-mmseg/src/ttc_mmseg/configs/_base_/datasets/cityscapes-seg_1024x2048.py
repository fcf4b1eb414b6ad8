# Cityscapes frames with their semantic labels (gtFine *_labelTrainIds.png: 19 classes, 255 =
# ignore), full 1024x2048 frames (no crop, no resize), for the segmentation enhancement layer.
# data_root must hold leftImg8bit/ and gtFine/ (leftImg8bit_trainvaltest.zip and
# gtFine_trainvaltest.zip; the trainIds come from cityscapesscripts' createTrainIdLabelImgs or
# mmseg's tools/dataset_converters/cityscapes.py). Set CITYSCAPES_ROOT (default:
# data/cityscapes) or override {train,val}_dataloader.dataset.dataset.data_root and
# test_dataloader.dataset.data_root.
dataset_type = 'CityscapesDataset'
data_root = '{{$CITYSCAPES_ROOT:data/cityscapes}}/'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    # torchvision ColorJitter(0.5, 0.5, 0.5) semantics, as the reference training
    dict(type='TTCColorJitter', brightness=0.5, contrast=0.5, saturation=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
# Model selection apart from the reported split (METHOD section 8): training fits on the
# 'fit' part of the training split, the periodic evaluations run on its 'selection' part (10 %,
# seeded hash of the file names; size= / seed= / files= alike in both parts), Cityscapes val is
# the reported split, evaluated once at the end by tools/train.py (work_dir/ttc_report.json).
train_split = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
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
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=test_pipeline,
    ),
)
# mIoU over the 19 classes (mmseg reports percentages), and the rate of both layers:
# bits / (1024 x 2048) frame pixels, bpp_estimated (total), bpp_base_estimated,
# bpp_enhancement_estimated; with real bits (the reported evaluation, or
# model.test_cfg.actual_bits=True) bpp, bpp_base, bpp_enhancement
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU'], prefix='selection'),
    dict(type='RateMetric', prefix='selection'),
]
test_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='RateMetric'),
]
