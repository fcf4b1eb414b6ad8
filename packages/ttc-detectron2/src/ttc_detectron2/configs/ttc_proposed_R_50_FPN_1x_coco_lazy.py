"""LazyConfig version of ttc_proposed_R_50_FPN_1x_coco.yaml, for Detectron2's stock trainer.

Detectron2's own ``tools/lazyconfig_train_net.py`` runs this file unchanged (it imports the
plugin's classes directly, so no registry or ``add_ttc_config`` is involved)::

    python -m tools.lazyconfig_train_net --config-file \
        configs/detectron2/ttc_proposed_R_50_FPN_1x_coco_lazy.py [--num-gpus N] [key=value ...]

(the Detectron2 wheel ships the script as the module ``tools.lazyconfig_train_net``; from a
Detectron2 source checkout it is ``python <detectron2>/tools/lazyconfig_train_net.py ...``.)

Overrides use ``path.key=value``, e.g. ``model.mode=baseline model.beta=0`` (the Baseline;
its probe g_a is clipped apart from the rest by ``param_groups`` + ``adam``),
``model.alpha=0.5`` (another rate point), ``train.device=cpu``,
``model.backbone.actual_bits_at_test=True`` (real bitstreams). ``train.ddp.device_ids`` is
``None``: DDP then uses the module's own device, which works for CUDA modules and, unlike
Detectron2's default ``[local_rank]``, also for multi-process CPU (gloo) training. The stock
script's ``--eval-only`` wraps the model without these options, so run it with one process on
CPUs. Checkpoints carry the codec spec inside the model's state dict (``backbone._extra_state``).
Custom COCO-format data: ``ttc_detectron2.data.register_coco`` where a dataset name goes.

Model selection: the stock trainer has no selection split and no best checkpoint. This file
therefore evaluates the reported split (``dataloader.test``, coco_2017_val) only once, at the
end (``train.eval_period=0``), and the final model is the one reported. For ttc's protocol
(selection split, best checkpoint, a real-bit ``ttc_report.json``) use tools/train_net.py with
the YAML version.
"""

import detectron2.data.transforms as T
from detectron2.config import LazyCall as L
from detectron2.data import (
    DatasetMapper,
    build_detection_test_loader,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)
from detectron2.evaluation import COCOEvaluator, DatasetEvaluators
from detectron2.layers import ShapeSpec
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator
from detectron2.modeling.backbone import FPN, BasicStem, ResNet
from detectron2.modeling.backbone.fpn import LastLevelMaxPool
from detectron2.modeling.box_regression import Box2BoxTransform
from detectron2.modeling.matcher import Matcher
from detectron2.modeling.poolers import ROIPooler
from detectron2.modeling.proposal_generator import RPN, StandardRPNHead
from detectron2.modeling.roi_heads import FastRCNNConvFCHead, FastRCNNOutputLayers, StandardROIHeads
from detectron2.solver import WarmupParamScheduler
from fvcore.common.param_scheduler import MultiStepParamScheduler
from omegaconf import OmegaConf

from ttc_detectron2.backbone import TTCBackbone
from ttc_detectron2.evaluation import TTCRateEvaluator
from ttc_detectron2.meta_arch import TTCGeneralizedRCNN
from ttc_detectron2.solver import adam, param_groups

# -- model: Faster R-CNN R-50-FPN on the pseudo-image of the base layer -------------------------
model = L(TTCGeneralizedRCNN)(
    backbone=L(TTCBackbone)(
        # ttc_core.bottleneck.BaseBottleneck arguments (reference widths, METHOD §3)
        bottleneck=dict(
            in_channels=3,
            latent_channels=192,
            analysis_channels=[24, 48, 192],
            analysis_blocks=3,
            synthesis_channels=[192, 48, 24],
            task_channels=3,
            task_blocks=1,
            recon_channels=3,
            recon_blocks=3,
            activation="elu",
        ),
        inner=L(FPN)(
            bottom_up=L(ResNet)(
                stem=L(BasicStem)(in_channels=3, out_channels=64, norm="FrozenBN"),
                stages=L(ResNet.make_default_stages)(depth=50, stride_in_1x1=True, norm="FrozenBN"),
                out_features=["res2", "res3", "res4", "res5"],
                freeze_at=2,
            ),
            in_features="${.bottom_up.out_features}",
            out_channels=256,
            top_block=L(LastLevelMaxPool)(),
        ),
        pixel_mean="${..pixel_mean}",
        pixel_std="${..pixel_std}",
        input_format="${..input_format}",
        normalize_pseudo_image=True,
        reconstruct_at_test=True,
        # real bitstreams at evaluation (slow; see Base-TTC-RCNN-FPN.yaml): set True for the
        # final RD point, e.g. with --eval-only model.backbone.actual_bits_at_test=True
        actual_bits_at_test=False,
        coding_order="wavefront",
        # the test-time resize of the dataloader below, recorded for `ttc compress`
        test_resize=(800, 1333),
    ),
    proposal_generator=L(RPN)(
        in_features=["p2", "p3", "p4", "p5", "p6"],
        head=L(StandardRPNHead)(in_channels=256, num_anchors=3),
        anchor_generator=L(DefaultAnchorGenerator)(
            sizes=[[32], [64], [128], [256], [512]],
            aspect_ratios=[0.5, 1.0, 2.0],
            strides=[4, 8, 16, 32, 64],
            offset=0.0,
        ),
        anchor_matcher=L(Matcher)(
            thresholds=[0.3, 0.7], labels=[0, -1, 1], allow_low_quality_matches=True
        ),
        box2box_transform=L(Box2BoxTransform)(weights=[1.0, 1.0, 1.0, 1.0]),
        batch_size_per_image=256,
        positive_fraction=0.5,
        pre_nms_topk=(2000, 1000),
        post_nms_topk=(1000, 1000),
        nms_thresh=0.7,
    ),
    roi_heads=L(StandardROIHeads)(
        num_classes=80,
        batch_size_per_image=512,
        positive_fraction=0.25,
        proposal_matcher=L(Matcher)(
            thresholds=[0.5], labels=[0, 1], allow_low_quality_matches=False
        ),
        box_in_features=["p2", "p3", "p4", "p5"],
        box_pooler=L(ROIPooler)(
            output_size=7,
            scales=(1.0 / 4, 1.0 / 8, 1.0 / 16, 1.0 / 32),
            sampling_ratio=0,
            pooler_type="ROIAlignV2",
        ),
        box_head=L(FastRCNNConvFCHead)(
            input_shape=ShapeSpec(channels=256, height=7, width=7),
            conv_dims=[],
            fc_dims=[1024, 1024],
        ),
        box_predictor=L(FastRCNNOutputLayers)(
            input_shape=ShapeSpec(channels=1024),
            test_score_thresh=0.05,
            box2box_transform=L(Box2BoxTransform)(weights=(10, 10, 5, 5)),
            num_classes="${..num_classes}",
        ),
    ),
    # MSRA ResNet input: BGR, 0-255, mean-subtracted
    pixel_mean=[103.530, 116.280, 123.675],
    pixel_std=[1.0, 1.0, 1.0],
    input_format="BGR",
    # loss = detection + alpha·bpp_estimated + beta·255·RMSE(g_a(ŷ_b), x)   (METHOD §2)
    alpha=1.0,
    beta=0.1,
    mode="proposed",
    probe_weight=1.0,
)

# -- data: COCO 2017 by Detectron2's builtin names ($DETECTRON2_DATASETS/coco) -----------------
dataloader = OmegaConf.create()
dataloader.train = L(build_detection_train_loader)(
    dataset=L(get_detection_dataset_dicts)(names="coco_2017_train"),
    mapper=L(DatasetMapper)(
        is_train=True,
        augmentations=[
            L(T.ResizeShortestEdge)(short_edge_length=(800,), sample_style="choice", max_size=1333),
            L(T.RandomFlip)(horizontal=True),
        ],
        image_format="BGR",
        use_instance_mask=False,
    ),
    total_batch_size=4,
    num_workers=4,
)
dataloader.test = L(build_detection_test_loader)(
    dataset=L(get_detection_dataset_dicts)(names="coco_2017_val", filter_empty=False),
    mapper=L(DatasetMapper)(
        is_train=False,
        augmentations=[L(T.ResizeShortestEdge)(short_edge_length=800, max_size=1333)],
        image_format="${...train.mapper.image_format}",
    ),
    num_workers=4,
)
dataloader.evaluator = L(DatasetEvaluators)(
    evaluators=[
        L(COCOEvaluator)(dataset_name="${....test.dataset.names}", tasks=("bbox",)),
        L(TTCRateEvaluator)(),
    ]
)

# -- optimisation: Adam 1e-4, global gradient-norm clip 1.0, no schedule (METHOD §4) ---------
# param_groups = Detectron2's get_default_optimizer_params, with a Baseline's probe g_a in its
# own clip group (its gradient norm then scales no other parameter's step; METHOD §8)
optimizer = L(adam)(
    params=L(param_groups)(weight_decay_norm=0.0),
    lr=1e-4,
    betas=(0.9, 0.999),
    weight_decay=0.0,
    clip_norm=1.0,
)
# constant learning rate (as the YAML's WarmupMultiStepLR with no steps and no warm-up)
lr_multiplier = L(WarmupParamScheduler)(
    scheduler=L(MultiStepParamScheduler)(
        values=[1.0], milestones=[], num_updates="${train.max_iter}"
    ),
    warmup_length=0.0,
    warmup_factor=1.0,
)

train = dict(
    output_dir="./output/detectron2/ttc_proposed_R_50_FPN_1x_coco_lazy",
    # COCO-pretrained detector by path (see Base-TTC-RCNN-FPN.yaml); "" trains from scratch
    init_checkpoint="checkpoints/detectron2/faster_rcnn_R_50_FPN_1x/model_final_b275ba.pkl",
    max_iter=360000,  # as many images as Detectron2's 1x schedule, at batch 4
    amp=dict(enabled=False),
    ddp=dict(
        broadcast_buffers=False,
        find_unused_parameters=False,
        fp16_compression=False,
        device_ids=None,  # the module's device: CUDA as before, and CPU (gloo) works too
    ),
    checkpointer=dict(period=20000, max_to_keep=100),
    # 0: the reported split is evaluated once, after the last iteration (no selection split here)
    eval_period=0,
    log_period=20,
    device="cuda",
)
