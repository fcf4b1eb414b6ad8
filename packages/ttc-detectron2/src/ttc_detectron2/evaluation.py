"""Rate and reconstruction quality of ttc models: one RD point per evaluation.

Every result follows ttc's rate vocabulary: ``bpp`` is the **actual** rate, the bits of real
rANS bitstreams / coded pixels, and is present only when real bitstreams were coded
(``MODEL.TTC.TEST_ACTUAL_BITS``); the likelihood estimate is always ``bpp_estimated``. No key
named ``bpp`` ever carries an estimate.

:class:`TTCRateEvaluator` averages what :class:`~ttc_detectron2.meta_arch.TTCGeneralizedRCNN`
attaches to its outputs. Run it beside ``COCOEvaluator`` (``DatasetEvaluators``) and one
evaluation gives mAP and bpp together. Results, under the task name ``"ttc"``:

- ``bpp_estimated``: mean over images of ``−Σ log2 p(ŷ_b) / (H·W)`` (the likelihood estimate);
- ``bpp``: mean over images of the actual bits of the real rANS stream / (H·W), only with real
  bitstreams;
- ``psnr_direct``: mean PSNR (dB, [0,1] pixels) of the direct reconstruction g_a(ŷ_b);
- ``num_images``.

H·W is the size of the coded image: the resized detector input (METHOD §5). Detectron2
flattens them to ``ttc/bpp``, ``ttc/bpp_estimated``, ``ttc/psnr_direct`` (in ``metrics.json``
with the prefix ``selection/`` during training, in ``ttc_report.json`` as they are). With an
``output_dir`` the per-image values are written to ``ttc_rate.json`` as well.

:class:`TTCEnhancementEvaluator` does the same for the scalable reconstruction of
:class:`~ttc_detectron2.enhancement.TTCReconstructionEnhancement` (base + enhancement layer),
under the task name ``"ttc"`` too:

- ``psnr_scalable``: mean PSNR (dB, [0,1] pixels of the coded image) of the enhancement's
  reconstruction g_e(ŷ_e); ``psnr_direct``: of the base's direct reconstruction g_a(ŷ_b)
  (with ``MODEL.TTC.TEST_RECONSTRUCTION``);
- ``bpp_estimated`` = ``bpp_base_estimated`` + ``bpp_enhancement_estimated`` (likelihoods);
- ``bpp`` = ``bpp_base`` + ``bpp_enhancement``: actual bits of the real rANS streams, only with
  real bitstreams;
- ``num_images``. Per-image values go to ``ttc_enhancement.json``.
"""

from __future__ import annotations

import itertools
import json
import logging
import os

import numpy as np
from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm
from detectron2.utils.file_io import PathManager

__all__ = ["TTCEnhancementEvaluator", "TTCRateEvaluator"]

logger = logging.getLogger(__name__)


class _MeanOverImages(DatasetEvaluator):
    """Means of the per-image ``"ttc"`` dicts a ttc model attaches to its outputs.

    Subclasses say which means to report (:attr:`MEANS`: summary key → per-image key; a key is
    reported when every image has it, so ``bpp`` only when every image was really coded), which
    per-image key proves the right model (:attr:`REQUIRED`), and where the records go
    (:attr:`FILENAME`).
    """

    MEANS: dict[str, str] = {}
    REQUIRED = "bpp_estimated"
    FILENAME = "ttc.json"
    WHAT = "ttc"
    MODEL = "a ttc model"

    def __init__(self, distributed: bool = True, output_dir: str | None = None):
        self._distributed = distributed
        self._output_dir = output_dir
        self._records: list[dict] = []

    def reset(self) -> None:
        self._records = []

    def process(self, inputs, outputs) -> None:
        for inp, out in zip(inputs, outputs):  # noqa: B905 (python 3.9 has no strict=)
            info = out.get("ttc")
            if info is None or self.REQUIRED not in info:
                raise KeyError(
                    f"{type(self).__name__} needs outputs of {self.MODEL} (an output dict "
                    f"without 'ttc' / '{self.REQUIRED}'): check MODEL.META_ARCHITECTURE"
                )
            self._records.append({"image_id": inp.get("image_id"), **info})

    def evaluate(self):
        records = self._records
        if self._distributed:
            comm.synchronize()
            records = list(itertools.chain(*comm.gather(records, dst=0)))
            if not comm.is_main_process():
                return {}
        if not records:
            logger.warning("%s received no images", type(self).__name__)
            return {}
        result = {
            key: float(np.mean([r[field] for r in records]))
            for key, field in self.MEANS.items()
            if all(field in r for r in records)
        }
        result["num_images"] = float(len(records))
        if self._output_dir:
            PathManager.mkdirs(self._output_dir)
            path = os.path.join(self._output_dir, self.FILENAME)
            with PathManager.open(path, "w") as f:
                json.dump({"summary": result, "images": records}, f, default=str)
        logger.info("%s: %s", self.WHAT, result)
        return {"ttc": result}


class TTCRateEvaluator(_MeanOverImages):
    """Mean estimated / actual bpp and direct-reconstruction PSNR over a dataset.

    Args:
        distributed: gather the records of all ranks (results on the main process only).
        output_dir: where to write ``ttc_rate.json`` (per-image records and the summary).
    """

    # "rate": the rate position of a variable-rate model (absent for per-α models)
    MEANS = {
        "bpp_estimated": "bpp_estimated",
        "bpp": "bpp",
        "psnr_direct": "psnr_direct",
        "rate": "rate",
    }
    REQUIRED = "bpp_estimated"
    FILENAME = "ttc_rate.json"
    WHAT = "ttc rate / reconstruction"
    MODEL = "a ttc detector (TTCGeneralizedRCNN)"


class TTCEnhancementEvaluator(_MeanOverImages):
    """Mean PSNR and bpp (base, enhancement, total; estimated and actual) of a scalable model.

    Averages the ``"ttc"`` dicts of
    :class:`~ttc_detectron2.enhancement.TTCReconstructionEnhancement` (see the module docstring).

    Args:
        distributed: gather the records of all ranks (results on the main process only).
        output_dir: where to write ``ttc_enhancement.json`` (per-image records and the summary).
    """

    MEANS = {
        key: key
        for key in (
            "psnr_scalable",
            "bpp_estimated",
            "bpp_base_estimated",
            "bpp_enhancement_estimated",
            "bpp",
            "bpp_base",
            "bpp_enhancement",
            "psnr_direct",
            "rate",  # rate positions of variable-rate layers (absent for per-α ones)
            "base_rate",
        )
    }
    REQUIRED = "bpp_enhancement_estimated"
    FILENAME = "ttc_enhancement.json"
    WHAT = "ttc scalable reconstruction (base + enhancement)"
    MODEL = "a ttc enhancement model (TTCReconstructionEnhancement)"
