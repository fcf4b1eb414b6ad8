# Continued control (METHOD section 8) of the scalable-reconstruction Standalone: the trained
# conditional model's entropy model retrained for as many steps as the Standalone, with the
# true y_b (f_e, g_e frozen). Standalone vs Continued is the side-information saving.
#   python tools/train.py configs/mmseg/ttc_enhancement/<this file> \
#       --cfg-options load_from=work_dirs/<proposed config>/best_selection_psnr_scalable_epoch_N.pth
_base_ = ['./ttc-enh-standalone_synthesis-n3_1xb10-100e_cityscapes-halfres-recon-1024x2048.py']
model = dict(standalone=False, continued=True)
