"""The asyncio client (ordergate_client.AsyncClient) against a real gateway process."""

from __future__ import annotations

import asyncio
import unittest

from gateway_harness import GatewayProcess, GatewayTestCase, Principal
from ordergate_client import (
    AsyncClient,
    ConnectionClosed,
    DropCopyEvent,
    ExecEvent,
    RequestRejected,
)


class AsyncClientStories(GatewayTestCase, unittest.IsolatedAsyncioTestCase):
    def setUp(self) -> None:
        self.gateway: GatewayProcess = self.start_gateway(
            [
                Principal("trader", rate_limits=("100000/1s",)),
                Principal("risk", permissions=("monitor",)),
                Principal("ops", permissions=("admin",)),
            ]
        )

    async def client(self, principal: str) -> AsyncClient:
        client = await AsyncClient.connect(self.gateway.socket_path)
        self.addAsyncCleanup(client.close)
        await client.hello(self.gateway.token(principal))
        return client

    async def test_pipelined_submits_are_each_answered_and_their_reports_stream_in(self) -> None:
        trader = await self.client("trader")
        replies = await asyncio.gather(
            *(trader.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", f"as-{i}") for i in range(50))
        )
        # Each reply went to its own request, whatever order they came back in.
        self.assertEqual([r.cl_ord_id for r in replies], [f"as-{i}" for i in range(50)])
        self.assertTrue(all(r.accepted for r in replies))
        filled: set[str] = set()
        async for event in trader.events(timeout=5.0):
            self.assertIsInstance(event, ExecEvent)
            assert isinstance(event, ExecEvent)
            if event.status == "FILLED":
                filled.add(event.cl_ord_id)
            if len(filled) == 50:
                break
        self.assertEqual(filled, {f"as-{i}" for i in range(50)})
        self.assertEqual(await trader.orders(), [])
        (position,) = await trader.positions()
        self.assertEqual((position.account, str(position.position)), ("paper", "50000"))

    async def test_rejections_are_returned_and_errors_raised_like_the_blocking_client(self) -> None:
        trader = await self.client("trader")
        rejected = await trader.submit("paper", "EURUSD", "buy", "market", "999999999", "ioc", "big")
        self.assertFalse(rejected.accepted)
        self.assertEqual(rejected.reason, "INVALID_QUANTITY")
        with self.assertRaises(TypeError):
            await trader.submit("paper", "EURUSD", "buy", "limit", "1", "gtc", "f", price=1.08)  # type: ignore[arg-type]
        with self.assertRaises(RequestRejected) as refused:
            await trader.halt("global")
        self.assertEqual(refused.exception.reason, "PERMISSION_DENIED")
        reply = await trader.request("subscribe", streams=["fills"])
        self.assertEqual((reply["type"], reply["code"]), ("error", "INVALID_FIELD"))
        wrong = await AsyncClient.connect(self.gateway.socket_path)
        self.addAsyncCleanup(wrong.close)
        secret = "not-the-token-" + "x" * 20
        with self.assertRaises(RequestRejected) as bad_hello:
            await wrong.hello(secret)
        self.assertEqual(bad_hello.exception.reason, "UNAUTHENTICATED")
        self.assertNotIn(secret, repr(wrong) + str(bad_hello.exception))
        # The connection still serves.
        await trader.ping()

    async def test_the_drop_copy_as_an_async_iterator(self) -> None:
        risk = await self.client("risk")
        self.assertEqual(await risk.subscribe(("executions", "trading_state")), ["executions", "trading_state"])
        trader = await self.client("trader")
        ops = await self.client("ops")
        self.assertTrue((await trader.submit("paper", "EURUSD", "sell", "market", "1000", "ioc", "dc-1")).accepted)
        seen: list[DropCopyEvent] = []
        async for event in risk.events(timeout=5.0):
            assert isinstance(event, DropCopyEvent)
            seen.append(event)
            if len(seen) == 2:
                break
        await ops.halt("account:paper")
        event = await risk.next_event(5.0)
        assert isinstance(event, DropCopyEvent)
        seen.append(event)
        self.assertEqual([e.seq for e in seen], [1, 2, 3])
        self.assertEqual(
            [(e.stream, e.execution.status if isinstance(e.execution, ExecEvent) else e.fields.get("state")) for e in seen],
            [("executions", "NEW"), ("executions", "FILLED"), ("trading_state", "HALTED")],
        )
        self.assertTrue(all(e.principal == "trader" for e in seen[:2]))

    async def test_a_closed_connection_ends_the_events_and_fails_what_waits(self) -> None:
        trader = await self.client("trader")
        self.assertIsNone(await trader.next_event(0.1), "nothing pushed yet")
        waiting = asyncio.ensure_future(trader.next_event(None))
        await trader.bye()
        with self.assertRaises(ConnectionClosed):
            await waiting
        with self.assertRaises(ConnectionClosed):
            await trader.ping()
        self.assertEqual([event async for event in trader.events()], [])

    async def test_malformed_input_gets_its_error_and_the_connection_keeps_serving(self) -> None:
        trader = await self.client("trader")
        await trader.send_raw(b"{not json\n")
        error = await trader.next_unmatched(5.0)
        self.assertEqual(error["code"], "INVALID_JSON")
        await trader.ping()


if __name__ == "__main__":
    unittest.main()
