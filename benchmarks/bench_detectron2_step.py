#!/usr/bin/env python
"""Training-step time and peak memory: ttc R50-FPN detector vs the plain R50-FPN.

Both models are built from configs/detectron2/Base-TTC-RCNN-FPN.yaml (the plain one with
Detectron2's GeneralizedRCNN + build_resnet_fpn_backbone instead of the ttc pieces), trained
with the same optimizer (Adam + global clip) on the same synthetic batch, one after the other
in this one process. A step is forward + backward + optimizer step.

- time: median over ``--steps`` timed steps after ``--warmup`` steps (CUDA: synchronised);
- memory: CUDA: ``torch.cuda.max_memory_allocated`` during the timed steps, counted from
  before the model was built (weights + optimizer state + activations); CPU: the peak resident
  set size sampled every 2 ms during the timed steps, minus the RSS before the model was built
  (freed memory is handed back to the OS between the models with malloc_trim).

    python benchmarks/bench_detectron2_step.py                          # GPU if any, 800×1216
    python benchmarks/bench_detectron2_step.py --device cpu --size 256 384 --batch 2 --steps 3

Goal of the issue: ttc/plain ≤ 1.25× in time.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
BASE_YAML = REPO / "configs" / "detectron2" / "Base-TTC-RCNN-FPN.yaml"


def build_cfg(args, ttc: bool):
    from detectron2.config import get_cfg

    from ttc_detectron2 import add_ttc_config

    cfg = get_cfg()
    add_ttc_config(cfg)
    cfg.merge_from_file(str(BASE_YAML))
    cfg.merge_from_list(
        [
            "MODEL.WEIGHTS",
            "",
            "MODEL.DEVICE",
            args.device,
            "MODEL.RESNETS.DEPTH",
            args.depth,
            "MODEL.TTC.LATENT_CHANNELS",
            args.latent,
            "MODEL.TTC.TEST_ACTUAL_BITS",
            False,
        ]
    )
    if args.depth < 50:
        cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = 64
    if ttc:
        cfg.merge_from_list(list(args.ttc_opts))
    else:
        cfg.merge_from_list(
            [
                "MODEL.META_ARCHITECTURE",
                "GeneralizedRCNN",
                "MODEL.BACKBONE.NAME",
                "build_resnet_fpn_backbone",
            ]
        )
    return cfg


def make_batch(args):
    from detectron2.structures import Boxes, Instances

    g = torch.Generator().manual_seed(0)
    h, w = args.size
    batch = []
    for _ in range(args.batch):
        img = torch.nn.functional.interpolate(
            torch.rand(1, 3, h // 16, w // 16, generator=g) * 255, size=(h, w), mode="bilinear"
        )[0]
        boxes = []
        for _ in range(5):
            x0, y0 = (
                float(torch.randint(0, w // 2, (1,), generator=g)),
                float(torch.randint(0, h // 2, (1,), generator=g)),
            )
            boxes.append([x0, y0, x0 + w / 4, y0 + h / 4])
        inst = Instances((h, w))
        inst.gt_boxes = Boxes(torch.tensor(boxes))
        inst.gt_classes = torch.randint(0, 80, (5,), generator=g)
        batch.append({"image": img, "instances": inst, "height": h, "width": w})
    return batch


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def trim() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


class PeakRSS:
    """Samples the process RSS in a thread; ``peak`` is the largest value seen."""

    def __init__(self, period: float = 0.002):
        self.period, self.peak, self._stop = period, rss_bytes(), threading.Event()

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.period)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def measure(args, ttc: bool) -> dict:
    from detectron2.modeling import build_model
    from detectron2.utils.events import EventStorage

    from ttc_detectron2.solver import build_optimizer

    cuda = args.device.startswith("cuda")
    trim()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        mem0 = torch.cuda.memory_allocated()
    else:
        mem0 = rss_bytes()
    cfg = build_cfg(args, ttc)
    torch.manual_seed(0)
    model = build_model(cfg)
    model.train()
    optimizer = build_optimizer(cfg, model)
    batch = make_batch(args)

    dtype = getattr(torch, args.amp) if args.amp else None
    device_type = torch.device(args.device).type
    # what SOLVER.AMP does (TTCAMPTrainer): autocast, and a loss scale for float16 only
    scaler = torch.amp.GradScaler(device_type, enabled=dtype == torch.float16)

    def step():
        with torch.autocast(device_type, dtype=dtype, enabled=dtype is not None):
            losses = model(batch)
            loss = sum(losses.values())
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if cuda:
            torch.cuda.synchronize()

    times = []
    with EventStorage():
        for _ in range(args.warmup):
            step()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        with PeakRSS() as peak:
            for _ in range(args.steps):
                t0 = time.perf_counter()
                step()
                times.append(time.perf_counter() - t0)
    memory = (torch.cuda.max_memory_allocated() - mem0) if cuda else (peak.peak - mem0)
    params = sum(p.numel() for p in model.parameters())
    model = optimizer = batch = None  # free before the next model is measured
    trim()
    return {
        "step_s": statistics.median(times),
        "steps_s": times,
        "peak_mem_bytes": memory,
        "params": params,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch", type=int, default=4, help="images per step (reference: 4)")
    p.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=(800, 1216),
        metavar=("H", "W"),
        help="image size (default: a COCO-like 800×1216)",
    )
    p.add_argument("--depth", type=int, default=50, help="ResNet depth (default 50)")
    p.add_argument("--latent", type=int, default=192, help="latent channels M (default 192)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument(
        "--cudnn-benchmark",
        action="store_true",
        help="torch.backends.cudnn.benchmark (Detectron2's CUDNN_BENCHMARK)",
    )
    p.add_argument(
        "--amp",
        choices=("float16", "bfloat16"),
        help="mixed precision: autocast dtype of both models (as SOLVER.AMP.PRECISION)",
    )
    p.add_argument(
        "--ttc-opts",
        nargs="*",
        default=[],
        metavar="KEY VALUE",
        help="config overrides of the ttc model, e.g. the Baseline without probe: "
        "MODEL.TTC.MODE baseline MODEL.TTC.BETA 0.0 MODEL.TTC.PROBE_WEIGHT 0.0",
    )
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = args.cudnn_benchmark

    import ttc_detectron2  # noqa: F401  (registers the ttc model)

    plain = measure(args, ttc=False)
    ttc = measure(args, ttc=True)
    device = (
        torch.cuda.get_device_name()
        if args.device.startswith("cuda")
        else (f"cpu ({torch.get_num_threads()} threads)")
    )
    result = {
        "device": device,
        "batch": args.batch,
        "size": list(args.size),
        "depth": args.depth,
        "latent_channels": args.latent,
        "cudnn_benchmark": args.cudnn_benchmark,
        "amp": args.amp,
        "ttc_opts": list(args.ttc_opts),
        "torch": torch.__version__,
        "plain": plain,
        "ttc": ttc,
        "time_ratio": ttc["step_s"] / plain["step_s"],
        "memory_ratio": ttc["peak_mem_bytes"] / max(plain["peak_mem_bytes"], 1),
    }
    mib = 2**20
    print(
        f"device {device}; batch {args.batch} × {args.size[0]}×{args.size[1]}; "
        f"R{args.depth}-FPN; M={args.latent}"
        + ("; cudnn.benchmark" if args.cudnn_benchmark else "")
        + (f"; AMP {args.amp}" if args.amp else "")
        + (f"; ttc {' '.join(args.ttc_opts)}" if args.ttc_opts else "")
    )
    print(f"{'model':<8} {'params':>12} {'step (s)':>10} {'peak mem (MiB)':>15}")
    for name in ("plain", "ttc"):
        r = result[name]
        print(
            f"{name:<8} {r['params']:>12,} {r['step_s']:>10.3f} {r['peak_mem_bytes'] / mib:>15.0f}"
        )
    print(
        f"ratio ttc/plain: time {result['time_ratio']:.2f}×, memory {result['memory_ratio']:.2f}×"
        f" (goal: time ≤ 1.25×)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
