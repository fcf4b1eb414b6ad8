#!/usr/bin/env python
"""The prepared GPU check (``benchmarks/gpu_check.sh``; issue 16), about 8 minutes on one GPU.

1. **Step**: ``bench_detectron2_step.py``, ttc detector vs plain R50-FPN at the reference size
   (batch 4, 800×1216, M = 192), float32 and AMP (float16 on CUDA, bfloat16 on a CPU).
2. **Training**: Proposed and Baseline detection bases, ``--iters`` iterations each through
   ``tools/train_net.py`` (reference configs, from scratch, generated COCO-layout scenes), with
   the selection split and the one real-bit report (``ttc_report.json``).
3. **Bitstreams**: the validation images coded with the GPU-trained Proposed weights and
   decoded, both on the CPU (``ttc compress DIR`` / ``ttc decompress DIR``); decoding checks
   every latent's CRC, so exit 0 means bit-exact.

Writes ``OUT/gpu_check.json`` (every number, the command, commit, device) and
``OUT/README.md``. ``--device cpu --tiny`` is the dry run the tests use: the same steps on a
ResNet-18, a 16-channel latent and 64×96 images.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from ttc_core.provenance import checkout_commit

REPO = Path(__file__).resolve().parents[1]

#: the tiny dry run: a ResNet-18 detector with a 16-channel latent on 64×96 images
TINY_OPTS = [
    "MODEL.RESNETS.DEPTH", "18", "MODEL.RESNETS.RES2_OUT_CHANNELS", "64",
    "MODEL.FPN.OUT_CHANNELS", "32", "MODEL.ROI_BOX_HEAD.FC_DIM", "64",
    "MODEL.ANCHOR_GENERATOR.SIZES", "[[8], [16], [32], [64], [128]]",
    "MODEL.TTC.LATENT_CHANNELS", "16", "MODEL.TTC.ANALYSIS_CHANNELS", "[8, 8, 16]",
    "MODEL.TTC.ANALYSIS_BLOCKS", "1", "MODEL.TTC.SYNTHESIS_CHANNELS", "[16, 8, 8]",
    "MODEL.TTC.RECON_BLOCKS", "1",
    "INPUT.MIN_SIZE_TRAIN", "(64,)", "INPUT.MAX_SIZE_TRAIN", "96",
    "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "96",
    "SOLVER.IMS_PER_BATCH", "2", "DATALOADER.NUM_WORKERS", "0",
]  # fmt: skip


def run(cmd: list[str], log: Path, env: dict | None = None) -> float:
    """Run ``cmd`` (output to ``log``); returns the wall time; fails loudly."""
    start = time.perf_counter()
    with open(log, "w") as f:
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    if rc != 0:
        tail = log.read_text()[-4000:]
        raise SystemExit(f"gpu_check: {' '.join(cmd[:3])} … failed (exit {rc}):\n{tail}")
    return round(time.perf_counter() - start, 1)


def step_benchmark(args, out: Path, py: str) -> dict:
    shape = ["--size", "64", "96", "--batch", "2", "--depth", "18", "--latent", "16"]
    shape += ["--warmup", "1", "--steps", "2"]
    opts = ["--device", args.device, *(shape if args.tiny else ["--cudnn-benchmark"])]
    amp = "float16" if args.device.startswith("cuda") else "bfloat16"
    results = {}
    for name, extra in (("float32", []), (amp, ["--amp", amp])):
        path = out / f"step_{name}.json"
        cmd = [py, "benchmarks/bench_detectron2_step.py", *opts, *extra, "--json", str(path)]
        run(cmd, out / f"step_{name}.log")
        results[name] = json.loads(path.read_text())
    return results


def training(args, out: Path, py: str) -> tuple[dict, Path]:
    coco = out / "coco"
    if not (coco / "annotations").is_dir():
        n_train, n_val, h, w = (4, 2, 64, 96) if args.tiny else (24, 6, 480, 640)
        synth = [py, "-m", "ttc_core.cli", "data", "synth", "coco", "--out", str(coco)]
        synth += ["--num-train", str(n_train), "--num-val", str(n_val)]
        run([*synth, "--height", str(h), "--width", str(w), "--seed", "0"], out / "synth.log")
    register = [
        "--register-coco",
        f"gpu_train={coco}/annotations/instances_train2017.json:{coco}/train2017",
        "--register-coco",
        f"gpu_val={coco}/annotations/instances_val2017.json:{coco}/val2017",
    ]
    runs = {}
    for mode in ("proposed", "baseline"):
        run_dir = out / mode
        cmd = [py, "tools/train_net.py", "--config-file"]
        cmd += [f"configs/detectron2/ttc_{mode}_R_50_FPN_1x_coco.yaml", *register]
        cmd += ["MODEL.WEIGHTS", "", "MODEL.DEVICE", args.device]
        cmd += ["SOLVER.MAX_ITER", str(args.iters), "SOLVER.CHECKPOINT_PERIOD", str(args.iters)]
        cmd += ["DATASETS.TRAIN", "('gpu_train',)", "DATASETS.TEST", "('gpu_val',)"]
        # a quarter of the generated training scenes select the checkpoint (the reference's
        # 5000 images would leave none to train on)
        cmd += ["DATASETS.SELECTION.SIZE", "0.25"]
        cmd += ["TEST.EVAL_PERIOD", str(args.iters), "OUTPUT_DIR", str(run_dir)]
        cmd += TINY_OPTS if args.tiny else ["SOLVER.IMS_PER_BATCH", "4"]
        seconds = run(cmd, out / f"{mode}.log")
        metrics = [
            json.loads(line) for line in (run_dir / "metrics.json").read_text().split("\n") if line
        ]
        times = [m["time"] for m in metrics if "time" in m and "total_loss" in m]
        report = json.loads((run_dir / "ttc_report.json").read_text())
        runs[mode] = {
            "wall_s": seconds,
            "iterations": args.iters,
            "s_per_iteration": times[-1] if times else None,
            "report": report,
        }
    return runs, coco


def bitstreams(out: Path, coco: Path, py: str) -> dict:
    """Code the validation images with the GPU-trained Proposed weights, on the CPU."""
    ckpt = out / "proposed" / "model_final.pth"
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")  # the coder runs on the CPU
    summary = out / "bitstreams.json"
    cmd = [py, "-m", "ttc_core.cli", "compress", str(coco / "val2017"), "-c", str(ckpt)]
    cmd += ["-o", str(out / "bits"), "--json", str(summary), "--no-progress"]
    encode_s = run(cmd, out / "compress.log", env)
    cmd = [py, "-m", "ttc_core.cli", "decompress", str(out / "bits"), "-c", str(ckpt)]
    cmd += ["-o", str(out / "decoded"), "--no-progress"]
    decode_s = run(cmd, out / "decompress.log", env)
    return {"encode_s": encode_s, "decode_s": decode_s, "summary": json.loads(summary.read_text())}


def _number(report: dict, key: str) -> float:
    """A metric of a ``ttc_report.json`` (flat keys such as ``bbox/AP``), NaN when absent."""
    value = report.get(key, report.get("metrics", {}).get(key))
    return float("nan") if value is None else float(value)


def readme(record: dict) -> str:
    step, runs = record["step"], record["training"]
    lines = [
        "# GPU check (`benchmarks/gpu_check.sh`)",
        "",
        f"Command: `{record['command']}`; commit `{record['commit']}`; device {record['device']};"
        f" {record['wall_s']} s in all.",
        "",
        "| step | plain s | ttc s | time ratio | plain peak MiB | ttc peak MiB | memory ratio |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in step.items():
        lines.append(
            f"| {name} | {r['plain']['step_s']:.4f} | {r['ttc']['step_s']:.4f} | "
            f"{r['time_ratio']:.2f}× | {r['plain']['peak_mem_bytes'] / 2**20:.0f} | "
            f"{r['ttc']['peak_mem_bytes'] / 2**20:.0f} | {r['memory_ratio']:.2f}× |"
        )
    lines += [
        "",
        "| run | iterations | s / iteration | box AP | bpp | bpp estimated | PSNR direct |",
    ]
    lines += ["| --- | --- | --- | --- | --- | --- | --- |"]
    keys = ("bbox/AP", "ttc/bpp", "ttc/bpp_estimated", "ttc/psnr_direct")
    for mode, r in runs.items():
        ap, bpp, est, psnr = (_number(r["report"], k) for k in keys)
        lines.append(
            f"| {mode} | {r['iterations']} | {r['s_per_iteration']} | {ap:.3f} | {bpp:.4f} | "
            f"{est:.4f} | {psnr:.2f} |"
        )
    b = record["bitstreams"]["summary"]
    lines += [
        "",
        f"Bitstreams: {json.dumps(b.get('files', b))} files coded with the GPU-trained Proposed "
        f"weights and decoded bit-exactly on the CPU (encode {record['bitstreams']['encode_s']} s,"
        f" decode {record['bitstreams']['decode_s']} s).",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    import torch

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--tiny", action="store_true", help="the CPU dry run's tiny models and data")
    p.add_argument("--out", default=str(REPO / "results" / "gpu" / "check"))
    p.add_argument("--iters", type=int, default=None, help="training iterations (300; tiny: 4)")
    p.add_argument("--python", default=sys.executable)
    args = p.parse_args(argv)
    args.iters = args.iters or (4 if args.tiny else 300)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    device = (
        torch.cuda.get_device_name()
        if args.device.startswith("cuda")
        else platform.processor() or "cpu"
    )
    record: dict = {
        "command": "bash benchmarks/gpu_check.sh "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "commit": checkout_commit(REPO),
        "device": device,
        "torch": torch.__version__,
        "tiny": args.tiny,
    }
    record["step"] = step_benchmark(args, out, args.python)
    record["training"], coco = training(args, out, args.python)
    record["bitstreams"] = bitstreams(out, coco, args.python)
    record["wall_s"] = round(time.perf_counter() - started, 1)
    (out / "gpu_check.json").write_text(json.dumps(record, indent=2))
    (out / "README.md").write_text(readme(record))
    print(readme(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
