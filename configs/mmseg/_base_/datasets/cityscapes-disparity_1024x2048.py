# Cityscapes frames with their disparity maps, full 1024x2048 frames (no crop, no resize).
# data_root must hold leftImg8bit/ and disparity/ (Cityscapes' leftImg8bit_trainvaltest.zip and
# disparity_trainvaltest.zip unpacked together). Set the environment variable CITYSCAPES_ROOT
# (default: data/cityscapes), or override train_dataloader.dataset.data_root,
# val_dataloader.dataset.data_root and test_dataloader.dataset.data_root (changing the
# top-level data_root after loading does not reach the datasets).
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
    dict(type='ColorJitter', brightness=0.5, contrast=0.5, saturation=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCityscapesDisparity', target=depth_target),
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
        data_prefix=dict(
            img_path='leftImg8bit/train', depth_map_path='disparity/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
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
test_dataloader = val_dataloader
# disparity RMSE in pixels (128 x RMSE of the target) + delta accuracies, and the rate:
# bpp = bits / (1024 x 2048) frame pixels, estimated (and actual with
# model.test_cfg.actual_bits=True), and the direct-reconstruction PSNR
val_evaluator = [
    dict(type='DisparityRMSEMetric', scale=128.0, unit='px'),
    dict(type='RateMetric'),
]
test_evaluator = val_evaluator
