#!/usr/bin/env bash
# One-command set-up of the ttc development environment (`make install`).
#
# Creates .venv and installs the pinned stack of constraints.txt, the compiled mmcv ops,
# Detectron2, then the three ttc packages in editable mode. Idempotent: a stamp records
# the inputs it was run with, and a second run with the same inputs returns at once.
#
#   DETECTRON2_SOURCE=pypi (default)  the registry re-upload `sal-detectron2==0.7.2`
#   DETECTRON2_SOURCE=git             the official repository (needs network access to it;
#                                     compiles detectron2._C)
#   TTC_WHEEL_CACHE                   where built wheels are kept (default ~/.cache/ttc/wheels)
#   MAX_JOBS                          parallel compile jobs for mmcv (default: nproc)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
CACHE="${TTC_WHEEL_CACHE:-$HOME/.cache/ttc/wheels}"
DETECTRON2_SOURCE="${DETECTRON2_SOURCE:-pypi}"
STAMP="$VENV/.ttc-install-stamp"

log() { printf '\033[1m[install]\033[0m %s\n' "$*"; }

inputs_hash() {
  cat constraints.txt tools/install.sh packages/*/pyproject.toml pyproject.toml \
    | sha256sum | cut -c1-16
  echo "$DETECTRON2_SOURCE"
}
WANT="$(inputs_hash | tr '\n' ' ')"
if [[ -x "$PY" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
  log "environment up to date ($VENV); nothing to do"
  exit 0
fi

mkdir -p "$CACHE"
if [[ ! -x "$PY" ]]; then
  log "creating virtual environment $VENV"
  python3 -m venv "$VENV"
fi
PIP=("$PY" -m pip --disable-pip-version-check)
C=(-c "$ROOT/constraints.txt")

log "base tooling (setuptools<81 keeps pkg_resources for mmcv, mmengine, detectron2.model_zoo)"
"${PIP[@]}" install -q "${C[@]}" --upgrade pip wheel "setuptools<81" ninja

log "torch + torchvision (installed from local disk where available)"
"${PIP[@]}" install -q "${C[@]}" torch torchvision numpy

# mmengine, mmcv and mmsegmentation declare the GUI `opencv-python`; installing them with
# --no-deps and their real dependencies explicitly keeps the headless build the only cv2.
log "scientific + framework dependencies"
"${PIP[@]}" install -q "${C[@]}" \
  compressai opencv-python-headless timm pycocotools bjontegaard scipy matplotlib pillow \
  pytest ruff addict pyyaml rich termcolor yapf prettytable ftfy regex \
  fvcore iopath omegaconf hydra-core yacs tabulate cloudpickle tqdm tensorboard black packaging \
  cityscapesscripts
"${PIP[@]}" install -q "${C[@]}" --no-deps mmengine mmsegmentation

# mmcv 2.1.0 (the newest mmsegmentation 1.2.2 accepts) has no wheel for this torch: build it
# once from the sdist with the compiled CPU ops, and keep the wheel in $CACHE.
if ! "$PY" -c "import mmcv.ops" >/dev/null 2>&1; then
  MMCV_WHL="$(ls "$CACHE"/mmcv-2.1.0-*.whl 2>/dev/null | head -n1 || true)"
  if [[ -z "$MMCV_WHL" ]]; then
    log "building mmcv 2.1.0 with compiled ops (first time only; ~13 min on 2 cores)"
    BUILD="$(mktemp -d)"
    "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation mmcv==2.1.0 -d "$BUILD"
    tar -xzf "$BUILD"/mmcv-2.1.0.tar.gz -C "$BUILD"
    # torch >= 2.10 headers refuse anything below C++20 ("C++20 or later compatible compiler
    # is required to use ATen"); mmcv's setup.py hard-codes -std=c++17.
    sed -i 's/-std=c++17/-std=c++20/g' "$BUILD"/mmcv-2.1.0/setup.py
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
      "${PIP[@]}" wheel -q --no-deps --no-build-isolation -w "$CACHE" "$BUILD"/mmcv-2.1.0
    rm -rf "$BUILD"
    MMCV_WHL="$(ls "$CACHE"/mmcv-2.1.0-*.whl | head -n1)"
  fi
  log "installing $(basename "$MMCV_WHL")"
  "${PIP[@]}" install -q --no-deps --force-reinstall "$MMCV_WHL"
fi

if ! "$PY" -c "import detectron2.modeling" >/dev/null 2>&1; then
  if [[ "$DETECTRON2_SOURCE" == "git" ]]; then
    log "detectron2 from the official repository (compiles detectron2._C)"
    "${PIP[@]}" install --no-build-isolation "git+https://github.com/facebookresearch/detectron2.git"
  else
    # Detectron2 is not on PyPI under its own name. `sal-detectron2` re-uploads upstream main
    # (2024-04, Apache-2.0) as a cp310 wheel whose pure-Python code runs on 3.11; its compiled
    # _C cannot load, and nothing Faster R-CNN training needs uses it (COCOEvaluator falls
    # back to pycocotools). Retag it py3-none-any so pip accepts it here.
    D2_WHL="$CACHE/sal_detectron2-0.7.2-py3-none-any.whl"
    if [[ ! -f "$D2_WHL" ]]; then
      log "downloading sal-detectron2 0.7.2 and retagging it for this Python"
      DL="$(mktemp -d)"
      "${PIP[@]}" download -q --no-deps --only-binary=:all: --python-version 3.10 \
        sal-detectron2==0.7.2 -d "$DL"
      SRC="$(ls "$DL"/sal_detectron2-0.7.2-*.whl)"
      echo "491af0c7f79bdb2d178e46f6cb16a97c4ac968d45c41ea3f6b6435d59bbee561  $SRC" | sha256sum -c --quiet
      cp "$SRC" "$DL/sal_detectron2-0.7.2-cp310-cp310-linux_x86_64.whl"
      "$PY" -m wheel tags --remove --python-tag py3 --abi-tag none --platform-tag any \
        "$DL/sal_detectron2-0.7.2-cp310-cp310-linux_x86_64.whl" >/dev/null
      cp "$DL/sal_detectron2-0.7.2-py3-none-any.whl" "$D2_WHL"
      rm -rf "$DL"
    fi
    log "installing detectron2 (sal-detectron2 0.7.2)"
    "${PIP[@]}" install -q --no-deps "$D2_WHL"
  fi
fi

log "ttc packages (editable)"
"${PIP[@]}" install -q "${C[@]}" --no-deps -e packages/ttc-core -e packages/ttc-detectron2 -e packages/ttc-mmseg

log "checking imports"
"$PY" -c "import ttc_core, ttc_detectron2, ttc_mmseg, detectron2.modeling, mmseg.models, mmcv.ops, compressai; print('ok: torch', __import__('torch').__version__, '| mmcv', __import__('mmcv').__version__, '| mmseg', __import__('mmseg').__version__, '| detectron2', __import__('detectron2').__version__)"

echo "$WANT" > "$STAMP"
log "done"
