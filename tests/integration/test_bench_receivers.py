"""The benchmarks' receiver processes (`--receiver aiohttp|threaded`) speak one protocol: each records
what it is sent with its arrival time, and the threaded one counts the connections (threads) it holds."""

from __future__ import annotations

import http.client

import pytest

from bench.common import ReceiverProcess


@pytest.mark.parametrize("kind", ["aiohttp", "threaded"])
def test_a_receiver_records_each_post_with_its_ids(kind: str) -> None:
    receiver = ReceiverProcess(kind)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=10)
        for n in range(3):  # one keep-alive connection
            headers = {"webhook-id": f"msg_{n}", "scheduler-scheduled-at": "2027-01-15T08:05:00.000Z"}
            connection.request("POST", "/ok", body=b'{"n":1}', headers=headers)
            assert connection.getresponse().read() == b"ok"
        assert receiver.wait_for(3, timeout_s=10)
        rows = receiver.records()
        assert [row[1] for row in rows] == ["msg_0", "msg_1", "msg_2"]
        assert all(row[2] == "2027-01-15T08:05:00.000Z" and row[0] > 0 for row in rows)
        held = receiver.connections()
        if kind == "threaded":
            assert held is not None and held["open"] >= 1 and held["open_max"] <= held["accepted"]
        else:
            assert held is None
        connection.close()
    finally:
        receiver.close()
