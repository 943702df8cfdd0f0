import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import tcpsec_e2e  # noqa: E402


def pytest_configure(config):
    if not tcpsec_e2e.DATAPLANE:
        raise pytest.UsageError("set TCPSEC_DATAPLANE to the tcpsec-dataplane binary")
    if os.geteuid() != 0:
        raise pytest.UsageError("end-to-end tests need root (network namespaces)")
