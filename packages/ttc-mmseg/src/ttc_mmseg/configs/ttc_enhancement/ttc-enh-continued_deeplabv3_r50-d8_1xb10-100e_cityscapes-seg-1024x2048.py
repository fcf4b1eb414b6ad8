# Continued control (METHOD section 8) of the Standalone reference: the same trained conditional
# segmentation model, its entropy model retrained for the same number of steps as the
# Standalone, but with the true y_b; f_e, g_e and the task network are frozen. The
# side-information saving is Standalone vs Continued: both had the same extra training.
#   python tools/train.py configs/mmseg/ttc_enhancement/<this file> \
#       --cfg-options load_from=work_dirs/<proposed config>/best_selection_mIoU_epoch_N.pth
_base_ = ['./ttc-enh-standalone_deeplabv3_r50-d8_1xb10-100e_cityscapes-seg-1024x2048.py']
model = dict(standalone=False, continued=True)
