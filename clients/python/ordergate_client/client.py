"""A blocking client for the ordergate Unix-socket protocol.

The wire protocol is newline-delimited JSON (docs/protocol.md). This module
speaks it with the standard library only:

* every request carries an integer ``id``; replies are matched to requests by
  that id, so several requests can be sent before any reply is read
  (pipelining);
* execution reports (``{"type":"exec"}``) and position fills
  (``{"type":"position_fill"}``: a stop loss or take profit of one of this
  session's orders filled at the broker) may arrive between replies at any
  time; they are queued, never dropped, and handed out by
  :meth:`Client.next_event` / :meth:`Client.events`;
* after :meth:`Client.subscribe`, drop-copy events (:class:`DropCopyEvent`)
  and the notice that ends a subscription (:class:`SubscriptionEnded`) are
  queued with them;
* decimal values travel as JSON strings and are handed back as
  :class:`decimal.Decimal`; binary floats are refused with :class:`TypeError`.

A :class:`Client` is not thread-safe: use one per thread (the gateway gives
each connection its own session anyway).

The token passed to :meth:`Client.hello` is written to the socket and then
forgotten: the client never stores, logs, prints or puts it in an exception.
"""

from __future__ import annotations

import collections
import dataclasses
import decimal
import json
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, Generic, Literal, TypeVar

__all__ = [
    "CLOSING_ERROR_CODES",
    "Accepted",
    "Client",
    "ConnectionClosed",
    "DecimalInput",
    "DropCopyEvent",
    "ExecEvent",
    "GatewayError",
    "OpenOrder",
    "Position",
    "PositionFillEvent",
    "ProtocolError",
    "Pending",
    "RequestRejected",
    "Rejected",
    "SubscriptionEnded",
    "Timeout",
    "Welcome",
    "decimal_text",
]

#: Decimal arguments: exact values only. ``float`` is refused.
DecimalInput = decimal.Decimal | str | int

JsonObject = dict[str, Any]

_T = TypeVar("_T")

#: Error codes after which the gateway closes the connection.
CLOSING_ERROR_CODES: Final = frozenset(
    {"LINE_TOO_LONG", "TOO_MANY_ERRORS", "PEER_NOT_ALLOWED", "TOO_MANY_CONNECTIONS"}
)

_READ_CHUNK: Final = 64 * 1024
# Far above anything the gateway writes in one line; a guard against a
# runaway peer, not a protocol limit.
_MAX_REPLY_LINE: Final = 64 * 1024 * 1024


# ---------------------------------------------------------------- exceptions


class GatewayError(Exception):
    """Base class of every error this client raises."""


class ProtocolError(GatewayError):
    """The gateway answered ``{"type":"error"}``: the request was malformed,
    or (``RELOAD_REFUSED``) an admin operation could not be carried out.

    ``code`` is the gateway's stable error code (``INVALID_JSON``,
    ``UNKNOWN_FIELD``, ``LINE_TOO_LONG``, ``RELOAD_REFUSED``, ...) and
    ``message`` its fixed explanation; neither ever contains a secret.
    """

    def __init__(self, code: str, message: str, request_id: int | str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id


class RequestRejected(GatewayError):
    """A request other than ``submit``/``cancel``/``cancel_all`` was refused
    with a reason code (``UNAUTHENTICATED``, ``SESSION_EXPIRED``,
    ``PERMISSION_DENIED``, ``RATE_LIMITED``, ...).

    ``rejection`` holds the details, including ``retry_after_ms``.
    """

    def __init__(self, rejection: Rejected) -> None:
        super().__init__(
            f"{rejection.op or 'request'} rejected: {rejection.reason}: {rejection.message}"
        )
        self.rejection = rejection

    @property
    def reason(self) -> str:
        """The stable reason code, e.g. ``"UNAUTHENTICATED"``."""
        return self.rejection.reason


class ConnectionClosed(GatewayError):
    """The connection ended (by the gateway, or locally by :meth:`Client.close`).

    ``code`` is the error code the gateway sent just before closing, when it
    sent one (``LINE_TOO_LONG``, ``TOO_MANY_ERRORS``, ``PEER_NOT_ALLOWED``,
    ``TOO_MANY_CONNECTIONS``), else ``None``.
    """

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message if code is None else f"{message} ({code})")
        self.code = code


class Timeout(GatewayError):
    """No reply arrived within the timeout. The connection stays usable: a
    late reply is kept and can still be collected."""


# ------------------------------------------------------------------ results


@dataclasses.dataclass(frozen=True, slots=True)
class Welcome:
    """Reply to ``hello``: the session is open."""

    principal: str
    expires_in: int
    """Seconds until the session expires (then send ``hello`` again)."""
    id: int | str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Accepted:
    """A ``submit``, ``cancel`` or ``cancel_all`` the gateway accepted.

    For ``submit`` the outcome at the broker follows as :class:`ExecEvent`s.
    """

    op: str
    id: int | str | None = None
    cl_ord_id: str | None = None
    order_id: int | None = None
    """Gateway order id (``submit`` only)."""
    count: int | None = None
    """Orders being canceled (``cancel_all`` only)."""
    new_cl_ord_id: str | None = None
    """The id the order will have once replaced (``replace`` only); ``order_id``
    is then its new gateway order id."""

    @property
    def accepted(self) -> Literal[True]:
        """Always ``True``; lets callers write ``if reply.accepted``."""
        return True

    @property
    def reason(self) -> None:
        """Always ``None``: lets callers read ``reply.reason`` on either result."""
        return None

    @property
    def retry_after_ms(self) -> None:
        """Always ``None`` (see :attr:`Rejected.retry_after_ms`)."""
        return None


@dataclasses.dataclass(frozen=True, slots=True)
class Rejected:
    """A request refused with a stable reason code (docs/reason-codes.md)."""

    reason: str
    message: str
    id: int | str | None = None
    cl_ord_id: str | None = None
    retry_after_ms: int | None = None
    """With ``RATE_LIMITED``: how long to wait before the next attempt."""
    op: str | None = None
    """The op that was rejected (filled in by the client)."""

    @property
    def accepted(self) -> Literal[False]:
        """Always ``False``; lets callers write ``if reply.accepted``."""
        return False


@dataclasses.dataclass(frozen=True, slots=True)
class ExecEvent:
    """An execution report pushed by the gateway."""

    cl_ord_id: str
    status: str
    """``NEW``, ``PARTIALLY_FILLED``, ``FILLED``, ``CANCELED``, ``REJECTED``, ``EXPIRED``, or
    for an amend ``PENDING_REPLACE``, ``REPLACED`` (the order is known by ``cl_ord_id``
    from now on) or ``REPLACE_REJECTED`` (it works on unchanged)."""
    account: str
    symbol: str
    side: str
    last_qty: decimal.Decimal
    last_px: decimal.Decimal
    cum_qty: decimal.Decimal
    leaves_qty: decimal.Decimal
    avg_px: decimal.Decimal
    broker_order_id: str
    time_ns: int
    reason: str | None = None
    broker_reason: str | None = None
    orig_cl_ord_id: str | None = None
    """``PENDING_REPLACE`` and ``REPLACED``: the id the order had."""
    new_cl_ord_id: str | None = None
    """``REPLACE_REJECTED``: the id the refused amend asked for."""

    @property
    def is_terminal(self) -> bool:
        """True when no further report will come for this order."""
        return self.status in ("FILLED", "CANCELED", "REJECTED", "EXPIRED")


@dataclasses.dataclass(frozen=True, slots=True)
class PositionFillEvent:
    """A fill at the broker that belongs to no order of this session but to
    one it placed: its stop loss, take profit or trailing stop triggered.
    The gateway has already booked it into the position."""

    account: str
    symbol: str
    side: str
    qty: decimal.Decimal
    price: decimal.Decimal
    source: str
    """``STOP_LOSS``, ``TAKE_PROFIT``, ``TRAILING_STOP_LOSS`` or ``ACCOUNT``."""
    orig_cl_ord_id: str
    """The client order id of the order the protective order was attached to."""
    broker_order_id: str
    time_ns: int
    broker_reason: str | None = None

    @property
    def is_terminal(self) -> bool:
        """Always False: a position fill ends no order of the session."""
        return False


@dataclasses.dataclass(frozen=True, slots=True)
class DropCopyEvent:
    """One event of a drop-copy subscription (:meth:`Client.subscribe`).

    ``seq`` numbers the events of the subscription 1, 2, 3...: none is ever
    skipped silently (a subscription that cannot keep up ends with a
    :class:`SubscriptionEnded` instead)."""

    stream: str
    """``executions``, ``rejections`` or ``trading_state``."""
    seq: int
    principal: str | None
    """Whose order (executions, rejections); ``None`` for a trading state."""
    execution: ExecEvent | PositionFillEvent | None
    """The report, for the executions stream."""
    fields: JsonObject
    """The event as sent (e.g. ``reason``, ``scope``, ``state``, ``by``)."""

    @property
    def is_terminal(self) -> bool:
        """False: a drop-copy event ends no order of this session."""
        return False


@dataclasses.dataclass(frozen=True, slots=True)
class SubscriptionEnded:
    """The gateway ended this connection's drop-copy subscription:
    ``SUBSCRIPTION_DROPPED`` (the reader fell behind), ``DROP_COPY_LOST``
    (reports were lost before they could be sent) or ``SUBSCRIPTION_ENDED``
    (the session that subscribed ended). Reconcile with :meth:`Client.orders`
    and :meth:`Client.positions`, then subscribe again."""

    code: str
    message: str

    @property
    def is_terminal(self) -> bool:
        return False


Event = ExecEvent | PositionFillEvent | DropCopyEvent | SubscriptionEnded


@dataclasses.dataclass(frozen=True, slots=True)
class OpenOrder:
    """One entry of the ``orders`` reply."""

    cl_ord_id: str
    account: str
    symbol: str
    side: str
    type: str
    tif: str
    qty: decimal.Decimal
    leaves_qty: decimal.Decimal
    price: decimal.Decimal | None = None
    stop_price: decimal.Decimal | None = None
    replace_pending: bool = False
    """An amend of it is on its way to the broker."""


@dataclasses.dataclass(frozen=True, slots=True)
class Position:
    """One entry of the ``positions`` reply."""

    account: str
    symbol: str
    position: decimal.Decimal
    working_buy: decimal.Decimal
    working_sell: decimal.Decimal
    open_orders: int


@dataclasses.dataclass(frozen=True, slots=True)
class AccountFigures:
    """Account-wide figures of the ``positions`` reply, in the account's
    ``currency`` (only accounts with one are listed). A figure is ``None``
    while a quote it needs is not usable, a limit is ``None`` when not set;
    ``loss_switch`` is the state the daily loss limits set (``"ACTIVE"``:
    none)."""

    account: str
    currency: str
    gross_notional: decimal.Decimal | None
    net_notional: decimal.Decimal | None
    daily_pnl: decimal.Decimal | None
    max_gross_notional: decimal.Decimal | None
    max_net_notional: decimal.Decimal | None
    max_daily_loss: decimal.Decimal | None
    halt_daily_loss: decimal.Decimal | None
    loss_switch: str


# ---------------------------------------------------------------- decoding


def _decimal(value: Any, field: str) -> decimal.Decimal:
    if not isinstance(value, str):
        raise ProtocolError("BAD_REPLY", f"field '{field}' is not a decimal string")
    try:
        return decimal.Decimal(value)
    except decimal.InvalidOperation:
        raise ProtocolError("BAD_REPLY", f"field '{field}' is not a decimal") from None


def _optional_decimal(message: Mapping[str, Any], field: str) -> decimal.Decimal | None:
    return _decimal(message[field], field) if field in message else None


def _parse_exec(message: Mapping[str, Any]) -> ExecEvent:
    try:
        return ExecEvent(
            cl_ord_id=message["cl_ord_id"],
            status=message["status"],
            account=message.get("account", ""),
            symbol=message.get("symbol", ""),
            side=message.get("side", ""),
            last_qty=_decimal(message["last_qty"], "last_qty"),
            last_px=_decimal(message["last_px"], "last_px"),
            cum_qty=_decimal(message["cum_qty"], "cum_qty"),
            leaves_qty=_decimal(message["leaves_qty"], "leaves_qty"),
            avg_px=_decimal(message["avg_px"], "avg_px"),
            broker_order_id=message.get("broker_order_id", ""),
            time_ns=int(message.get("time_ns", 0)),
            reason=message.get("reason"),
            broker_reason=message.get("broker_reason"),
            orig_cl_ord_id=message.get("orig_cl_ord_id"),
            new_cl_ord_id=message.get("new_cl_ord_id"),
        )
    except KeyError as missing:
        raise ProtocolError("BAD_REPLY", f"exec report without field {missing}") from None


def _parse_position_fill(message: Mapping[str, Any]) -> PositionFillEvent:
    try:
        return PositionFillEvent(
            account=message.get("account", ""),
            symbol=message.get("symbol", ""),
            side=message.get("side", ""),
            qty=_decimal(message["qty"], "qty"),
            price=_decimal(message["price"], "price"),
            source=message.get("source", ""),
            orig_cl_ord_id=message.get("orig_cl_ord_id", ""),
            broker_order_id=message.get("broker_order_id", ""),
            time_ns=int(message.get("time_ns", 0)),
            broker_reason=message.get("broker_reason"),
        )
    except KeyError as missing:
        raise ProtocolError("BAD_REPLY", f"position fill without field {missing}") from None


def _parse_drop_copy(message: JsonObject) -> DropCopyEvent:
    try:
        stream = str(message["stream"])
        seq = int(message["seq"])
    except (KeyError, TypeError, ValueError):
        raise ProtocolError("BAD_REPLY", "drop-copy event without stream or seq") from None
    execution: ExecEvent | PositionFillEvent | None = None
    if stream == "executions":
        execution = (
            _parse_position_fill(message)
            if message.get("event") == "position_fill"
            else _parse_exec(message)
        )
    principal = message.get("principal")
    return DropCopyEvent(
        stream=stream,
        seq=seq,
        principal=str(principal) if principal is not None else None,
        execution=execution,
        fields=message,
    )


def _parse_subscribed(message: JsonObject) -> list[str]:
    _raise_if_error(message)
    _expect_type(message, "subscribe", "subscribed")
    return [str(stream) for stream in message.get("streams", [])]


def _rejection(message: Mapping[str, Any], op: str) -> Rejected:
    retry = message.get("retry_after_ms")
    return Rejected(
        reason=str(message.get("reason", "")),
        message=str(message.get("message", "")),
        id=message.get("id"),
        cl_ord_id=message.get("cl_ord_id"),
        retry_after_ms=int(retry) if retry is not None else None,
        op=op,
    )


def _raise_if_error(message: Mapping[str, Any]) -> None:
    if message.get("type") == "error":
        raise ProtocolError(
            str(message.get("code", "")), str(message.get("message", "")), message.get("id")
        )


def _expect_type(message: Mapping[str, Any], op: str, *types: str) -> None:
    _raise_if_error(message)
    kind = message.get("type")
    if kind == "rejected":
        raise RequestRejected(_rejection(message, op))
    if kind not in types:
        raise ProtocolError("BAD_REPLY", f"unexpected reply type {kind!r} to op '{op}'")


def _accepted_or_rejected(op: str) -> Callable[[JsonObject], Accepted | Rejected]:
    def parse(message: JsonObject) -> Accepted | Rejected:
        _raise_if_error(message)
        kind = message.get("type")
        if kind == "rejected":
            return _rejection(message, op)
        if kind != "accepted":
            raise ProtocolError("BAD_REPLY", f"unexpected reply type {kind!r} to op '{op}'")
        return Accepted(
            op=str(message.get("op", op)),
            id=message.get("id"),
            cl_ord_id=message.get("cl_ord_id"),
            order_id=message.get("order_id"),
            count=message.get("count"),
            new_cl_ord_id=message.get("new_cl_ord_id"),
        )

    return parse


def _parse_welcome(message: JsonObject) -> Welcome:
    _expect_type(message, "hello", "welcome")
    return Welcome(
        principal=str(message["principal"]),
        expires_in=int(message["expires_in"]),
        id=message.get("id"),
    )


def _parse_orders(message: JsonObject) -> list[OpenOrder]:
    _expect_type(message, "orders", "orders")
    return [
        OpenOrder(
            cl_ord_id=entry["cl_ord_id"],
            account=entry["account"],
            symbol=entry["symbol"],
            side=entry["side"],
            type=entry["type"],
            tif=entry["tif"],
            qty=_decimal(entry["qty"], "qty"),
            leaves_qty=_decimal(entry["leaves_qty"], "leaves_qty"),
            price=_optional_decimal(entry, "price"),
            stop_price=_optional_decimal(entry, "stop_price"),
            replace_pending=entry.get("replace_pending") is True,
        )
        for entry in message.get("orders", [])
    ]


def _parse_positions(message: JsonObject) -> list[Position]:
    _expect_type(message, "positions", "positions")
    return [
        Position(
            account=entry["account"],
            symbol=entry["symbol"],
            position=_decimal(entry["position"], "position"),
            working_buy=_decimal(entry["working_buy"], "working_buy"),
            working_sell=_decimal(entry["working_sell"], "working_sell"),
            open_orders=int(entry["open_orders"]),
        )
        for entry in message.get("positions", [])
    ]


def _parse_account_figures(message: JsonObject) -> list[AccountFigures]:
    _expect_type(message, "positions", "positions")

    def optional(entry: JsonObject, field: str) -> decimal.Decimal | None:
        return _decimal(entry[field], field) if field in entry else None

    return [
        AccountFigures(
            account=entry["account"],
            currency=entry["currency"],
            gross_notional=optional(entry, "gross_notional"),
            net_notional=optional(entry, "net_notional"),
            daily_pnl=optional(entry, "daily_pnl"),
            max_gross_notional=optional(entry, "max_gross_notional"),
            max_net_notional=optional(entry, "max_net_notional"),
            max_daily_loss=optional(entry, "max_daily_loss"),
            halt_daily_loss=optional(entry, "halt_daily_loss"),
            loss_switch=entry["loss_switch"],
        )
        for entry in message.get("accounts", [])
    ]


def _parse_type(op: str, kind: str) -> Callable[[JsonObject], None]:
    def parse(message: JsonObject) -> None:
        _expect_type(message, op, kind)

    return parse


def _raw(message: JsonObject) -> JsonObject:
    return message


# ---------------------------------------------------------------- encoding


def decimal_text(value: DecimalInput, field: str = "value") -> str:
    """Returns the wire text of an exact decimal.

    Accepts :class:`decimal.Decimal`, ``int`` and decimal strings; raises
    :class:`TypeError` for ``float`` (and ``bool``), since a binary float
    cannot carry a price exactly, and :class:`ValueError` for text that is
    not a finite decimal.
    """
    if isinstance(value, bool) or not isinstance(value, decimal.Decimal | str | int):
        raise TypeError(
            f"{field} must be a decimal.Decimal, int or decimal string, not {type(value).__name__}"
            " (binary floats are inexact; write Decimal('1.08463') or '1.08463')"
        )
    if isinstance(value, int):
        return str(value)
    try:
        number = decimal.Decimal(value) if isinstance(value, str) else value
    except decimal.InvalidOperation:
        raise ValueError(f"{field} is not a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"{field} must be finite")
    # Plain notation: "1E+4" would not be read as a decimal by the gateway.
    return format(number, "f")


# ---------------------------------------------------------------- client


class Pending(Generic[_T]):
    """A request that has been sent and whose reply has not been read yet.

    Returned by the ``begin_*`` methods for pipelining: send several requests
    first, then call :meth:`result` on each. Replies can be collected in any
    order.
    """

    __slots__ = ("_client", "_parse", "request_id", "op")

    def __init__(
        self, client: Client, request_id: int, op: str, parse: Callable[[JsonObject], _T]
    ) -> None:
        self._client = client
        self._parse = parse
        self.request_id = request_id
        self.op = op

    def result(self, timeout: float | None = None) -> _T:
        """Waits for the reply (``timeout`` seconds, default: the client's)
        and returns it decoded. Raises :class:`Timeout`,
        :class:`ConnectionClosed`, :class:`ProtocolError` or
        :class:`RequestRejected` as the op documents."""
        return self._parse(self._client.wait_reply(self.request_id, timeout))

    def __repr__(self) -> str:
        return f"Pending(op={self.op!r}, request_id={self.request_id})"


class Client:
    """A connection to an ordergate gateway over its Unix socket.

    ::

        with Client("/run/user/1000/ordergate.sock") as client:
            client.hello(os.environ["ORDERGATE_TOKEN"])
            reply = client.submit("paper", "EURUSD", "buy", "market", "10000", "ioc", "s1-0001")
            for event in client.events(timeout=1.0):
                print(event.status, event.last_qty, event.last_px)

    ``timeout`` (seconds, ``None`` for none) bounds the connect and every wait
    for a reply unless a call passes its own. Not thread-safe.
    """

    def __init__(self, path: str | os.PathLike[str], timeout: float | None = 5.0) -> None:
        self._path = os.fspath(path)
        self._timeout = timeout
        self._next_id = 1
        self._buffer = bytearray()
        self._events: collections.deque[Event] = collections.deque()
        self._replies: dict[int | str, JsonObject] = {}
        self._unmatched: collections.deque[JsonObject] = collections.deque()
        self._closing_code: str | None = None
        self._eof = False
        self._principal: str | None = None
        self._sock: socket.socket | None = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.settimeout(timeout)
            self._sock.connect(self._path)
        except OSError as error:
            self._sock.close()
            self._sock = None
            if isinstance(error, socket.timeout):
                raise Timeout(f"connecting to {self._path} timed out") from None
            raise ConnectionClosed(
                f"cannot connect to {self._path}: {error.strerror or error}"
            ) from None

    # ---- lifecycle

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._sock is None else "open"
        return f"Client(path={self._path!r}, principal={self._principal!r}, {state})"

    def close(self) -> None:
        """Closes the connection (the gateway then ends the session, and
        cancels its orders if the principal has ``cancel_on_disconnect``).
        Idempotent."""
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    @property
    def closed(self) -> bool:
        """True once the connection is closed locally or by the gateway."""
        return self._sock is None or self._eof

    @property
    def principal(self) -> str | None:
        """The principal of the open session, after :meth:`hello`."""
        return self._principal

    @property
    def closing_code(self) -> str | None:
        """The error code the gateway sent before closing the connection
        (``LINE_TOO_LONG``, ``TOO_MANY_ERRORS``, ``PEER_NOT_ALLOWED``,
        ``TOO_MANY_CONNECTIONS``), if it has sent one."""
        return self._closing_code

    def fileno(self) -> int:
        """The socket's file descriptor (for ``selectors``); -1 when closed."""
        return -1 if self._sock is None else self._sock.fileno()

    # ---- session

    def hello(self, token: str, timeout: float | None = None) -> Welcome:
        """Opens (or renews) the session with ``token``.

        Raises :class:`RequestRejected` with ``UNAUTHENTICATED`` for a wrong
        token, or ``RATE_LIMITED`` after too many failed attempts.
        """
        if not isinstance(token, str) or not token:
            raise TypeError("token must be a non-empty str")
        welcome = self._begin("hello", {"token": token}, _parse_welcome).result(timeout)
        self._principal = welcome.principal
        return welcome

    def ping(self, timeout: float | None = None) -> None:
        """Round trip to the gateway; returns on ``pong``."""
        self.begin_ping().result(timeout)

    def begin_ping(self) -> Pending[None]:
        """Sends ``ping`` without waiting (pipelining)."""
        return self._begin("ping", {}, _parse_type("ping", "pong"))

    def bye(self, timeout: float | None = None) -> None:
        """Ends the session politely; the gateway then closes the connection."""
        self._begin("bye", {}, _parse_type("bye", "bye")).result(timeout)
        self._principal = None
        self.close()

    # ---- orders

    def submit(
        self,
        account: str,
        symbol: str,
        side: str,
        type: str,  # noqa: A002 - the protocol's field name
        qty: DecimalInput,
        tif: str,
        cl_ord_id: str,
        price: DecimalInput | None = None,
        stop_price: DecimalInput | None = None,
        tag: str | None = None,
        stop_loss: DecimalInput | None = None,
        take_profit: DecimalInput | None = None,
        expire_time_ns: int | None = None,
        timeout: float | None = None,
    ) -> Accepted | Rejected:
        """Submits an order and returns the gateway's verdict.

        ``side`` is ``buy``/``sell``; ``type`` ``market``/``limit``/``stop``;
        ``tif`` ``gtc``/``ioc``/``fok``/``day``/``gtd`` (``gtd`` needs
        ``expire_time_ns``). Decimal fields take :class:`decimal.Decimal`,
        ``int`` or a decimal string; a ``float`` raises :class:`TypeError`
        before anything is sent.

        A rejection (``RATE_LIMITED`` with ``retry_after_ms``,
        ``TRADING_HALTED``, ...) is returned as :class:`Rejected`, not raised.
        Execution reports follow an :class:`Accepted` via :meth:`next_event`.
        """
        return self.begin_submit(
            account,
            symbol,
            side,
            type,
            qty,
            tif,
            cl_ord_id,
            price=price,
            stop_price=stop_price,
            tag=tag,
            stop_loss=stop_loss,
            take_profit=take_profit,
            expire_time_ns=expire_time_ns,
        ).result(timeout)

    def begin_submit(
        self,
        account: str,
        symbol: str,
        side: str,
        type: str,  # noqa: A002 - the protocol's field name
        qty: DecimalInput,
        tif: str,
        cl_ord_id: str,
        price: DecimalInput | None = None,
        stop_price: DecimalInput | None = None,
        tag: str | None = None,
        stop_loss: DecimalInput | None = None,
        take_profit: DecimalInput | None = None,
        expire_time_ns: int | None = None,
    ) -> Pending[Accepted | Rejected]:
        """Sends a ``submit`` without waiting for its reply (pipelining); see
        :meth:`submit` for the arguments."""
        fields = _submit_fields(
            account, symbol, side, type, qty, tif, cl_ord_id, price, stop_price, tag, stop_loss,
            take_profit, expire_time_ns,
        )
        return self._begin("submit", fields, _accepted_or_rejected("submit"))

    def cancel(self, cl_ord_id: str, timeout: float | None = None) -> Accepted | Rejected:
        """Requests the cancel of an open order (``UNKNOWN_ORDER`` if there is
        none); the ``CANCELED`` execution report confirms it."""
        return self.begin_cancel(cl_ord_id).result(timeout)

    def begin_cancel(self, cl_ord_id: str) -> Pending[Accepted | Rejected]:
        """Sends a ``cancel`` without waiting (pipelining)."""
        return self._begin(
            "cancel", {"cl_ord_id": _text(cl_ord_id, "cl_ord_id")}, _accepted_or_rejected("cancel")
        )

    def replace(
        self,
        cl_ord_id: str,
        new_cl_ord_id: str,
        qty: DecimalInput | None = None,
        price: DecimalInput | None = None,
        stop_price: DecimalInput | None = None,
        timeout: float | None = None,
    ) -> Accepted | Rejected:
        """Amends an open order: a new total ``qty``, ``price`` or ``stop_price``
        (at least one) under ``new_cl_ord_id``. Accepted means the amend is on its
        way: ``PENDING_REPLACE`` follows, then ``REPLACED`` (the order is known by
        ``new_cl_ord_id`` from then on) or ``REPLACE_REJECTED`` (it works on
        unchanged). Refused: ``ORDER_PENDING`` while a cancel or another amend of
        it is on its way, ``REPLACE_NOT_SUPPORTED`` for a broker without amends,
        ``INVALID_REPLACE``, and the guards of a new order."""
        return self.begin_replace(cl_ord_id, new_cl_ord_id, qty, price, stop_price).result(timeout)

    def begin_replace(
        self,
        cl_ord_id: str,
        new_cl_ord_id: str,
        qty: DecimalInput | None = None,
        price: DecimalInput | None = None,
        stop_price: DecimalInput | None = None,
    ) -> Pending[Accepted | Rejected]:
        """Sends a ``replace`` without waiting (pipelining)."""
        return self._begin(
            "replace", _replace_fields(cl_ord_id, new_cl_ord_id, qty, price, stop_price), _accepted_or_rejected("replace")
        )

    def cancel_all(
        self, account: str | None = None, symbol: str | None = None, timeout: float | None = None
    ) -> Accepted | Rejected:
        """Cancels this principal's open orders, optionally only those of one
        account and/or symbol. ``Accepted.count`` says how many."""
        return self.begin_cancel_all(account, symbol).result(timeout)

    def begin_cancel_all(
        self, account: str | None = None, symbol: str | None = None
    ) -> Pending[Accepted | Rejected]:
        """Sends a ``cancel_all`` without waiting (pipelining)."""
        return self._begin("cancel_all", _scope_fields(account, symbol), _accepted_or_rejected("cancel_all"))

    def orders(self, timeout: float | None = None) -> list[OpenOrder]:
        """Open orders of this principal (needs ``read``)."""
        return self._begin("orders", {}, _parse_orders).result(timeout)

    def positions(self, timeout: float | None = None) -> list[Position]:
        """Positions and working quantities per account and symbol (needs ``read``)."""
        return self._begin("positions", {}, _parse_positions).result(timeout)

    def account_figures(self, timeout: float | None = None) -> list[AccountFigures]:
        """Account-wide notional, the trading day's P&L and the account limits,
        for the accounts with a currency this principal may use (needs
        ``read``; the ``positions`` op, so the same read budget)."""
        return self._begin("positions", {}, _parse_account_figures).result(timeout)

    def subscribe(
        self,
        streams: tuple[str, ...] = ("executions", "rejections", "trading_state"),
        timeout: float | None = None,
    ) -> list[str]:
        """Subscribes this connection to the drop copy: each event of
        ``streams`` (``executions``, ``rejections``, ``trading_state``) of
        the accounts this principal may use (``read``) or of every account
        (``monitor``) arrives as a :class:`DropCopyEvent` through
        :meth:`next_event` / :meth:`events`. Returns the streams subscribed;
        a second call replaces them."""
        return self._begin("subscribe", {"streams": _stream_names(streams)}, _parse_subscribed).result(
            timeout
        )

    # ---- admin (principals with the `admin` permission)

    def halt(self, scope: str, cancel_orders: bool = False, timeout: float | None = None) -> None:
        """Refuses new orders in ``scope`` (``global``, ``account:NAME``,
        ``principal:NAME``) with ``TRADING_HALTED``; optionally cancels the
        open orders there too."""
        self._trading_state("halt", scope, cancel_orders, timeout)

    def reduce(
        self, scope: str, cancel_orders: bool = False, timeout: float | None = None
    ) -> None:
        """Admits only position-reducing orders in ``scope`` (``REDUCE_ONLY``)."""
        self._trading_state("reduce", scope, cancel_orders, timeout)

    def resume(self, scope: str, timeout: float | None = None) -> None:
        """Returns ``scope`` to normal trading."""
        self._trading_state("resume", scope, False, timeout)

    def disable_principal(self, principal: str, timeout: float | None = None) -> None:
        """Refuses the principal's orders and ends its sessions."""
        self._admin("disable_principal", {"principal": _text(principal, "principal")}, timeout)

    def enable_principal(self, principal: str, timeout: float | None = None) -> None:
        """Lets a disabled principal trade again (it must ``hello`` again)."""
        self._admin("enable_principal", {"principal": _text(principal, "principal")}, timeout)

    def revoke_sessions(self, principal: str, timeout: float | None = None) -> None:
        """Ends every session of the principal; they must ``hello`` again."""
        self._admin("revoke_sessions", {"principal": _text(principal, "principal")}, timeout)

    def reload(self, timeout: float | None = None) -> None:
        """Re-reads the gateway's configuration file, like SIGHUP. A refused
        file raises :class:`ProtocolError` with code ``RELOAD_REFUSED`` and
        the running configuration stays."""
        self._admin("reload", {}, timeout)

    def _trading_state(
        self, op: str, scope: str, cancel_orders: bool, timeout: float | None
    ) -> None:
        fields: JsonObject = {"scope": _text(scope, "scope")}
        if cancel_orders:
            fields["cancel_orders"] = True
        self._admin(op, fields, timeout)

    def _admin(self, op: str, fields: JsonObject, timeout: float | None) -> None:
        self._begin(op, fields, _parse_type(op, "ok")).result(timeout)

    # ---- execution reports

    def next_event(self, timeout: float | None = None) -> Event | None:
        """Returns the next execution report, reading from the socket if none
        is queued. Waits at most ``timeout`` seconds (``None``: the client's
        timeout; ``0``: only what is already here) and returns ``None`` if
        none came. Replies read meanwhile are kept for their requests.
        Raises :class:`ConnectionClosed` once the connection has ended and
        no report is left."""
        if self._events:
            return self._events.popleft()
        deadline = self._deadline(timeout)
        try:
            while not self._events:
                self._read_one(deadline)
        except Timeout:
            return None
        return self._events.popleft()

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Yields execution reports as they arrive, until none arrives for
        ``timeout`` seconds (``None``: until the connection closes)."""
        while True:
            try:
                event = self.next_event(timeout if timeout is not None else _FOREVER)
            except ConnectionClosed:
                return
            if event is None:
                return
            yield event

    def pending_events(self) -> list[Event]:
        """Takes every execution report already queued, without reading."""
        events = list(self._events)
        self._events.clear()
        return events

    # ---- low level (tools and tests)

    def request(self, op: str, timeout: float | None = None, **fields: Any) -> JsonObject:
        """Sends any op with the given fields and returns the raw reply object
        (no exception for ``rejected``/``error`` replies). Decimal fields must
        already be strings."""
        return self.begin_request(op, **fields).result(timeout)

    def begin_request(self, op: str, **fields: Any) -> Pending[JsonObject]:
        """Like :meth:`request`, without waiting for the reply (pipelining)."""
        return self._begin(op, dict(fields), _raw)

    def send_raw(self, data: bytes) -> None:
        """Writes bytes to the socket as they are (tests of malformed input).
        Replies without an id are read with :meth:`next_unmatched`."""
        self._send(data)

    def next_unmatched(self, timeout: float | None = None) -> JsonObject:
        """Returns the next reply that carries no request id (errors for
        lines whose id could not be read, and the error the gateway sends
        before closing a connection)."""
        deadline = self._deadline(timeout)
        while not self._unmatched:
            self._read_one(deadline)
        return self._unmatched.popleft()

    def wait_reply(self, request_id: int | str, timeout: float | None = None) -> JsonObject:
        """Returns the raw reply to ``request_id``, queueing execution reports
        and other replies that arrive first."""
        deadline = self._deadline(timeout)
        while request_id not in self._replies:
            self._read_one(deadline, waiting_for=request_id)
        return self._replies.pop(request_id)

    # ---- internals

    def _begin(
        self, op: str, fields: JsonObject, parse: Callable[[JsonObject], _T]
    ) -> Pending[_T]:
        request_id = self._next_id
        self._next_id += 1
        message = {"op": op, "id": request_id, **fields}
        line = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        self._send(line)
        return Pending(self, request_id, op, parse)

    def _send(self, data: bytes) -> None:
        sock = self._require_open()
        try:
            sock.sendall(data)
        except socket.timeout:
            raise Timeout("sending to the gateway timed out (it is not reading)") from None
        except OSError as error:
            # The gateway may have said why before closing: pick that up.
            self._drain_nowait()
            self._eof = True
            raise ConnectionClosed(
                f"connection lost while sending: {error.strerror or type(error).__name__}",
                self._closing_code,
            ) from None

    def _drain_nowait(self) -> None:
        """Routes whatever complete lines can be read without blocking."""
        sock = self._sock
        if sock is None:
            return
        try:
            sock.settimeout(0)
            while True:
                chunk = sock.recv(_READ_CHUNK)
                if not chunk:
                    break
                self._buffer += chunk
        except OSError:
            pass
        while (newline := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:newline])
            del self._buffer[: newline + 1]
            try:
                self._route(line)
            except ProtocolError:
                pass

    def _require_open(self) -> socket.socket:
        if self._sock is None:
            raise ConnectionClosed("the client is closed")
        return self._sock

    def _deadline(self, timeout: float | None) -> float | None:
        if timeout is None:
            timeout = self._timeout
        if timeout is None or timeout == _FOREVER:
            return None
        return time.monotonic() + timeout

    def _read_one(self, deadline: float | None, waiting_for: int | str | None = None) -> None:
        """Reads and routes one message, blocking until ``deadline``."""
        newline = self._buffer.find(b"\n")
        while newline < 0:
            self._fill(deadline, waiting_for)
            newline = self._buffer.find(b"\n")
        line = bytes(self._buffer[:newline])
        del self._buffer[: newline + 1]
        self._route(line)

    def _fill(self, deadline: float | None, waiting_for: int | str | None) -> None:
        sock = self._require_open()
        if self._eof:
            raise ConnectionClosed("the gateway closed the connection", self._closing_code)
        # Past the deadline, still take what is already here (timeout 0 polls).
        sock.settimeout(None if deadline is None else max(0.0, deadline - time.monotonic()))
        try:
            chunk = sock.recv(_READ_CHUNK)
        except (socket.timeout, BlockingIOError):
            what = (
                f"the reply to request {waiting_for}" if waiting_for is not None else "a message"
            )
            raise Timeout(f"timed out waiting for {what}") from None
        except OSError:
            chunk = b""  # reset by the peer: the same as an end of stream here
        if not chunk:
            self._eof = True
            raise ConnectionClosed("the gateway closed the connection", self._closing_code)
        self._buffer += chunk
        if len(self._buffer) > _MAX_REPLY_LINE and b"\n" not in self._buffer:
            raise ProtocolError("BAD_REPLY", "reply line too long")

    def _route(self, line: bytes) -> None:
        message = _decode_line(line)
        event = _pushed_event(message)
        if event is not None:
            self._events.append(event)
            return
        request_id = message.get("id")
        if request_id is not None:
            self._replies[request_id] = message
            return
        if message.get("type") == "error" and message.get("code") in CLOSING_ERROR_CODES:
            self._closing_code = str(message["code"])
        self._unmatched.append(message)


def _replace_fields(
    cl_ord_id: str,
    new_cl_ord_id: str,
    qty: DecimalInput | None,
    price: DecimalInput | None,
    stop_price: DecimalInput | None,
) -> JsonObject:
    """The fields of a ``replace``, checked and encoded (shared by both clients)."""
    fields: JsonObject = {
        "cl_ord_id": _text(cl_ord_id, "cl_ord_id"),
        "new_cl_ord_id": _text(new_cl_ord_id, "new_cl_ord_id"),
    }
    for name, value in (("qty", qty), ("price", price), ("stop_price", stop_price)):
        if value is not None:
            fields[name] = decimal_text(value, name)
    if len(fields) == 2:
        raise ValueError("replace needs at least one of qty, price and stop_price")
    return fields


def _submit_fields(
    account: str,
    symbol: str,
    side: str,
    type: str,  # noqa: A002 - the protocol's field name
    qty: DecimalInput,
    tif: str,
    cl_ord_id: str,
    price: DecimalInput | None,
    stop_price: DecimalInput | None,
    tag: str | None,
    stop_loss: DecimalInput | None,
    take_profit: DecimalInput | None,
    expire_time_ns: int | None,
) -> JsonObject:
    """The fields of a ``submit``, checked and encoded (shared by both clients)."""
    fields: JsonObject = {
        "account": _text(account, "account"),
        "symbol": _text(symbol, "symbol"),
        "side": _text(side, "side"),
        "type": _text(type, "type"),
        "qty": decimal_text(qty, "qty"),
        "tif": _text(tif, "tif"),
        "cl_ord_id": _text(cl_ord_id, "cl_ord_id"),
    }
    for name, value in (
        ("price", price),
        ("stop_price", stop_price),
        ("stop_loss", stop_loss),
        ("take_profit", take_profit),
    ):
        if value is not None:
            fields[name] = decimal_text(value, name)
    if tag is not None:
        fields["tag"] = _text(tag, "tag")
    if expire_time_ns is not None:
        if isinstance(expire_time_ns, bool) or not isinstance(expire_time_ns, int):
            raise TypeError("expire_time_ns must be an int (UTC nanoseconds)")
        fields["expire_time_ns"] = expire_time_ns
    return fields


def _scope_fields(account: str | None, symbol: str | None) -> JsonObject:
    """The optional filters of a ``cancel_all``."""
    fields: JsonObject = {}
    if account is not None:
        fields["account"] = _text(account, "account")
    if symbol is not None:
        fields["symbol"] = _text(symbol, "symbol")
    return fields


def _stream_names(streams: tuple[str, ...]) -> list[str]:
    if isinstance(streams, str) or not streams:
        raise TypeError("streams must be a non-empty tuple of stream names")
    return [_text(stream, "streams") for stream in streams]


def _pushed_event(message: JsonObject) -> Event | None:
    """The event a pushed line carries (an execution report, a drop-copy
    event or notice), or None for a reply."""
    kind = message.get("type")
    if kind == "exec":
        return _parse_exec(message)
    if kind == "position_fill":
        return _parse_position_fill(message)
    if kind == "event":
        return _parse_drop_copy(message)
    if kind == "notice":
        return SubscriptionEnded(str(message.get("code", "")), str(message.get("message", "")))
    return None


def _decode_line(line: bytes) -> JsonObject:
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ProtocolError("BAD_REPLY", "the gateway sent a line that is not JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError("BAD_REPLY", "the gateway sent a line that is not a JSON object")
    return message


# A sentinel timeout meaning "wait without limit" (``None`` means "the
# client's default").
_FOREVER: Final = float("inf")


def _text(value: str, field: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str, not {type(value).__name__}")
    return value
