"""An asyncio client for the ordergate Unix-socket protocol.

The same operations as :class:`ordergate_client.Client`, as coroutines, for
strategies that run on an event loop::

    async with await AsyncClient.connect(socket_path) as client:
        await client.hello(token)
        replies = await asyncio.gather(*(client.submit(...) for ...))  # pipelined
        async for event in client.events():
            ...

One task reads the connection: replies resolve the request that is awaiting
them (matched by ``id``, so any number of requests may be in flight), and
pushed lines (execution reports, drop-copy events and notices) are queued,
never dropped, for :meth:`AsyncClient.next_event` and
:meth:`AsyncClient.events`. Standard library only. The token passed to
:meth:`AsyncClient.hello` is written to the socket and then forgotten.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from ordergate_client.client import (
    _MAX_REPLY_LINE,
    CLOSING_ERROR_CODES,
    Accepted,
    AccountFigures,
    ConnectionClosed,
    DecimalInput,
    Event,
    JsonObject,
    OpenOrder,
    Position,
    ProtocolError,
    Rejected,
    Timeout,
    Welcome,
    _accepted_or_rejected,
    _decode_line,
    _parse_account_figures,
    _parse_orders,
    _parse_positions,
    _parse_subscribed,
    _parse_type,
    _parse_welcome,
    _pushed_event,
    _raw,
    _replace_fields,
    _scope_fields,
    _stream_names,
    _submit_fields,
    _text,
)

__all__ = ["AsyncClient"]

_T = TypeVar("_T")


class AsyncClient:
    """A connection to an ordergate gateway, for asyncio code.

    Create it with :meth:`connect`. ``timeout`` (seconds, ``None`` for none)
    bounds every wait for a reply unless a call passes its own. Use it from
    one event loop.
    """

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float | None
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._timeout = timeout
        self._next_id = 1
        self._waiting: dict[int, tuple[asyncio.Future[JsonObject], str]] = {}
        self._events: asyncio.Queue[Event | None] = asyncio.Queue()
        self._unmatched: asyncio.Queue[JsonObject] = asyncio.Queue()
        self._closed_error: ConnectionClosed | None = None
        self._closing_code: str | None = None
        self._principal: str | None = None
        self._read_task = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def connect(cls, path: str | os.PathLike[str], timeout: float | None = 5.0) -> AsyncClient:
        """Connects to the gateway's socket at ``path``."""
        target = os.fspath(path)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(target, limit=_MAX_REPLY_LINE), timeout
            )
        except asyncio.TimeoutError:
            raise Timeout(f"connecting to {target} timed out") from None
        except OSError as error:
            raise ConnectionClosed(f"cannot connect to {target}: {error.strerror or error}") from None
        return cls(reader, writer, timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<AsyncClient {state} principal={self._principal!r}>"

    @property
    def closed(self) -> bool:
        return self._closed_error is not None or self._writer.is_closing()

    @property
    def principal(self) -> str | None:
        """The principal of the last successful ``hello``."""
        return self._principal

    @property
    def closing_code(self) -> str | None:
        """The error code the gateway sent before closing, if any."""
        return self._closing_code

    async def close(self) -> None:
        """Closes the connection; requests still waiting raise :class:`ConnectionClosed`."""
        self._read_task.cancel()
        try:
            await self._read_task
        except asyncio.CancelledError:
            pass
        self._end(ConnectionClosed("the client is closed", self._closing_code))
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except OSError:
            pass

    # ---- session

    async def hello(self, token: str, timeout: float | None = None) -> Welcome:
        """Opens (or renews) the session; a wrong token raises
        :class:`~ordergate_client.RequestRejected` with ``UNAUTHENTICATED``."""
        if not isinstance(token, str) or not token:
            raise TypeError("token must be a non-empty str")
        welcome = await self._call("hello", {"token": token}, _parse_welcome, timeout)
        self._principal = welcome.principal
        return welcome

    async def ping(self, timeout: float | None = None) -> None:
        await self._call("ping", {}, _parse_type("ping", "pong"), timeout)

    async def bye(self, timeout: float | None = None) -> None:
        """Ends the session; the gateway closes the connection."""
        await self._call("bye", {}, _parse_type("bye", "bye"), timeout)
        self._principal = None
        await self.close()

    # ---- orders

    async def submit(
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
        """Submits an order; see :meth:`ordergate_client.Client.submit`. A
        rejection is returned as :class:`Rejected`, not raised."""
        fields = _submit_fields(
            account, symbol, side, type, qty, tif, cl_ord_id, price, stop_price, tag, stop_loss,
            take_profit, expire_time_ns,
        )
        return await self._call("submit", fields, _accepted_or_rejected("submit"), timeout)

    async def cancel(self, cl_ord_id: str, timeout: float | None = None) -> Accepted | Rejected:
        return await self._call(
            "cancel", {"cl_ord_id": _text(cl_ord_id, "cl_ord_id")}, _accepted_or_rejected("cancel"), timeout
        )

    async def replace(
        self,
        cl_ord_id: str,
        new_cl_ord_id: str,
        qty: DecimalInput | None = None,
        price: DecimalInput | None = None,
        stop_price: DecimalInput | None = None,
        timeout: float | None = None,
    ) -> Accepted | Rejected:
        """Amends an open order; see :meth:`ordergate_client.Client.replace`."""
        return await self._call(
            "replace",
            _replace_fields(cl_ord_id, new_cl_ord_id, qty, price, stop_price),
            _accepted_or_rejected("replace"),
            timeout,
        )

    async def cancel_all(
        self, account: str | None = None, symbol: str | None = None, timeout: float | None = None
    ) -> Accepted | Rejected:
        return await self._call(
            "cancel_all", _scope_fields(account, symbol), _accepted_or_rejected("cancel_all"), timeout
        )

    async def orders(self, timeout: float | None = None) -> list[OpenOrder]:
        return await self._call("orders", {}, _parse_orders, timeout)

    async def positions(self, timeout: float | None = None) -> list[Position]:
        return await self._call("positions", {}, _parse_positions, timeout)

    async def account_figures(self, timeout: float | None = None) -> list[AccountFigures]:
        return await self._call("positions", {}, _parse_account_figures, timeout)

    async def subscribe(
        self,
        streams: tuple[str, ...] = ("executions", "rejections", "trading_state"),
        timeout: float | None = None,
    ) -> list[str]:
        """The drop copy; its events arrive through :meth:`events`."""
        return await self._call("subscribe", {"streams": _stream_names(streams)}, _parse_subscribed, timeout)

    # ---- admin

    async def halt(self, scope: str, cancel_orders: bool = False, timeout: float | None = None) -> None:
        await self._trading_state("halt", scope, cancel_orders, timeout)

    async def reduce(self, scope: str, cancel_orders: bool = False, timeout: float | None = None) -> None:
        await self._trading_state("reduce", scope, cancel_orders, timeout)

    async def resume(self, scope: str, timeout: float | None = None) -> None:
        await self._trading_state("resume", scope, False, timeout)

    async def disable_principal(self, principal: str, timeout: float | None = None) -> None:
        await self._admin("disable_principal", {"principal": _text(principal, "principal")}, timeout)

    async def enable_principal(self, principal: str, timeout: float | None = None) -> None:
        await self._admin("enable_principal", {"principal": _text(principal, "principal")}, timeout)

    async def revoke_sessions(self, principal: str, timeout: float | None = None) -> None:
        await self._admin("revoke_sessions", {"principal": _text(principal, "principal")}, timeout)

    async def reload(self, timeout: float | None = None) -> None:
        await self._admin("reload", {}, timeout)

    async def _trading_state(self, op: str, scope: str, cancel_orders: bool, timeout: float | None) -> None:
        fields: JsonObject = {"scope": _text(scope, "scope")}
        if cancel_orders:
            fields["cancel_orders"] = True
        await self._admin(op, fields, timeout)

    async def _admin(self, op: str, fields: JsonObject, timeout: float | None) -> None:
        await self._call(op, fields, _parse_type(op, "ok"), timeout)

    # ---- pushed events

    async def next_event(self, timeout: float | None = None) -> Event | None:
        """The next execution report, drop-copy event or notice; ``None`` if
        none came within ``timeout`` seconds (``None``: the client's
        timeout). Raises :class:`ConnectionClosed` once the connection has
        ended and nothing is left."""
        if self._events.empty() and self._closed_error is not None:
            raise self._closed_error
        try:
            event = await asyncio.wait_for(self._events.get(), self._wait(timeout))
        except asyncio.TimeoutError:
            return None
        if event is None:  # the end of the connection
            self._events.put_nowait(None)
            assert self._closed_error is not None
            raise self._closed_error
        return event

    async def events(self, timeout: float | None = None) -> AsyncIterator[Event]:
        """Yields events as they arrive, until none came for ``timeout``
        seconds (``None``: until the connection closes)."""
        while True:
            try:
                event = await self.next_event(timeout if timeout is not None else float("inf"))
            except ConnectionClosed:
                return
            if event is None:
                return
            yield event

    # ---- low level

    async def request(self, op: str, timeout: float | None = None, **fields: Any) -> JsonObject:
        """Any op with the given fields; the raw reply (no exception for
        ``rejected``/``error``)."""
        return await self._call(op, dict(fields), _raw, timeout)

    async def send_raw(self, data: bytes) -> None:
        """Writes bytes as they are (tests of malformed input)."""
        await self._send(data)

    async def next_unmatched(self, timeout: float | None = None) -> JsonObject:
        """The next reply that carries no request id."""
        try:
            return await asyncio.wait_for(self._unmatched.get(), self._wait(timeout))
        except asyncio.TimeoutError:
            raise Timeout("timed out waiting for a message") from None

    # ---- internals

    def _wait(self, timeout: float | None) -> float | None:
        if timeout is None:
            timeout = self._timeout
        return None if timeout is None or timeout == float("inf") else timeout

    async def _call(
        self, op: str, fields: JsonObject, parse: Callable[[JsonObject], _T], timeout: float | None
    ) -> _T:
        if self._closed_error is not None:
            raise self._closed_error
        request_id = self._next_id
        self._next_id += 1
        future: asyncio.Future[JsonObject] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = (future, op)
        line = json.dumps({"op": op, "id": request_id, **fields}, separators=(",", ":"), ensure_ascii=False)
        try:
            await self._send(line.encode() + b"\n")
            message = await asyncio.wait_for(future, self._wait(timeout))
        except asyncio.TimeoutError:
            raise Timeout(f"timed out waiting for the reply to request {request_id}") from None
        finally:
            self._waiting.pop(request_id, None)
        return parse(message)

    async def _send(self, data: bytes) -> None:
        if self._closed_error is not None:
            raise self._closed_error
        try:
            self._writer.write(data)
            await self._writer.drain()
        except OSError as error:
            raise ConnectionClosed(
                f"connection lost while sending: {error.strerror or type(error).__name__}",
                self._closing_code,
            ) from None

    async def _read_loop(self) -> None:
        why = "the gateway closed the connection"
        try:
            while True:
                try:
                    line = await self._reader.readline()
                except ValueError:  # longer than the reader's limit
                    why = "the gateway sent a line too long to read"
                    return
                except OSError:
                    return
                if not line.endswith(b"\n"):
                    return  # the end, or a torn last line: the connection ended mid-write
                try:
                    self._route(_decode_line(line[:-1]))
                except ProtocolError as bad:
                    why = f"the gateway sent an unreadable line: {bad.message}"
                    return
        finally:
            self._end(ConnectionClosed(why, self._closing_code))

    def _route(self, message: JsonObject) -> None:
        event = _pushed_event(message)
        if event is not None:
            self._events.put_nowait(event)
            return
        request_id = message.get("id")
        waiting = self._waiting.get(request_id) if isinstance(request_id, int) else None
        if waiting is not None:
            future, _ = waiting
            if not future.done():
                future.set_result(message)
            return
        if message.get("type") == "error" and message.get("code") in CLOSING_ERROR_CODES:
            self._closing_code = str(message["code"])
        self._unmatched.put_nowait(message)

    def _end(self, error: ConnectionClosed) -> None:
        if self._closed_error is not None:
            return
        self._closed_error = error
        for future, _ in self._waiting.values():
            if not future.done():
                future.set_exception(error)
        self._events.put_nowait(None)
