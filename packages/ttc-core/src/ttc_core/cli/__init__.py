"""The ``ttc`` command line.

Each subcommand lives in its own module as a ``main(argv) -> int`` function, so tests call it
in-process. Modules are imported lazily: ``ttc info`` does not pay for matplotlib.

Exit codes: 0 success, 2 bad input (usage, unreadable or malformed files), 1 failure.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

#: subcommand -> (module, function, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "compress": ("ttc_core.cli.codec", "compress_main", "encode an image into a .ttc file"),
    "decompress": ("ttc_core.cli.codec", "decompress_main", "decode a .ttc file"),
    "info": ("ttc_core.cli.codec", "info_main", "print the header of a .ttc file"),
    "bd": ("ttc_core.cli.bd", "main", "BD-rate / BD-metric between RD curves"),
    "plot": ("ttc_core.cli.plot", "main", "plot RD curves"),
    "rd": ("ttc_core.cli.rd", "main", "collect evaluation outputs into RD JSON files"),
    "data": ("ttc_core.cli.data", "main", "generate synthetic COCO / Cityscapes data"),
    "study": ("ttc_core.cli.study", "main", "the evidence study: Proposed vs Baseline, seeds"),
    "configs": ("ttc_core.cli.configs", "main", "list the configs shipped with the plugins"),
}


def _usage() -> str:
    lines = ["usage: ttc COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<11} {help_}" for name, (_, _, help_) in COMMANDS.items()]
    lines.append("\nRun `ttc COMMAND --help` for a command's options.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"ttc: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module, func, _ = COMMANDS[name]
    try:
        code = int(getattr(importlib.import_module(module), func)(rest) or 0)
        sys.stdout.flush()  # a closed pipe raises here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        # the reader left (`ttc configs list | head`): not an error of ours. Point stdout at
        # /dev/null so that the interpreter's final flush does not raise a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
