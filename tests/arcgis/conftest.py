"""Fixtures of the emulator's tests: one emulator per test module on
loopback, with Denver's two layouts (small, generated, deterministic) and a
maxRecordCount of 7 so that paging shows; every test starts from a clean
state (log, counters, quirks, rows, edit dates, Hub, clock)."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import emulator  # noqa: E402
import layers  # noqa: E402

TRAFFIC_ROWS = 60
SR_ROWS = 30
M = 7


@pytest.fixture(scope="module")
def server():
    emu = emulator.Emulator(hub_polls=3)
    emu.add_layer(layers.traffic_layer(TRAFFIC_ROWS, max_record_count=M))
    emu.add_layer(layers.service_requests_layer(SR_ROWS, max_record_count=M))
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def emu(server):
    server.reset(counts=True, quirks=True, data=True)
    return server


@pytest.fixture
def traffic(emu):
    return emu.layer(325)


@pytest.fixture
def table(emu):
    return emu.layer(66)
