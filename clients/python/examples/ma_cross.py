#!/usr/bin/env python3
"""Moving-average cross: an example strategy that trades through ordergate.

It walks a synthetic, seeded EUR/USD mid-price series bar by bar. When the
fast simple moving average crosses above the slow one it goes long
``--qty``; when it crosses below, short; each change of mind is one market
IOC order through the gateway. It prints every fill and a P&L summary.

The fills come from the gateway's broker (the embedded paper broker in a
demo), at the broker's prices, not the synthetic series': the series only
decides *when* to trade, as a signal feed would.

Usage (with a gateway running, e.g. ``ordergate run`` in another terminal)::

    export ORDERGATE_SOCKET=./ordergate.sock     # or --socket
    export ORDERGATE_TOKEN=...                   # or --token-file FILE / --token=TOKEN
    PYTHONPATH=clients/python python3 clients/python/examples/ma_cross.py --bars 500

The token comes from ``$ORDERGATE_TOKEN`` or ``--token-file`` by default.
``--token=TOKEN`` also works but is a last resort: other users on the
machine can read command lines with ``ps``. Write it with ``=``: tokens made
by older gateways may begin with ``-``, which argparse would take for an
option in the two-word form ``--token TOKEN``.

Rejections are handled politely: ``RATE_LIMITED`` waits ``retry_after_ms``
and retries, ``SESSION_EXPIRED`` says hello again, anything else (halted
trading, risk limits) skips that signal and goes on.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

try:
    from ordergate_client import Client, ExecEvent, GatewayError, Rejected
except ImportError:  # run from a checkout without PYTHONPATH
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from ordergate_client import Client, ExecEvent, GatewayError, Rejected

TICK = Decimal("0.00001")
MAX_RETRIES = 5
FILL_TIMEOUT_S = 5.0


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), ROUND_HALF_EVEN)


def default_socket() -> str:
    """The gateway's own default: $XDG_RUNTIME_DIR/ordergate.sock, else ./ordergate.sock."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime.startswith("/") and os.path.isdir(runtime):
        return os.path.join(runtime, "ordergate.sock")
    return "./ordergate.sock"


def synthetic_prices(seed: int, start: Decimal, bars: int, step_ticks: int) -> Iterator[Decimal]:
    """A seeded random walk on the tick grid: each bar moves the mid by a
    whole number of ticks in [-step_ticks, +step_ticks], with a slow drift
    that changes sign now and then so that the averages actually cross."""
    rng = random.Random(seed)
    price = start
    drift = 1
    for bar in range(bars):
        if bar % 40 == 0:
            drift = rng.choice((-1, 1))
        move = rng.randint(-step_ticks, step_ticks) + drift
        price = max(TICK, price + move * TICK)
        yield price


class MovingAverage:
    """Simple moving average over the last ``length`` values, in Decimal."""

    def __init__(self, length: int) -> None:
        self.length = length
        self._values: collections.deque[Decimal] = collections.deque(maxlen=length)
        self._sum = Decimal(0)

    def add(self, value: Decimal) -> Decimal | None:
        if len(self._values) == self.length:
            self._sum -= self._values[0]
        self._values.append(value)
        self._sum += value
        return self._sum / self.length if len(self._values) == self.length else None


@dataclasses.dataclass
class Book:
    """Position and P&L from our own fills (average-cost accounting)."""

    position: Decimal = Decimal(0)
    average_price: Decimal = Decimal(0)
    realized: Decimal = Decimal(0)
    last_price: Decimal = Decimal(0)
    filled_orders: int = 0
    traded_qty: Decimal = Decimal(0)

    def fill(self, side: str, qty: Decimal, price: Decimal) -> None:
        signed = qty if side == "buy" else -qty
        self.filled_orders += 1
        self.traded_qty += qty
        self.last_price = price
        if self.position == 0 or (self.position > 0) == (signed > 0):
            total = self.position + signed
            self.average_price = (self.average_price * abs(self.position) + price * qty) / abs(
                total
            )
            self.position = total
            return
        closing = min(qty, abs(self.position))
        direction = 1 if self.position > 0 else -1
        self.realized += (price - self.average_price) * closing * direction
        self.position += signed
        if self.position == 0:
            self.average_price = Decimal(0)
        elif (self.position > 0) != (direction > 0):  # flipped: the rest opens at this price
            self.average_price = price

    @property
    def unrealized(self) -> Decimal:
        return (
            (self.last_price - self.average_price) * self.position if self.position else Decimal(0)
        )


class Strategy:
    def __init__(self, client: Client, token: str, args: argparse.Namespace) -> None:
        self.client = client
        self._token = token
        self.args = args
        self.book = Book()
        self.rejections: collections.Counter[str] = collections.Counter()
        self.retries = 0
        self._order_number = 0
        self._run = f"{os.getpid() % 100000}-{int(time.time()) % 100000}"

    def next_cl_ord_id(self) -> str:
        self._order_number += 1
        return f"ma-{self._run}-{self._order_number}"  # unique per run; at most 32 characters

    def trade_to(self, target: Decimal) -> None:
        """Sends the market order that takes the position to ``target``."""
        delta = target - self.book.position
        if delta == 0:
            return
        side = "buy" if delta > 0 else "sell"
        self.order(side, abs(delta))

    def order(self, side: str, qty: Decimal) -> None:
        for _attempt in range(MAX_RETRIES + 1):
            cl_ord_id = self.next_cl_ord_id()
            reply = self.client.submit(
                self.args.account,
                self.args.symbol,
                side,
                "market",
                qty,
                "ioc",
                cl_ord_id,
                tag="ma-cross",
            )
            if reply.accepted:
                self.await_fill(cl_ord_id)
                return
            assert isinstance(reply, Rejected)
            self.rejections[reply.reason] += 1
            if reply.reason == "RATE_LIMITED":
                wait_ms = reply.retry_after_ms or 100
                print(f"  rate limited: retrying {side} {qty} in {wait_ms} ms")
                self.retries += 1
                time.sleep(wait_ms / 1000)
                continue
            if reply.reason == "SESSION_EXPIRED":
                print("  session expired: saying hello again")
                self.client.hello(self._token)
                self.retries += 1
                continue
            print(
                f"  {side} {qty} rejected: {reply.reason} ({reply.message}); skipping this signal"
            )
            return
        print(f"  {side} {qty}: gave up after {MAX_RETRIES} retries")

    def await_fill(self, cl_ord_id: str) -> None:
        deadline = time.monotonic() + FILL_TIMEOUT_S
        while True:
            event = self.client.next_event(max(0.0, deadline - time.monotonic()))
            if event is None:
                print(f"  {cl_ord_id}: no execution report within {FILL_TIMEOUT_S}s")
                return
            self.on_event(event)
            if event.cl_ord_id == cl_ord_id and event.is_terminal:
                return

    def on_event(self, event: ExecEvent) -> None:
        if event.last_qty > 0:
            self.book.fill(event.side, event.last_qty, event.last_px)
            print(
                f"  fill {event.cl_ord_id}: {event.side} {event.last_qty} {event.symbol}"
                f" @ {event.last_px}  position {self.book.position}"
            )
        elif event.status in ("CANCELED", "REJECTED", "EXPIRED"):
            why = event.broker_reason or event.reason or ""
            print(f"  {event.cl_ord_id}: {event.status} {why}".rstrip())

    def run(self, prices: Sequence[Decimal] | Iterator[Decimal]) -> None:
        fast, slow = MovingAverage(self.args.fast), MovingAverage(self.args.slow)
        previous: int | None = None
        for bar, price in enumerate(prices):
            fast_value, slow_value = fast.add(price), slow.add(price)
            if fast_value is not None and slow_value is not None:
                regime = 1 if fast_value > slow_value else -1 if fast_value < slow_value else 0
                if regime != 0 and regime != previous:
                    label = "up" if regime > 0 else "down"
                    print(
                        f"bar {bar:4d} mid {price}: fast MA crossed {label} -> "
                        f"{'long' if regime > 0 else 'short'} {self.args.qty}"
                    )
                    self.trade_to(self.args.qty * regime)
                    previous = regime
            if self.args.interval > 0:
                time.sleep(self.args.interval)
        if self.args.flatten and self.book.position != 0:
            print("end of series: flattening")
            self.trade_to(Decimal(0))

    def summary(self) -> str:
        book = self.book
        pnl = cents(book.realized + book.unrealized)
        lines = [
            "--- summary ---",
            f"filled orders   {book.filled_orders}",
            f"traded quantity {book.traded_qty}",
            f"position        {book.position}",
            f"realized P&L    {cents(book.realized)} (quote currency)",
            f"unrealized P&L  {cents(book.unrealized)} (at the last fill price)",
            f"total P&L       {pnl}",
            f"retries         {self.retries}",
            "rejections      "
            + (
                ", ".join(
                    f"{reason} x{count}" for reason, count in sorted(self.rejections.items())
                )
                or "none"
            ),
        ]
        return "\n".join(lines)


def read_token(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    if args.token_file:
        return Path(args.token_file).read_text().strip()
    token = os.environ.get("ORDERGATE_TOKEN", "").strip()
    if not token:
        raise SystemExit("ma_cross: no token: set ORDERGATE_TOKEN (or pass --token-file FILE)")
    return token


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Moving-average cross on a synthetic series, through ordergate."
    )
    parser.add_argument(
        "--socket",
        default=os.environ.get("ORDERGATE_SOCKET") or default_socket(),
        help="gateway socket (default: $ORDERGATE_SOCKET, else the gateway's default path)",
    )
    parser.add_argument("--token-file", help="file holding the token (default: $ORDERGATE_TOKEN)")
    parser.add_argument(
        "--token",
        help="the token itself, written --token=TOKEN (a token may begin with '-'); prefer "
        "$ORDERGATE_TOKEN or --token-file, since other users can read command lines with ps",
    )
    parser.add_argument("--account", default="paper")
    parser.add_argument("--symbol", default="EURUSD")
    parser.add_argument(
        "--qty", type=Decimal, default=Decimal("10000"), help="position size in base units"
    )
    parser.add_argument("--fast", type=int, default=5, help="fast moving-average length in bars")
    parser.add_argument("--slow", type=int, default=20, help="slow moving-average length in bars")
    parser.add_argument("--bars", type=int, default=300, help="length of the synthetic series")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic series")
    parser.add_argument(
        "--start", type=Decimal, default=Decimal("1.08460"), help="first mid price"
    )
    parser.add_argument(
        "--step-ticks", type=int, default=3, help="largest random move per bar, in ticks"
    )
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between bars")
    parser.add_argument(
        "--no-flatten",
        dest="flatten",
        action="store_false",
        help="keep the final position instead of closing it",
    )
    args = parser.parse_args(argv)
    if not 0 < args.fast < args.slow:
        parser.error("need 0 < --fast < --slow")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    token = read_token(args)
    try:
        with Client(args.socket, timeout=5.0) as client:
            welcome = client.hello(token)
            print(f"connected to {args.socket} as {welcome.principal};", end=" ")
            print(f"trading {args.symbol} on {args.account}")
            strategy = Strategy(client, token, args)
            try:
                strategy.run(synthetic_prices(args.seed, args.start, args.bars, args.step_ticks))
            except KeyboardInterrupt:
                print("interrupted")
            finally:
                print(strategy.summary())
            client.bye()
    except GatewayError as error:
        print(f"ma_cross: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
