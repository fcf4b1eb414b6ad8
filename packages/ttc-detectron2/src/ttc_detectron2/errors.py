"""Clear errors for the two usual plugin mistakes.

Detectron2 reports a missing plugin import as ``KeyError: "No object named
'TTCGeneralizedRCNN' found in 'META_ARCH' registry!"`` and a missing config extension as
``KeyError: 'Non-existent config key: MODEL.TTC'``. Neither says what to do. Wrap the code
that merges configs and builds models in :func:`helpful_errors`::

    with ttc_detectron2.helpful_errors():
        cfg.merge_from_file(path)
        model = build_model(cfg)

and such errors are re-raised as :class:`TTCConfigError` saying what to import or call (the
original error is chained as the cause). A key that :func:`add_ttc_config` does not declare
(``MODEL.TTC.ALPA``, from a file or from command-line options) is named, with the closest key
it does declare: a misspelling is not mistaken for a missing ``add_ttc_config``. So is yacs'
type mismatch for a whole number given to the float key ``DATASETS.SELECTION.SIZE``. Other
errors pass through unchanged.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import re
from collections.abc import Iterator

__all__ = ["TTCConfigError", "declared_keys", "explain", "helpful_errors"]

#: names this plugin registers (kept in sync by tests/detectron2/test_config.py)
REGISTERED = {
    "META_ARCH": ("TTCGeneralizedRCNN", "TTCReconstructionEnhancement"),
    "BACKBONE": ("build_ttc_backbone",),
}
#: config keys that add_ttc_config adds
ADDED_KEYS = ("MODEL.TTC", "DATASETS.SELECTION", "SOLVER.OPTIMIZER", "SOLVER.ADAM_BETAS")

_IMPORT_HINT = (
    "`import ttc_detectron2` before building the model (importing the package registers its "
    "backbones and meta-architecture with Detectron2), or run tools/train_net.py"
)
_CONFIG_HINT = (
    "call `ttc_detectron2.add_ttc_config(cfg)` on the config before merging a ttc config file "
    "(`cfg = get_cfg(); add_ttc_config(cfg); cfg.merge_from_file(...)`), or run "
    "tools/train_net.py"
)


class TTCConfigError(ValueError):
    """A ttc config value is invalid, or the plugin was not set up; the message says the fix."""


_REGISTRY_RE = re.compile(r"No object named '([^']+)' found in '([^']+)' registry")
# yacs: "Non-existent config key: K" (merge_from_file), "Non-existent key: K" (merge_from_list)
_KEY_RE = re.compile(r"Non-existent (?:config )?key: ([A-Za-z0-9_.]+)")
_TYPE_RE = re.compile(
    r"Type mismatch \(<class 'float'> vs\. <class 'int'>\) with values \(\S+ vs\. (\d+)\) "
    r"for config key: (DATASETS\.SELECTION\.SIZE)"
)


def explain(exc: BaseException) -> str | None:
    """A fix-it message for ``exc`` when it is one of the plugin mistakes, else ``None``."""
    text = str(exc.args[0]) if getattr(exc, "args", None) else str(exc)
    match = _REGISTRY_RE.search(text)
    if match:
        name, registry = match.groups()
        if name in REGISTERED.get(registry, ()) or name.lower().startswith(("ttc", "build_ttc")):
            return f"{registry} {name!r} is not registered: {_IMPORT_HINT}."
        return None
    match = _KEY_RE.search(text)
    if match:
        key = match.group(1)
        if any(key == k or key.startswith(k + ".") for k in ADDED_KEYS):
            return _explain_key(key)
    match = _TYPE_RE.search(text)
    if match:
        count, key = match.groups()
        return (
            f"{key} is a float (yacs keeps the type of the default): write a number of images "
            f"as {count}.0, a fraction as e.g. 0.1."
        )
    return None


@functools.cache
def declared_keys() -> tuple[str, ...]:
    """Every key (and node) :func:`add_ttc_config` adds, dotted, e.g. ``MODEL.TTC.ALPHA``."""
    from detectron2.config import CfgNode, get_cfg

    from .config import add_ttc_config

    def walk(node: CfgNode, prefix: str) -> Iterator[str]:
        for name, value in node.items():
            key = f"{prefix}{name}"
            yield key
            if isinstance(value, CfgNode):
                yield from walk(value, key + ".")

    keys = walk(add_ttc_config(get_cfg()), "")
    return tuple(k for k in keys if any(k == r or k.startswith(r + ".") for r in ADDED_KEYS))


def _explain_key(key: str) -> str:
    declared = declared_keys()
    if key in declared:  # a real ttc key the config lacks: add_ttc_config was not called
        return f"the config has no key {key}: {_CONFIG_HINT}."
    parent = key.rpartition(".")[0]
    siblings = [k for k in declared if k.rpartition(".")[0] == parent]
    close = difflib.get_close_matches(key, siblings or declared, n=1, cutoff=0.6)
    hint = (
        f"did you mean {close[0]}?"
        if close
        else (
            f"the keys under {parent} are " + ", ".join(k.rpartition(".")[2] for k in siblings)
            if siblings
            else "see add_ttc_config for the declared keys"
        )
    )
    return f"unknown config key {key}: {hint}"


@contextlib.contextmanager
def helpful_errors() -> Iterator[None]:
    """Re-raise plugin set-up mistakes as :class:`TTCConfigError` with a fix-it message."""
    try:
        yield
    except (KeyError, AssertionError, AttributeError, ValueError) as exc:
        if isinstance(exc, TTCConfigError):
            raise
        message = explain(exc)
        if message is None:
            raise
        raise TTCConfigError(message) from exc
