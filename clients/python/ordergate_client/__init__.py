"""Python client for the ordergate gateway process (docs/python-client.md).

Standard library only. Connect to the gateway's Unix socket, authenticate
with a token, submit and cancel orders, read execution reports (blocking
:class:`Client`, or :class:`AsyncClient` for asyncio code)::

    from decimal import Decimal
    from ordergate_client import Client

    with Client(socket_path) as client:
        client.hello(token)
        reply = client.submit("paper", "EURUSD", "buy", "limit", "10000", "gtc", "s1-0001",
                              price=Decimal("1.08450"))
        if not reply.accepted:
            print(reply.reason, reply.retry_after_ms)
"""

from ordergate_client.client import (
    CLOSING_ERROR_CODES,
    Accepted,
    AccountFigures,
    Client,
    ConnectionClosed,
    DecimalInput,
    DropCopyEvent,
    ExecEvent,
    GatewayError,
    OpenOrder,
    Pending,
    Position,
    PositionFillEvent,
    ProtocolError,
    Rejected,
    RequestRejected,
    SubscriptionEnded,
    Timeout,
    Welcome,
    decimal_text,
)

from ordergate_client.aio import AsyncClient

__all__ = [
    "CLOSING_ERROR_CODES",
    "AccountFigures",
    "Accepted",
    "AsyncClient",
    "Client",
    "ConnectionClosed",
    "DecimalInput",
    "DropCopyEvent",
    "ExecEvent",
    "GatewayError",
    "OpenOrder",
    "Pending",
    "Position",
    "PositionFillEvent",
    "ProtocolError",
    "Rejected",
    "RequestRejected",
    "SubscriptionEnded",
    "Timeout",
    "Welcome",
    "decimal_text",
]
