"""Helper of test_distributed.py (not a test): tools/train_net.py's set-up and trainer, launched
with Detectron2's ``launch``; afterwards every rank saves its bottleneck parameters."""

import importlib.util
import os
import sys

import torch
from detectron2.engine import launch
from detectron2.utils import comm
from torch.nn.parallel import DistributedDataParallel

TRAIN_NET = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "train_net.py")
_spec = importlib.util.spec_from_file_location("ttc_train_net", TRAIN_NET)
train_net = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train_net)


def main(args):
    cfg = train_net.setup(args)
    trainer = train_net.TTCTrainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.train()
    model = trainer.model
    wrapped = isinstance(model, DistributedDataParallel)
    if wrapped:
        model = model.module
    state = {k: v.detach().clone() for k, v in model.backbone.bottleneck.state_dict().items()}
    torch.save(
        {"ddp": wrapped, "world_size": comm.get_world_size(), "bottleneck": state},
        os.path.join(cfg.OUTPUT_DIR, f"rank{comm.get_rank()}.pt"),
    )


if __name__ == "__main__":
    args = train_net.build_parser().parse_args(sys.argv[1:])
    launch(main, args.num_gpus, num_machines=1, machine_rank=0, dist_url="auto", args=(args,))
