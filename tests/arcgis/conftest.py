"""Fixtures of the emulator's tests: one emulator per test module on
loopback (testbed.py), and every test starts from a clean state (log,
counters, quirks, rows, edit dates, Hub, clock)."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import testbed  # noqa: E402


@pytest.fixture(scope="module")
def server():
    with testbed.serving() as emu:
        yield emu


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
