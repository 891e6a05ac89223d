"""One principal cannot take every session slot: a session replaced by a new
``hello`` is kept while it has working orders, so repeated hellos with
resting orders used to fill ``max_sessions`` and lock every other principal
out. ``max_sessions_per_principal`` bounds them."""

from __future__ import annotations

from gateway_harness import GatewayTestCase, Principal
from ordergate_client import ProtocolError

PER_PRINCIPAL = 3


class SessionsPerPrincipal(GatewayTestCase):
    def test_repeated_hellos_with_open_orders_stop_at_the_per_principal_limit_and_others_still_log_in(
        self,
    ) -> None:
        gateway = self.start_gateway(
            [Principal("greedy"), Principal("other")],
            gateway={"max_sessions": 2 * PER_PRINCIPAL, "max_sessions_per_principal": PER_PRINCIPAL},
        )
        greedy = self.connect(gateway)
        welcomed = 0
        refusal = None
        for n in range(2 * PER_PRINCIPAL + 2):
            try:
                greedy.hello(gateway.token("greedy"))
            except ProtocolError as error:
                refusal = error
                break
            welcomed += 1
            # A resting order keeps this session alive after the next hello.
            reply = greedy.submit("paper", "EURUSD", "buy", "limit", "1000", "gtc", f"g-{n}", price="1.08000")
            self.assertTrue(reply.accepted)
        self.assertEqual(welcomed, PER_PRINCIPAL)
        assert refusal is not None
        self.assertEqual(refusal.code, "TOO_MANY_SESSIONS")
        self.assertNotIn(gateway.token("greedy"), str(refusal))
        greedy.ping()  # the current session carries on
        with self.assertRaises(ProtocolError) as raised:
            self.connect(gateway, "greedy")
        self.assertEqual(raised.exception.code, "TOO_MANY_SESSIONS")

        # The other principal can take every remaining slot.
        for _ in range(PER_PRINCIPAL):
            self.assertEqual(self.connect(gateway, "other").principal, "other")
        gateway.wait_for_log("hello_refused")

        # Once its sessions end with its connection, the principal logs in again.
        disconnected = len(gateway.log_events("disconnected"))
        greedy.close()
        gateway.wait_for_log("disconnected", count=disconnected + 1)
        self.assertEqual(self.connect(gateway, "greedy").principal, "greedy")


if __name__ == "__main__":
    import unittest

    unittest.main()
