"""The command line: ``minixvm boot``, ``run`` and the views of a run.

Every verb is a module of ``minixvm.commands`` with ``add_parser(sub)``.
Bad input (a missing file, an unknown pid, a malformed ELF, a bad size or
step) is one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from minixvm.boot import System
from minixvm.commands import (
    bench,
    boot,
    maps,
    mkfs,
    phys,
    ps,
    replay,
    report,
    run,
    services,
    trace,
)
from minixvm.commands.options import UsageError
from minixvm.commands.parser import Parser, say
from minixvm.errors import KernelPanic, SystemHalted

VERBS = (boot, run, ps, maps, phys, services, trace, replay, report, bench)


def parser() -> argparse.ArgumentParser:
    top = Parser(prog="minixvm", description="The MINIX 3 memory system, rebuilt in Python: "
                 "boot it, run programs, look inside a run (ps, maps, phys), record runs, "
                 "filter and replay them (trace, replay), draw and report them.")
    sub = top.add_subparsers(dest="command", required=True, parser_class=Parser)
    for verb in VERBS:
        verb.add_parser(sub)
    # Listed here for --help; mkfs parses its own arguments.
    sub.add_parser("mkfs", help="make a MINIX v3 file system image (minixvm mkfs --help)",
                   add_help=False)
    # The class verbs boot, looked up now (a test may put another in its place).
    top.set_defaults(system_class=System, echo_errors=False)
    return top


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if words[:1] == ["mkfs"]:
        return mkfs.run(words[1:])
    try:
        args = parser().parse_args(words)
    except SystemExit as e:  # --help, or a complaint already said
        return int(e.code or 0)
    try:
        status: int = args.func(args)
    except BrokenPipeError:  # the reader has gone (| head): stop quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (KernelPanic, SystemHalted) as e:
        say(f"minixvm: the system stopped: {e}", args.echo_errors)
        return 1
    except (UsageError, ValueError, OSError) as e:
        say(f"minixvm: {e}", args.echo_errors)
        return 2
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
