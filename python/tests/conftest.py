import os
import sys

import pytest

# Short runs: enough packets to wrap a 256-entry ring and raise interrupts.
PACKETS = 2000


@pytest.fixture
def packets():
    return PACKETS


def pytest_report_header(config):
    import virtiosim
    return f"virtiosim package: {os.path.dirname(virtiosim.__file__)}; simulator: {virtiosim.simulator()}; python: {sys.executable}"
