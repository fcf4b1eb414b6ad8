# Scalable segmentation on the Baseline depth base with timm's ResNet-50 (through mmseg's own
# TIMMBackbone) as the DeepLabV3 backbone on the enhancement's pseudo-image: timm's stride-8
# features (output_stride=8, as ResNet-50-D8) of 256 / 512 / 1024 / 2048 channels feed the ASPP
# head (index 3) and the auxiliary FCN head (index 2), as mmseg's ResNetV1c-50 does.
# ImageNet weights by path only (ttc never downloads): --cfg-options
#   model.backbone.pretrained=True model.backbone.pretrained_cfg_overlay.file=/path/to/resnet50.pth
_base_ = ['./ttc-enh-baseline_deeplabv3_r50-d8_1xb10-100e_cityscapes-seg-1024x2048.py']
custom_imports = dict(imports=['ttc_mmseg'], allow_failed_imports=False)
model = dict(
    backbone=dict(
        _delete_=True,
        type='TIMMBackbone',
        model_name='resnet50',
        features_only=True,
        out_indices=(1, 2, 3, 4),
        output_stride=8,
        # random initialisation; set True with pretrained_cfg_overlay=dict(file=PATH)
        pretrained=False),
    decode_head=dict(in_channels=2048, in_index=3),
    auxiliary_head=dict(in_channels=1024, in_index=2))
