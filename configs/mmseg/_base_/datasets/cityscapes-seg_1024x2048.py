# Cityscapes frames with their semantic labels (gtFine *_labelTrainIds.png: 19 classes, 255 =
# ignore), full 1024x2048 frames (no crop, no resize), for the segmentation enhancement layer.
# data_root must hold leftImg8bit/ and gtFine/ (leftImg8bit_trainvaltest.zip and
# gtFine_trainvaltest.zip; the trainIds come from cityscapesscripts' createTrainIdLabelImgs or
# mmseg's tools/dataset_converters/cityscapes.py). Set CITYSCAPES_ROOT (default:
# data/cityscapes) or override {train,val,test}_dataloader.dataset.data_root.
dataset_type = 'CityscapesDataset'
data_root = '{{$CITYSCAPES_ROOT:data/cityscapes}}/'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    # torchvision ColorJitter(0.5, 0.5, 0.5) semantics, as the reference training
    dict(type='ColorJitter', brightness=0.5, contrast=0.5, saturation=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
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
        data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
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
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
# mIoU over the 19 classes (mmseg reports percentages), and the rate of both layers:
# bpp = (base + enhancement bits) / (1024 x 2048) frame pixels, with bpp_base / bpp_enh
# (estimated; *_actual too with model.test_cfg.actual_bits=True)
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='RateMetric'),
]
test_evaluator = val_evaluator
