"""Test-only hook: each rank saves its parameters after training (distributed test)."""

import torch
import torch.distributed as dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


@HOOKS.register_module()
class RankParamDumpHook(Hook):
    def after_train(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        rank = dist.get_rank() if dist.is_initialized() else 0
        world = dist.get_world_size() if dist.is_initialized() else 1
        params = {k: v.detach().cpu().clone() for k, v in model.named_parameters()}
        torch.save(
            {"world_size": world, "wrapper": type(runner.model).__name__, "params": params},
            f"{runner.work_dir}/params_rank{rank}.pt",
        )
