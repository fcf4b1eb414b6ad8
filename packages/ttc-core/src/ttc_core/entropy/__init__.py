"""Entropy models and their exact rANS coding.

- :class:`ContextEntropyModel`: p(ŷ_b), autoregressive context only (base layer).
- :class:`ConditionalEntropyModel`: p(ŷ_e | ŷ_b), context + side network (enhancement layer).
- :mod:`ttc_core.entropy.coding`: serial raster and wavefront rANS coding, exact by design.
"""

from ._base import AutoregressiveEntropyModel, EntropyParameters
from .conditional import ConditionalEntropyModel
from .context import ContextEntropyModel

__all__ = [
    "AutoregressiveEntropyModel",
    "ConditionalEntropyModel",
    "ContextEntropyModel",
    "EntropyParameters",
]
