"""``minixvm services``: the services RS keeps, with their endpoints, labels,
restarts and uptime, on a system stopped where asked; on the way, services
can be started from an ELF file, killed, restarted and stopped, as MINIX's
``service`` command does."""

from __future__ import annotations

import argparse
import dataclasses

from rich.table import Table

from minixvm.boot import System
from minixvm.commands.options import (
    UsageError,
    add_json,
    add_view_source,
    console,
    print_json,
    view,
)
from minixvm.servers.rs.service import EXITED, FAILED, RUNNING, STOPPED, UP
from minixvm.servers.rs.table import ServiceDescription

# The states a service stays in until something happens to it.
SETTLED = frozenset({UP, EXITED, FAILED, STOPPED})


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "services", help="the services RS keeps: endpoints, labels, restarts, uptime",
        description="List RS's services (boot processes too) after a run of --run PROGRAM, "
        "of a recorded run, or of the demo workload. Before listing, apply --up, --kill, "
        "--restart and --down in the order given; each waits until RS has acted.")
    add_view_source(parser)
    parser.add_argument("--up", metavar="LABEL=ELF", action="append", default=[],
                        type=_up, dest="actions", help="start an i386 ELF file as service "
                        "LABEL (no SEF: not pinged; restarted if it dies of a signal)")
    for what, text in (("kill", "kill the service with SIGKILL (RS restarts it)"),
                       ("restart", "have RS restart the service into a new endpoint"),
                       ("down", "have RS stop the service for good")):
        parser.add_argument(f"--{what}", metavar="LABEL", action="append", dest="actions",
                            type=lambda label, what=what: (what, label), help=text)
    add_json(parser)
    parser.set_defaults(func=run)


def _up(text: str) -> tuple[str, str]:
    label, sep, path = text.partition("=")
    if not sep or not label or not path:
        raise argparse.ArgumentTypeError(f"{text!r}: LABEL=ELF expected")
    return ("up=" + label, path)


def run(args: argparse.Namespace) -> int:
    with view(args) as seen:
        system = seen.system
        for what, arg in args.actions:
            act(system, what, arg)
        rows = system.services()
        if args.json:
            print_json({**seen.to_json(), "services": [dataclasses.asdict(r) for r in rows],
                        "log": system.rs_log})
            return 0
        table = Table(title=f"services {seen.stopped}")
        for name in ("label", "endpoint", "pid", "state", "restarts", "uptime"):
            table.add_column(name, justify="left" if name in ("label", "state") else "right")
        for r in rows:
            table.add_row(r.label + (" (boot)" if r.boot else ""), _or_dash(r.endpoint),
                          _or_dash(r.pid), r.state, str(r.restarts), str(r.uptime))
        out = console()
        out.print(table)
        for line in system.rs_log:
            out.print(line, markup=False, highlight=False)
    return 0


def act(system: System, what: str, arg: str) -> None:
    """One --up/--kill/--restart/--down, run until RS has done it."""
    if what.startswith("up="):
        svc = system.service_up(ServiceDescription(what[3:], sef=False, period=0), arg)
        system.run_until(lambda: svc.state in SETTLED)
        return
    try:
        svc = system.service(arg)
    except KeyError as e:
        raise UsageError(f"{arg}: no such service") from e
    if svc.image is None:
        raise UsageError(f"{arg}: a boot process; RS does not stop or restart it")
    old = svc.endpoint
    if what == "down":
        system.service_down(arg)
        system.run_until(lambda: svc.state in SETTLED - {UP})
        return
    if what == "kill":
        if svc.state not in RUNNING:
            raise UsageError(f"{arg}: not running")
        system.kill_service(arg)
    else:
        system.service_restart(arg)
    # Up again in a new endpoint, or RS has given up on it.
    system.run_until(lambda: svc.state in SETTLED and svc.endpoint != old)


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)
