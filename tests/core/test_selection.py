"""The selection split (carved from the training split) and the reported-split record."""

import json
import random

import pytest

from ttc_core.selection import (
    REPORT_FILE,
    SelectionSplit,
    read_report,
    selection_keys,
    split_indices,
    write_report,
)

KEYS = [f"aachen_{i:06d}_000019_leftImg8bit.png" for i in range(40)]


def test_split_is_deterministic_disjoint_and_complete():
    fit, sel = split_indices(KEYS, SelectionSplit(size=8, seed=0))
    assert len(sel) == 8 and len(fit) == 32
    assert sorted(fit + sel) == list(range(40))
    assert (fit, sel) == split_indices(KEYS, SelectionSplit(size=8, seed=0))
    assert sel != split_indices(KEYS, SelectionSplit(size=8, seed=1))[1]


def test_split_depends_on_the_keys_not_their_order():
    chosen = {KEYS[i] for i in split_indices(KEYS, SelectionSplit(size=0.25))[1]}
    shuffled = KEYS[:]
    random.Random(3).shuffle(shuffled)
    again = {shuffled[i] for i in split_indices(shuffled, SelectionSplit(size=0.25))[1]}
    assert chosen == again and len(chosen) == 10
    # a moved data root keeps the split: keys are file names
    paths = [f"/data/a/leftImg8bit/train/aachen/{k}" for k in KEYS]
    assert selection_keys(paths) == KEYS


def test_files_name_the_selection_images():
    fit, sel = split_indices(KEYS, SelectionSplit(files=(KEYS[3], KEYS[7])))
    assert sel == [3, 7] and len(fit) == 38
    with pytest.raises(ValueError, match="not in the training split"):
        split_indices(KEYS, SelectionSplit(files=("missing.png",)))


@pytest.mark.parametrize(
    "kwargs, keys, match",
    [
        (dict(size=0), KEYS, "integer >= 1"),
        (dict(size=1.5), KEYS, "integer >= 1"),
        (dict(size=40), KEYS, "leaves none"),
        (dict(size=1), KEYS[:1], "at least 2"),
        (dict(size=2), [KEYS[0], KEYS[0], KEYS[1]], "twice"),
    ],
)
def test_bad_splits_say_what_is_wrong(kwargs, keys, match):
    with pytest.raises(ValueError, match=match):
        split_indices(keys, SelectionSplit(**kwargs))


def test_report_round_trip(tmp_path):
    path = write_report(
        tmp_path,
        {"bbox/AP": 12.5, "ttc/bpp": 0.31},
        dataset="coco_2017_val",
        checkpoint="model_best.pth",
        iteration=199,
        selection={"metric": "selection/bbox/AP", "value": 14.0, "rule": "best"},
        num_images=8,
    )
    assert path.name == REPORT_FILE
    report = read_report(tmp_path)
    assert report["split"] == "report" and report["bbox/AP"] == 12.5
    assert report["selection"]["metric"] == "selection/bbox/AP"
    assert read_report(tmp_path / "nothing") is None
    (tmp_path / REPORT_FILE).write_text(json.dumps({"bbox/AP": 1}))
    with pytest.raises(ValueError, match="not a ttc report"):
        read_report(tmp_path)
    with pytest.raises(ValueError, match="clash"):
        write_report(
            tmp_path, {"split": 1.0}, dataset="d", checkpoint=None, iteration=None, selection=None
        )
