"""Task decoders are found by registered name; a checkpoint never chooses code to import."""

import sys
from importlib.metadata import EntryPoint

import numpy as np
import pytest
import torch
from PIL import Image

from ttc_core import task_decoders
from ttc_core.checkpoint import make_codec_spec
from ttc_core.cli import main

from .conftest import TINY, smooth_images


@pytest.fixture
def stream(tmp_path, trained_pair):
    """A pseudo-image enhancement checkpoint naming ``decoder`` and a stream it wrote."""
    base, enh, _ = trained_pair

    def make(decoder: str):
        spec = make_codec_spec(
            TINY,
            "base.",
            enhancement={
                "kwargs": {**TINY, "side_channels": 16},
                "prefix": "enh.",
                "output": "pseudo_image",
                "task_decoder": decoder,
            },
        )
        state = {f"base.{k}": v for k, v in base.state_dict().items()}
        state.update({f"enh.{k}": v for k, v in enh.state_dict().items()})
        ckpt = tmp_path / "ckpt.pth"
        torch.save({"ttc_codec": spec, "state_dict": state}, ckpt)
        img = tmp_path / "in.png"
        x = smooth_images(1, 32, 48, seed=2)[0].permute(1, 2, 0).numpy()
        Image.fromarray((x * 255).round().astype(np.uint8)).save(img)
        out = tmp_path / "x.ttc"
        assert main(["compress", str(img), "-c", str(ckpt), "-o", str(out), "--layers", "all"]) == 0
        return ckpt, out

    return make


def test_a_module_path_in_a_checkpoint_is_refused_without_importing_it(
    tmp_path, stream, monkeypatch, capsys
):
    marker = tmp_path / "imported"
    (tmp_path / "planted_decoder.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\ndef run(*a):\n    return 0\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    ckpt, out = stream("planted_decoder:run")
    argv = ["decompress", str(out), "-c", str(ckpt), "-o", str(tmp_path / "y.png"), "--task-output"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "planted_decoder:run" in err and "installed:" in err
    assert not marker.exists() and "planted_decoder" not in sys.modules


def test_a_registered_name_is_loaded(tmp_path, stream, monkeypatch):
    (tmp_path / "good_decoder.py").write_text(
        "import numpy as np\ndef labels(checkpoint, decoded):\n"
        "    return np.full(decoded.enhancement_output.shape[-2:], 7, np.uint8)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [EntryPoint("labels7", "good_decoder:labels", task_decoders.GROUP)]
    monkeypatch.setattr(task_decoders, "entry_points", lambda group: eps)
    ckpt, out = stream("labels7")
    target = tmp_path / "labels.png"
    argv = ["decompress", str(out), "-c", str(ckpt), "-o", str(target), "--task-output"]
    assert main(argv) == 0
    assert np.asarray(Image.open(target)).max() == 7


def test_old_checkpoints_name_their_decoder_by_its_known_string(capsys):
    assert task_decoders.registered_name("ttc_mmseg.decode:segmentation_map") == "segmentation"
    assert task_decoders.registered_name("segmentation") == "segmentation"
    assert main(["decompress", "--help"]) == 0
    assert "registered decoders:" in " ".join(capsys.readouterr().out.split())
