"""The commit a result records (study summaries, benchmark records)."""

import subprocess

from ttc_core.provenance import checkout_commit


def _git(repo, *args):
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_checkout_commit_names_head_and_says_when_tracked_files_changed(tmp_path):
    assert checkout_commit(tmp_path) == "unknown"  # not a checkout
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("1")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "a")
    head = _git(tmp_path, "rev-parse", "HEAD")
    assert checkout_commit(tmp_path) == head
    (tmp_path / "new.txt").write_text("untracked files do not count")
    assert checkout_commit(tmp_path) == head
    (tmp_path / "a.txt").write_text("2")
    assert checkout_commit(tmp_path) == head + "+uncommitted changes"
