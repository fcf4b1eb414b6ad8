# Cityscapes frames with their disparity maps, full 1024x2048 frames (no crop, no resize).
# data_root must hold leftImg8bit/ and disparity/ (Cityscapes' leftImg8bit_trainvaltest.zip and
# disparity_trainvaltest.zip unpacked together). Set the environment variable CITYSCAPES_ROOT
# (default: data/cityscapes), or override train_dataloader.dataset.dataset.data_root,
# val_dataloader.dataset.dataset.data_root (the two parts of the training split) and
# test_dataloader.dataset.data_root (changing the top-level data_root after loading does not
# reach the datasets).
# Target: the paper's (p - 1) / 32768 = disparity / 128; invalid pixels are 0.
dataset_type = 'CityscapesDisparityDataset'
data_root = '{{$CITYSCAPES_ROOT:data/cityscapes}}/'
depth_target = 'disparity'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    # decode the 16-bit disparity BEFORE any geometric transform
    dict(type='LoadCityscapesDisparity', target=depth_target),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    # torchvision ColorJitter(0.5, 0.5, 0.5) semantics, as the reference training
    dict(type='TTCColorJitter', brightness=0.5, contrast=0.5, saturation=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCityscapesDisparity', target=depth_target),
    dict(type='PackSegInputs'),
]
# Model selection apart from the reported split (METHOD section 8): training fits on the
# 'fit' part of the training split; the periodic evaluations (early stopping, best checkpoint)
# run on its 'selection' part (10 %, chosen by a seeded hash of the file names; set size= a
# count or a fraction, seed=, or files=[names]: the same in both parts); Cityscapes val is the
# reported split, evaluated once at the end of training with real bits by tools/train.py
# (work_dir/ttc_report.json).
train_split = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=dict(img_path='leftImg8bit/train', depth_map_path='disparity/train'))
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
        dataset=dict(train_split, pipeline=train_pipeline)))
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
        dataset=dict(train_split, pipeline=test_pipeline)))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='leftImg8bit/val', depth_map_path='disparity/val'),
        pipeline=test_pipeline))
# disparity RMSE in pixels (128 x RMSE of the target) + delta accuracies, and the rate:
# bpp = bits / (1024 x 2048) frame pixels; bpp_estimated from the likelihoods, bpp from real
# bitstreams (the reported evaluation, or model.test_cfg.actual_bits=True); psnr_direct of
# g_a(y_b). The selection split's metrics are prefixed: selection/rmse, selection/bpp_estimated
val_evaluator = [
    dict(type='DisparityRMSEMetric', scale=128.0, unit='px', prefix='selection'),
    dict(type='RateMetric', prefix='selection'),
]
test_evaluator = [
    dict(type='DisparityRMSEMetric', scale=128.0, unit='px'),
    dict(type='RateMetric'),
]
