# Proposed depth base with timm's MobileNetV3-Large (mobilenetv3_large_100, the paper's task
# network family) through mmseg's own TIMMBackbone, inside TTCBackbone: the same LR-ASPP depth
# head, fed timm's stride-4 / 8 / 8 features (24, 40, 960 channels; output_stride=8 as the d8
# MobileNetV3 of the reference config).
# ImageNet weights by path only (ttc never downloads): --cfg-options
#   model.backbone.backbone.pretrained=True
#   model.backbone.backbone.pretrained_cfg_overlay.file=/path/to/mobilenetv3_large_100.pth
_base_ = ['./ttc-proposed_lraspp_m-v3-d8_1xb10-100e_cityscapes-disparity-1024x2048.py']
custom_imports = dict(imports=['ttc_mmseg'], allow_failed_imports=False)
model = dict(
    backbone=dict(
        backbone=dict(
            _delete_=True,
            type='TIMMBackbone',
            model_name='mobilenetv3_large_100',
            features_only=True,
            out_indices=(1, 2, 4),
            output_stride=8,
            # random initialisation; set True with pretrained_cfg_overlay=dict(file=PATH)
            pretrained=False)),
    decode_head=dict(in_channels=(24, 40, 960), in_index=(0, 1, 2)))
