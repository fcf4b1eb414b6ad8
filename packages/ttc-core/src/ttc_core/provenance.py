"""Where a result came from: the commit of the checkout that made it.

Results are data (RD JSON, study summaries, benchmark records) that name the command, commit
and seeds that made them; this is the commit part, written once for the study and the
benchmarks.
"""

from __future__ import annotations

import os
import subprocess

__all__ = ["checkout_commit"]


def checkout_commit(repo: str | os.PathLike = ".") -> str:
    """``HEAD`` of the git checkout at ``repo``, with ``+uncommitted changes`` when tracked
    files differ from it; ``"unknown"`` outside a checkout (or without git)."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+uncommitted changes" if dirty else "")
