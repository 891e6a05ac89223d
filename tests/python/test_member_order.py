"""JSON members have no order: every reply echoes the request's id and, for
order ops, its cl_ord_id, wherever they stand, and every request gets
exactly one reply. Through a real gateway process."""

from __future__ import annotations

import json
import random
import unittest
from typing import Any

from gateway_harness import GatewayTestCase, Principal

SUBMIT = {
    "op": "submit",
    "account": "paper",
    "symbol": "EURUSD",
    "side": "buy",
    "type": "market",
    "qty": "1000",
    "tif": "ioc",
}


def line_of(members: list[tuple[str, Any]]) -> bytes:
    body = ",".join(f"{json.dumps(key)}:{raw}" for key, raw in members)
    return ("{" + body + "}\n").encode()


class MemberOrder(GatewayTestCase):
    def setUp(self) -> None:
        self.gateway = self.start_gateway(
            [Principal("trader")], gateway={"max_errors": 1_000_000}
        )
        self.client = self.connect(self.gateway, "trader")
        self.client.hello(self.gateway.token("trader"))

    def assert_no_other_reply(self) -> None:
        # Replies come back in order: once this ping is answered, every reply
        # to an earlier line has arrived, and none may be left unclaimed.
        self.client.send_raw(b'{"op":"ping","id":"end"}\n')
        self.assertEqual(self.client.wait_reply("end")["type"], "pong")
        self.assertEqual(self.client._replies, {})  # noqa: SLF001 - nothing answered twice
        self.assertEqual(len(self.client._unmatched), 0)  # noqa: SLF001 - nothing lost its id

    def test_rejection_for_a_quantity_with_ten_decimals_echoes_id_and_cl_ord_id_placed_after_it(
        self,
    ) -> None:
        self.client.send_raw(
            b'{"op":"submit","account":"paper","symbol":"EURUSD","side":"buy","type":"market",'
            b'"qty":"1000.0000000001","tif":"ioc","cl_ord_id":"x1","id":2}\n'
        )
        reply = self.client.wait_reply(2)
        self.assertEqual(reply["type"], "rejected")
        self.assertEqual(reply["reason"], "QUANTITY_PRECISION_EXCEEDED")
        self.assertEqual(reply["cl_ord_id"], "x1")
        self.assert_no_other_reply()

    def test_quantity_with_ten_zero_decimals_is_rejected_as_the_protocol_says(self) -> None:
        self.client.send_raw(
            b'{"op":"submit","account":"paper","symbol":"EURUSD","side":"buy","type":"market",'
            b'"qty":"1000.0000000000","tif":"ioc","cl_ord_id":"x2","id":3}\n'
        )
        reply = self.client.wait_reply(3)
        self.assertEqual((reply["type"], reply["reason"]), ("rejected", "QUANTITY_PRECISION_EXCEEDED"))
        self.assertEqual(reply["cl_ord_id"], "x2")
        self.assert_no_other_reply()

    def test_generated_quantities_in_shuffled_members_always_echo_id_and_cl_ord_id(self) -> None:
        rng = random.Random(20240611)
        expected: dict[int, str] = {}
        for request_id in range(1, 301):
            integer = rng.choice(["", "0", "00", "7", "1000", "0012"])
            decimals = rng.randint(0, 40)
            fraction = "".join(rng.choice("0123456789") for _ in range(decimals))
            text = rng.choice(["", "-", "+"]) + integer
            if rng.random() < 0.8:
                text += "." + fraction
            if rng.random() < 0.1:
                text += rng.choice(["e3", "E-2"])
            valid = (
                not text.startswith("+")
                and integer != ""
                and not text.endswith(".")
                and "e" not in text.lower()
            )
            if not valid:
                expected[request_id] = "INVALID_FIELD"
            elif "." in text and len(text.split(".")[1]) > 9:
                expected[request_id] = "QUANTITY_PRECISION_EXCEEDED"
            else:
                expected[request_id] = "guards"  # accepted, or rejected by a guard
            members: list[tuple[str, Any]] = [
                (key, json.dumps(value)) for key, value in SUBMIT.items() if key != "qty"
            ]
            members += [
                ("qty", json.dumps(text)),
                ("cl_ord_id", json.dumps(f"m-{request_id}")),
                ("id", str(request_id)),
            ]
            rng.shuffle(members)
            self.client.send_raw(line_of(members))

        for request_id, outcome in expected.items():
            with self.subTest(request_id=request_id, outcome=outcome):
                reply = self.client.wait_reply(request_id)
                if outcome == "INVALID_FIELD":
                    self.assertEqual((reply["type"], reply["code"]), ("error", "INVALID_FIELD"))
                    continue
                self.assertEqual(reply.get("cl_ord_id"), f"m-{request_id}")
                if outcome == "QUANTITY_PRECISION_EXCEEDED":
                    self.assertEqual(reply["type"], "rejected")
                    self.assertEqual(reply["reason"], outcome)
                else:
                    # The guards may still refuse it (off the lot step is also
                    # QUANTITY_PRECISION_EXCEEDED), but it got past the decoder.
                    self.assertIn(reply["type"], ("accepted", "rejected"))
        self.assert_no_other_reply()


if __name__ == "__main__":
    unittest.main()
