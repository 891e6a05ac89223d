#!/usr/bin/env python3
"""A live blotter: every execution, rejection and trading-state change the
gateway's drop copy sends, one line each, as it happens.

Run it as a principal with ``monitor`` (every account) or ``read`` (the
accounts it may use)::

    export ORDERGATE_SOCKET=./ordergate.sock
    export ORDERGATE_TOKEN=...                   # or --token-file FILE
    PYTHONPATH=clients/python python3 clients/python/examples/blotter.py

It stops after ``--idle`` seconds without an event (default: never), or
when the gateway ends the subscription (the reader fell behind, or the
session ended): it then says why and exits with status 3, since a blotter
with a hole in it must not look complete.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ordergate_client import Client, DropCopyEvent, ExecEvent, GatewayError, SubscriptionEnded


def default_socket() -> str:
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime.startswith("/") and os.path.isdir(runtime):
        return os.path.join(runtime, "ordergate.sock")
    return "./ordergate.sock"


def line_of(event: DropCopyEvent) -> str:
    """One blotter line; fixed columns where they help the eye."""
    fields = event.fields
    if event.stream == "executions":
        report = event.execution
        if isinstance(report, ExecEvent):
            price = f" @ {report.last_px}" if report.last_qty else ""
            why = f" {report.reason}" if report.reason else ""
            return (
                f"{event.seq:>7} EXEC   {event.principal or '-':<12} {report.cl_ord_id:<20} "
                f"{report.status:<16} {report.side:<4} {report.last_qty}{price} "
                f"{report.symbol} {report.account} (filled {report.cum_qty}, leaves {report.leaves_qty}){why}"
            )
        if report is not None:
            return (
                f"{event.seq:>7} FILL   {event.principal or '-':<12} {report.orig_cl_ord_id or '-':<20} "
                f"{report.source:<16} {report.side:<4} {report.qty} @ {report.price} "
                f"{report.symbol} {report.account}"
            )
    if event.stream == "rejections":
        where = " ".join(str(fields[k]) for k in ("symbol", "account") if k in fields)
        return (
            f"{event.seq:>7} REJECT {event.principal or '-':<12} {fields.get('cl_ord_id', '-'):<20} "
            f"{fields.get('reason', '?'):<16} {fields.get('op', '?')} {where}".rstrip()
        )
    if event.stream == "trading_state":
        return f"{event.seq:>7} STATE  {fields.get('scope', '?')} -> {fields.get('state', '?')} by {fields.get('by', '?')}"
    return f"{event.seq:>7} {event.stream} {fields}"


def read_token(args: argparse.Namespace) -> str:
    if args.token_file:
        return Path(args.token_file).read_text().strip()
    token = os.environ.get("ORDERGATE_TOKEN", "").strip()
    if not token:
        raise SystemExit("blotter: no token: set ORDERGATE_TOKEN (or pass --token-file FILE)")
    return token


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A live blotter from the gateway's drop copy.")
    parser.add_argument("--socket", default=os.environ.get("ORDERGATE_SOCKET") or default_socket())
    parser.add_argument("--token-file", help="file holding the token (default: $ORDERGATE_TOKEN)")
    parser.add_argument(
        "--streams",
        default="executions,rejections,trading_state",
        help="comma-separated: executions, rejections, trading_state",
    )
    parser.add_argument("--idle", type=float, default=None, help="stop after this many quiet seconds")
    args = parser.parse_args(argv)
    try:
        with Client(args.socket) as client:
            welcome = client.hello(read_token(args))
            streams = client.subscribe(tuple(s.strip() for s in args.streams.split(",") if s.strip()))
            print(f"blotter for {welcome.principal}: {', '.join(streams)}", flush=True)
            for event in client.events(timeout=args.idle):
                if isinstance(event, SubscriptionEnded):
                    print(f"subscription ended: {event.code}: {event.message}", file=sys.stderr, flush=True)
                    return 3
                if isinstance(event, DropCopyEvent):
                    print(line_of(event), flush=True)
    except GatewayError as error:
        print(f"blotter: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
