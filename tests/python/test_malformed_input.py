"""Malformed input gets error replies; the gateway and other sessions carry on."""

from __future__ import annotations

import json
import unittest
from typing import Any

from gateway_harness import GatewayTestCase, Principal
from ordergate_client import Client, ConnectionClosed


class MalformedInput(GatewayTestCase):
    def setUp(self) -> None:
        self.gateway = self.start_gateway([Principal("trader")], gateway={"max_line_bytes": 1024})
        self.client = self.connect(self.gateway, "trader")
        self.bystander = self.connect(self.gateway, "trader")

    def send_line(self, data: bytes) -> dict[str, Any]:
        """Sends one raw line and returns the reply that carries no id."""
        self.client.send_raw(data + b"\n")
        return self.client.next_unmatched()

    def assert_still_serving(self) -> None:
        self.client.ping()
        self.bystander.ping()

    def test_garbage_bytes_are_invalid_json_and_the_connection_stays_open(self) -> None:
        for garbage in (
            b"hello gateway",
            b"\x00\x01\x02\x7f",
            b"{",
            b"}",
            b"[1,2",
            b'{"op":"ping"',
            b"null",
            b"42",
        ):
            with self.subTest(garbage=garbage):
                reply = self.send_line(garbage)
                self.assertEqual((reply["type"], reply["code"]), ("error", "INVALID_JSON"))
                self.assertTrue(reply["message"])
        self.assert_still_serving()

    def test_invalid_utf8_is_reported_as_such(self) -> None:
        for data in (b'{"op":"ping","id":"\xff\xfe"}', b'{"op":"\xc3\x28"}', b"\xed\xa0\x80"):
            with self.subTest(data=data):
                self.assertEqual(self.send_line(data)["code"], "INVALID_UTF8")
        self.assert_still_serving()

    def test_deeply_nested_json_is_an_error_not_a_crash(self) -> None:
        depth = 400  # within the 1 KiB line limit
        for line in (
            b"[" * depth + b"]" * depth,
            b'{"op":"ping","id":1,"x":' + b"[" * depth + b"]" * depth + b"}",
            b'{"op":' + b'{"a":' * 100 + b"1" + b"}" * 100 + b"}",
            b"[" * 1000,
        ):
            with self.subTest(prefix=line[:12]):
                self.client.send_raw(line + b"\n")
                reply = (
                    self.client.wait_reply(1)
                    if b'"id":1' in line
                    else self.client.next_unmatched()
                )
                self.assertEqual(reply["type"], "error")
                self.assertIn(reply["code"], {"INVALID_JSON", "INVALID_FIELD", "UNKNOWN_FIELD"})
        self.assert_still_serving()

    def test_unknown_op_is_answered_with_its_id(self) -> None:
        reply = self.client.request("launch_rockets")
        self.assertEqual((reply["type"], reply["code"]), ("error", "UNKNOWN_OP"))
        self.assertIn("id", reply)
        self.assert_still_serving()

    def test_wrong_types_missing_and_unknown_fields_are_named_errors(self) -> None:
        cases = {
            "qty as an object": (
                {
                    "op": "submit",
                    "account": "paper",
                    "symbol": "EURUSD",
                    "side": "buy",
                    "type": "market",
                    "qty": {"v": 1},
                    "tif": "ioc",
                    "cl_ord_id": "w-1",
                },
                "INVALID_FIELD",
            ),
            "qty as a word": (
                {
                    "op": "submit",
                    "account": "paper",
                    "symbol": "EURUSD",
                    "side": "buy",
                    "type": "market",
                    "qty": "lots",
                    "tif": "ioc",
                    "cl_ord_id": "w-2",
                },
                "INVALID_FIELD",
            ),
            "symbol as a number": (
                {
                    "op": "submit",
                    "account": "paper",
                    "symbol": 7,
                    "side": "buy",
                    "type": "market",
                    "qty": "1",
                    "tif": "ioc",
                    "cl_ord_id": "w-3",
                },
                "INVALID_FIELD",
            ),
            "cancel_orders as a string": (
                {"op": "halt", "scope": "global", "cancel_orders": "yes"},
                "INVALID_FIELD",
            ),
            "op as a number": ({"op": 1}, "INVALID_FIELD"),
            "missing cl_ord_id": ({"op": "cancel"}, "MISSING_FIELD"),
            "missing op": ({"cl_ord_id": "x"}, "MISSING_FIELD"),
            "unknown field": ({"op": "ping", "color": "red"}, "UNKNOWN_FIELD"),
            "field of another op": ({"op": "ping", "cl_ord_id": "x"}, "UNKNOWN_FIELD"),
        }
        for name, (message, code) in cases.items():
            with self.subTest(name):
                message = {"id": name.replace(" ", "-"), **message}
                self.client.send_raw(json.dumps(message).encode() + b"\n")
                reply = self.client.wait_reply(message["id"])
                self.assertEqual((reply["type"], reply["code"]), ("error", code), reply)
        missing = self.client.request("cancel")
        self.assertIn("cl_ord_id", missing["message"])
        self.assert_still_serving()

    def test_id_of_the_wrong_type_and_a_field_given_twice_are_invalid(self) -> None:
        self.assertEqual(self.send_line(b'{"op":"ping","id":1.5}')["code"], "INVALID_FIELD")
        self.assertEqual(self.send_line(b'{"op":"ping","id":[1]}')["code"], "INVALID_FIELD")
        self.client.send_raw(b'{"id":7,"op":"ping","op":"ping"}\n')
        self.assertEqual(self.client.wait_reply(7)["code"], "INVALID_FIELD")
        self.client.send_raw(b'{"id":8,"op":"ping"} {"op":"ping"}\n')
        self.assertEqual(self.client.wait_reply(8)["code"], "INVALID_JSON")
        self.assert_still_serving()

    def test_json_numbers_for_decimals_are_read_exactly_from_their_text(self) -> None:
        self.client.send_raw(
            b'{"op":"submit","id":"n","account":"paper","symbol":"EURUSD","side":"buy",'
            b'"type":"limit","qty":10000,"price":1.08000,"tif":"gtc","cl_ord_id":"num-1"}\n'
        )
        self.assertEqual(self.client.wait_reply("n")["type"], "accepted")
        (order,) = self.client.orders()
        self.assertEqual((str(order.qty), str(order.price)), ("10000", "1.08"))

    def test_blank_lines_are_ignored_and_crlf_is_accepted(self) -> None:
        self.client.send_raw(b"\n   \n\r\n" + b'{"op":"ping","id":"crlf"}\r\n')
        self.assertEqual(self.client.wait_reply("crlf")["type"], "pong")

    def test_oversize_line_is_line_too_long_and_closes_only_that_connection(self) -> None:
        self.client.send_raw(b'{"op":"ping","id":"' + b"x" * 2000 + b'"}\n')
        reply = self.client.next_unmatched()
        self.assertEqual((reply["type"], reply["code"]), ("error", "LINE_TOO_LONG"))
        with self.assertRaises(ConnectionClosed) as raised:
            self.client.ping()
        self.assertEqual(raised.exception.code, "LINE_TOO_LONG")
        self.bystander.ping()
        with self.gateway.connect("trader") as fresh:
            fresh.ping()

    def test_oversize_line_without_newline_is_refused_before_it_ends(self) -> None:
        self.client.send_raw(b'{"op":"ping","id":"' + b"x" * 4000)
        self.assertEqual(self.client.next_unmatched()["code"], "LINE_TOO_LONG")
        with self.assertRaises(ConnectionClosed):
            self.client.next_unmatched()
        self.bystander.ping()

    def test_a_flood_of_errors_closes_the_connection_with_too_many_errors(self) -> None:
        gateway = self.start_gateway([Principal("trader")], gateway={"max_errors": 5})
        client = self.connect(gateway, "trader")
        for n in range(5):
            client.send_raw(b'{"op":"nope","id":%d}\n' % n)
        codes = [client.wait_reply(n)["code"] for n in range(5)]
        self.assertEqual(codes, ["UNKNOWN_OP"] * 5)
        self.assertEqual(client.next_unmatched()["code"], "TOO_MANY_ERRORS")
        with self.assertRaises(ConnectionClosed) as raised:
            client.ping()
        self.assertEqual(raised.exception.code, "TOO_MANY_ERRORS")
        self.connect(gateway, "trader").ping()

    def test_malformed_input_before_hello_gets_errors_too(self) -> None:
        client = Client(self.gateway.socket_path)
        self.addCleanup(client.close)
        client.send_raw(b"garbage\n")
        self.assertEqual(client.next_unmatched()["code"], "INVALID_JSON")
        client.hello(self.gateway.token("trader"))
        client.ping()


if __name__ == "__main__":
    unittest.main()
