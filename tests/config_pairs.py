"""A Baseline config against its Proposed counterpart, key by key (Detectron2 and MMSeg).

Fair by construction (METHOD §8): a ``*baseline*`` config must train exactly as the
``*proposed*`` config of the same name, except for the keys each framework's test allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def proposed_counterpart(baseline: Path) -> Path:
    """The ``*proposed*`` config beside a ``*baseline*`` one (asserted to exist)."""
    proposed = baseline.with_name(baseline.name.replace("baseline", "proposed"))
    assert proposed.is_file(), f"{baseline.name} has no Proposed counterpart {proposed.name}"
    return proposed


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    # yacs CfgNode and MMEngine's ConfigDict are both dicts
    if not isinstance(node, Mapping):
        return {prefix[:-1]: node}
    return {k: v for key, sub in node.items() for k, v in _flat(sub, f"{prefix}{key}.").items()}


def changed_keys(ours: Mapping, theirs: Mapping) -> set[str]:
    """Dotted keys present in only one of two nested configs or with different values."""
    a, b = _flat(ours), _flat(theirs)
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
