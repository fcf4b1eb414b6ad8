# Variant: metric depth target (metres, baseline * fx / disparity from the camera files) in
# place of the paper's disparity target. Needs camera/ (camera_trainvaltest.zip) in data_root.
# Adds mmseg's DepthMetric (prefix 'mmseg/' on the reported split, 'selection/mmseg/' on the
# selection split: d1..d3, abs_rel, rmse, silog, ...). DepthMetric
# keeps every valid pixel until the end of an evaluation: several GB on the full val split.
_base_ = ['./ttc-proposed_lraspp_m-v3-d8_1xb10-100e_cityscapes-disparity-1024x2048.py']
depth_target = 'depth'
max_depth = 80.0
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCityscapesDisparity', target=depth_target, max_depth=max_depth),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='TTCColorJitter', brightness=0.5, contrast=0.5, saturation=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCityscapesDisparity', target=depth_target, max_depth=max_depth),
    dict(type='PackSegInputs'),
]
# the two parts of the training split and the reported split, with camera files
train_dataloader = dict(
    dataset=dict(
        dataset=dict(
            data_prefix=dict(
                img_path='leftImg8bit/train',
                depth_map_path='disparity/train',
                camera_path='camera/train'),
            pipeline=train_pipeline)))
val_dataloader = dict(
    dataset=dict(
        dataset=dict(
            data_prefix=dict(
                img_path='leftImg8bit/train',
                depth_map_path='disparity/train',
                camera_path='camera/train'),
            pipeline=test_pipeline)))
test_dataloader = dict(
    dataset=dict(
        data_prefix=dict(
            img_path='leftImg8bit/val',
            depth_map_path='disparity/val',
            camera_path='camera/val'),
        pipeline=test_pipeline))
model = dict(
    decode_head=dict(
        output_activation='softplus',
        loss_decode=dict(
            type='DisparityRMSELoss', scale=1.0, loss_name='loss_depth')))
val_evaluator = [
    dict(type='DisparityRMSEMetric', scale=1.0, unit='m', prefix='selection'),
    dict(type='RateMetric', prefix='selection'),
    dict(type='DepthMetric', min_depth_eval=1e-3, max_depth_eval=max_depth,
         prefix='selection/mmseg'),
]
test_evaluator = [
    dict(type='DisparityRMSEMetric', scale=1.0, unit='m'),
    dict(type='RateMetric'),
    dict(type='DepthMetric', min_depth_eval=1e-3, max_depth_eval=max_depth,
         prefix='mmseg'),
]
