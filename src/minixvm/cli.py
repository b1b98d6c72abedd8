"""The command line: ``minixvm boot`` and friends."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from minixvm.boot import USERLAND_BIN, System
from minixvm.commands import mkfs
from minixvm.errors import KernelPanic, SystemHalted
from minixvm.programs.demo import DEMO

DEMO_ELF = ("cow", "segv")


def missing_disk(args: argparse.Namespace, out: Console) -> bool:
    """Is ``--disk`` a file that is not there (said in one line)?"""
    if args.disk is None or Path(args.disk).is_file():
        return False
    out.print(f"[bold red]minixvm: {args.disk}: no such disk image[/]")
    return True


def cmd_boot(args: argparse.Namespace) -> int:
    """Boot, run the demo workload, print the console and a summary."""
    out = Console(highlight=False, soft_wrap=True)
    if missing_disk(args, out):
        return 2
    trace_sink = (lambda line: out.print(line, style="dim", markup=False)) if args.trace else None
    try:
        with System.boot(ram=args.ram, trace=args.trace, trace_sink=trace_sink,
                         sanity_checks=args.sanity, disk=args.disk) as system:
            handles = []
            for prog in DEMO:
                handles.append(system.spawn(prog))
                system.wait(handles[-1])
            # And compiled ones, from /bin: fork, copy-on-write, a fault, SIGSEGV.
            for name in DEMO_ELF if args.disk is None else ():
                handles.append(system.spawn_exec(f"/bin/{name}"))
                system.wait(handles[-1])
            system.run_until_idle()
            out.print(system.console.text, end="", markup=False)
            out.print(summary(system, handles))
            failed = [h.name for h in handles if h.returncode != 0]
    except (KernelPanic, SystemHalted) as e:
        out.print(f"[bold red]minixvm: the system stopped: {e}[/]")
        return 1
    except (ValueError, OSError) as e:
        out.print(f"[bold red]minixvm: {e}[/]")
        return 2
    if failed:
        out.print(f"[bold red]demo programs failed: {', '.join(failed)}[/]")
        return 1
    return 0


def builtin_programs() -> list[str]:
    """The names of the built-in programs (the ELF files in userland/bin)."""
    return sorted(p.name for p in USERLAND_BIN.glob("*") if p.is_file()
                  and p.read_bytes()[:4] == b"\x7fELF")


def builtin_program(name: str) -> Path | None:
    """A program of the built-in set, by name."""
    return USERLAND_BIN / name if name in builtin_programs() else None


def cmd_run(args: argparse.Namespace) -> int:
    """Run an i386 ELF program; print its output; exit with its status. With
    ``--disk``, the program is a path in that image's file system; without,
    a host file (installed in /bin), a built-in program or a path in the
    default disk (whose /bin holds the built-in programs)."""
    out = Console(highlight=False, soft_wrap=True)
    if missing_disk(args, out):
        return 2
    program: str | Path = args.program
    if args.disk is None and Path(args.program).is_file():
        program = Path(args.program)
    elif args.disk is None and not args.program.startswith("/"):
        if builtin_program(args.program) is None:
            out.print(f"[bold red]minixvm: {args.program}: no such file or built-in program[/]")
            return 2
        program = f"/bin/{args.program}"
    name = Path(program).name
    trace_sink = (lambda line: out.print(line, style="dim", markup=False)) if args.trace else None
    try:
        with System.boot(ram=args.ram, trace=args.trace, trace_sink=trace_sink,
                         disk=args.disk) as system:
            code = system.exec(program, [name, *args.args])
            out.print(system.console.text, end="", markup=False)
    except (KernelPanic, SystemHalted) as e:
        out.print(f"[bold red]minixvm: the system stopped: {e}[/]")
        return 1
    except (ValueError, OSError) as e:
        out.print(f"[bold red]minixvm: {e}[/]")
        return 2
    # A signal's death, as a shell reports it.
    return code if code >= 0 else 128 - code


def summary(system: System, handles: list) -> Table:
    stats = system.statistics()
    table = Table(title="minixvm", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("programs run", str(len(handles)))
    table.add_row("processes forked", str(stats.vm.forks))
    table.add_row("page faults", str(stats.vm.pagefaults))
    table.add_row("  demand-zero", str(stats.vm.demand_zero))
    table.add_row("  copy-on-write breaks", str(stats.vm.cow_breaks))
    table.add_row("  SIGSEGV", str(stats.vm.sigsegv))
    table.add_row("VM block cache hits / misses",
                  f"{stats.vm.cache_hits} / {stats.vm.cache_misses}")
    table.add_row("MFS blocks: cache / VM / disk",
                  f"{stats.mfs.cache_hits} / {stats.mfs.vm_hits} / {stats.mfs.disk_reads}")
    table.add_row("messages", str(stats.messages))
    table.add_row("kernel calls", str(stats.kernel_calls))
    table.add_row("frames used / free", f"{stats.frames_used} / {stats.frames_free}")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="minixvm", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    boot = sub.add_parser("boot", help="boot, run the demo workload, report")
    boot.add_argument("--ram", default="64M", help="memory size, e.g. 64M or 1G (default 64M)")
    boot.add_argument("--trace", action="store_true",
                      help="print every message, kernel call and page fault")
    boot.add_argument("--sanity", action="store_true",
                      help="run VM's full sanity check after every request")
    boot.add_argument("--disk", metavar="IMAGE",
                      help="a MINIX v3 disk image to mount as the root file system "
                      "(default: a small image in memory holding the built-in programs)")
    boot.set_defaults(func=cmd_boot)
    run = sub.add_parser("run", help="run an i386 ELF program (a file, or a built-in one)")
    run.add_argument("program", help="an ELF file, or a built-in program: "
                     + ", ".join(builtin_programs()))
    run.add_argument("args", nargs=argparse.REMAINDER,
                     help="its arguments (everything after PROGRAM)")
    run.add_argument("--ram", default="64M", help="memory size (default 64M)")
    run.add_argument("--trace", action="store_true", help="print every event as it happens")
    run.add_argument("--disk", metavar="IMAGE",
                     help="boot from this disk image; PROGRAM is then a path in it")
    run.set_defaults(func=cmd_run)
    # Listed here for --help; mkfs parses its own arguments.
    sub.add_parser("mkfs", help="make a MINIX v3 file system image (minixvm mkfs --help)",
                   add_help=False)
    words = sys.argv[1:] if argv is None else argv
    if words[:1] == ["mkfs"]:
        return mkfs.run(words[1:])
    args = parser.parse_args(words)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
