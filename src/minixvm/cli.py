"""The command line: ``minixvm boot`` and friends."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from minixvm.boot import System
from minixvm.errors import KernelPanic, MinixError, SystemHalted
from minixvm.programs.demo import DEMO

# The i386 programs built from userland/ (committed beside their sources).
USERLAND_BIN = Path(__file__).resolve().parents[2] / "userland" / "bin"
DEMO_ELF = ("cow", "segv")


def cmd_boot(args: argparse.Namespace) -> int:
    """Boot, run the demo workload, print the console and a summary."""
    out = Console(highlight=False)
    trace_sink = (lambda line: out.print(line, style="dim", markup=False)) if args.trace else None
    try:
        with System.boot(ram=args.ram, trace=args.trace, trace_sink=trace_sink,
                         sanity_checks=args.sanity) as system:
            handles = []
            for prog in DEMO:
                handles.append(system.spawn(prog))
                system.wait(handles[-1])
            # And a compiled one: fork, copy-on-write, a fault, SIGSEGV.
            for name in DEMO_ELF:
                handles.append(system.spawn_exec((USERLAND_BIN / name).read_bytes(), name=name))
                system.wait(handles[-1])
            system.run_until_idle()
            out.print(system.console.text, end="", markup=False)
            out.print(summary(system, handles))
            failed = [h.name for h in handles if h.returncode != 0]
    except (KernelPanic, SystemHalted) as e:
        out.print(f"[bold red]minixvm: the system stopped: {e}[/]")
        return 1
    except ValueError as e:
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
    """Run an i386 ELF program; print its output; exit with its status."""
    out = Console(highlight=False)
    path = Path(args.program)
    if not path.is_file():
        found = builtin_program(args.program)
        if found is None:
            out.print(f"[bold red]minixvm: {args.program}: no such file or built-in program[/]")
            return 2
        path = found
    trace_sink = (lambda line: out.print(line, style="dim", markup=False)) if args.trace else None
    try:
        with System.boot(ram=args.ram, trace=args.trace, trace_sink=trace_sink) as system:
            image = f"/bin/{path.name}"
            system.install(image, path.read_bytes())
            code = system.exec(image, [path.name, *args.args])
            out.print(system.console.text, end="", markup=False)
    except (KernelPanic, SystemHalted) as e:
        out.print(f"[bold red]minixvm: the system stopped: {e}[/]")
        return 1
    except (ValueError, MinixError) as e:
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
    table.add_row("cache hits / misses", f"{stats.vm.cache_hits} / {stats.vm.cache_misses}")
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
    boot.set_defaults(func=cmd_boot)
    run = sub.add_parser("run", help="run an i386 ELF program (a file, or a built-in one)")
    run.add_argument("program", help="an ELF file, or a built-in program: "
                     + ", ".join(builtin_programs()))
    run.add_argument("args", nargs="*", help="its arguments (after -- if one starts with -)")
    run.add_argument("--ram", default="64M", help="memory size (default 64M)")
    run.add_argument("--trace", action="store_true", help="print every event as it happens")
    run.set_defaults(func=cmd_run)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
