"""testbed.py - the emulator the tests run against (conftest.py and the
integration tests start it through serving()):
Denver's two layouts, small, generated and deterministic (seed 1), with a
maxRecordCount of 7 so that paging shows."""
import contextlib

import emulator
import layers

TRAFFIC_ROWS = 60
SR_ROWS = 30
M = 7


def make_emulator():
    emu = emulator.Emulator(hub_polls=3)
    emu.add_layer(layers.traffic_layer(TRAFFIC_ROWS, max_record_count=M))
    emu.add_layer(layers.service_requests_layer(SR_ROWS, max_record_count=M))
    return emu


@contextlib.contextmanager
def serving():
    """make_emulator(), started for the with block and stopped after it."""
    emu = make_emulator()
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()
