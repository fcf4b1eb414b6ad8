r"""The evidence study: does the reconstruction reward make the base layer task-compatible?

de Andrade & Bajić (ICME 2024 CfM, arXiv:2405.10244) claim that a small reconstruction
reward β while training a base layer (i) lets assisted tasks coded conditionally on it spend
fewer bits, and (ii) does not hurt, or helps, the base task. ``ttc study`` tests both claims
on generated Cityscapes- and COCO-layout data, through the frameworks' own launchers, with
several seeds and equal training budgets::

    depth base (MMSeg)        ─┬─ segmentation enhancement ─┬─ Standalone (zeros for ŷ_b)
      Proposed / Baseline      │                            └─ Continued  (true ŷ_b)
      × seeds × α              └─ ½-res reconstruction  ─── (the same two controls)
    detection base (Detectron2) ── COCO reconstruction  ─── (the same two controls)

    ─▶ RD JSON per variant and seed, BD-rates (PCHIP, cubic) as mean ± spread over seeds,
       side-information savings, trivial predictors, figures, report.md, summary.json

Modules: :mod:`.plan` (experiments, scales, commands), :mod:`.run` (phases, resumable),
:mod:`.report` (aggregation), :mod:`.trivial` (trivial predictors), :mod:`.side_information`
(bits with the true / zero / another image's ŷ_b). ``make demo`` is the study's ``demo``
scale: one seed, every experiment.
"""

from .plan import EXPERIMENTS, SCALES, Experiment, Scale
from .run import StudyError, run_study

__all__ = ["EXPERIMENTS", "SCALES", "Experiment", "Scale", "StudyError", "run_study"]
