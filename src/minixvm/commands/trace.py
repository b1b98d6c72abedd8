"""``minixvm trace FILE``: the events of a recorded run, filtered; and a
timeline picture of them."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Iterable, Iterator

from minixvm.commands.options import UsageError, add_json, positive
from minixvm.kernel.trace import KINDS, Event
from minixvm.views.record import read_events


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "trace", help="show a recorded run's events, filtered",
        description="The events of a recorded run (minixvm run --record FILE), one line each: "
        "its step and its trace line; with --json, the events as JSON lines. Filters combine.")
    parser.add_argument("file", help="a recorded run")
    parser.add_argument("--pid", type=pids, metavar="PID[,PID...]",
                        help="only events about these processes (a message sent to one counts)")
    parser.add_argument("--kind", type=kinds, metavar="KIND[,KIND...]",
                        help=f"only events of these kinds: {', '.join(KINDS)}")
    parser.add_argument("--from", dest="first", type=positive, metavar="STEP",
                        help="only from this step on")
    parser.add_argument("--to", dest="last", type=positive, metavar="STEP",
                        help="only up to this step")
    parser.add_argument("--grep", type=pattern, metavar="REGEX",
                        help="only events whose trace line matches REGEX")
    parser.add_argument("--timeline", metavar="FILE",
                        help="draw the chosen events per process over steps (.png or .svg)")
    add_json(parser)
    parser.set_defaults(func=run)


def pids(text: str) -> frozenset[int]:
    try:
        return frozenset(int(word) for word in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad pid list {text!r}: expected e.g. 7,8") from None


def kinds(text: str) -> frozenset[str]:
    chosen = frozenset(word.strip() for word in text.split(","))
    unknown = sorted(chosen - set(KINDS))
    if unknown:
        raise argparse.ArgumentTypeError(f"no event kind {', '.join(unknown)} "
                                         f"(kinds: {', '.join(KINDS)})")
    return chosen


def pattern(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as e:
        raise argparse.ArgumentTypeError(f"bad regular expression {text!r}: {e}") from None


def chosen(args: argparse.Namespace) -> Callable[[Event], bool]:
    """Does an event pass every filter given?"""
    def test(event: Event) -> bool:
        return ((args.pid is None or event.get("pid") in args.pid
                 or event.get("to_pid") in args.pid)
                and (args.kind is None or event["kind"] in args.kind)
                and (args.first is None or event["step"] >= args.first)
                and (args.last is None or event["step"] <= args.last)
                and (args.grep is None or args.grep.search(event.get("text", "")) is not None))
    return test


def run(args: argparse.Namespace) -> int:
    if args.first and args.last and args.first > args.last:
        raise UsageError(f"--from {args.first} is after --to {args.last}")
    events: Iterable[Event] = filter(chosen(args), read_events(args.file))
    if args.timeline:
        # matplotlib takes a while to import: only when drawing.
        from minixvm.views.pictures import timeline_picture

        events = list(events)
        timeline_picture(events, args.timeline)
    show(events, args.json)
    return 0


def show(events: Iterable[Event], as_json: bool) -> None:
    for line in lines(events, as_json):
        print(line)


def lines(events: Iterable[Event], as_json: bool) -> Iterator[str]:
    for event in events:
        yield (json.dumps(event, separators=(",", ":")) if as_json
               else f"{event['step']:>7}  {event.get('text', '')}")
