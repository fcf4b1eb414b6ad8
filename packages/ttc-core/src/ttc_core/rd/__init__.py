"""Rate-distortion results: the RD JSON format, BD-rate / BD-metric, collection and plots.

The pieces of de Andrade & Bajić, "Towards Task-Compatible Compressible Representations"
(ICME 2024 workshops) that turn trained rate points into the paper's figures and numbers:

- :mod:`ttc_core.rd.format`: one RD curve per JSON file, CompressAI's schema plus actual vs
  estimated bits, per-layer bits, the metric's direction and provenance.
- :mod:`ttc_core.rd.bd`: BD-rate and BD-metric via the ``bjontegaard`` package, with explicit
  errors for too few points, non-overlapping and non-monotonic curves.
- :mod:`ttc_core.rd.collect`: Detectron2 / MMEngine evaluation logs (one run per rate point)
  to one RD curve.
- :mod:`ttc_core.rd.plot`: RD figures (matplotlib is imported only when plotting).

The paper's own curves ship as RD files under ``results/paper/``.
"""

from .bd import BDError, BDResult, bd_metric, bd_rate, compare, compare_many, format_table
from .collect import CollectError, collect_runs
from .format import KNOWN_METRICS, MetricInfo, RDCurve, RDFormatError, load_rd, save_rd
from .plot import plot_rd

__all__ = [
    "KNOWN_METRICS",
    "BDError",
    "BDResult",
    "CollectError",
    "MetricInfo",
    "RDCurve",
    "RDFormatError",
    "bd_metric",
    "bd_rate",
    "collect_runs",
    "compare",
    "compare_many",
    "format_table",
    "load_rd",
    "plot_rd",
    "save_rd",
]
