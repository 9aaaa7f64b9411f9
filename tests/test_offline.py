"""The whole suite runs with the network blocked (tests/conftest.py); this checks the block itself."""

import socket

import pytest

from tests.conftest import NetworkBlocked


def test_connections_beyond_this_machine_are_refused():
    for address in (("192.0.2.1", 80), ("2001:db8::1", 443, 0, 0), ("example.org", 443)):
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock, pytest.raises(NetworkBlocked):
            sock.connect(address)


def test_loopback_is_still_allowed():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5):
            conn, _ = server.accept()
            conn.close()
