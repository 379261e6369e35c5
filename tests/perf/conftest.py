import pytest

from gigawatt.perf.hardware import Hardware
from gigawatt.perf.transformer import Arch


@pytest.fixture
def h100():
    # NVIDIA H100 SXM datasheet numbers; scale-out 400 Gb/s per GPU (DGX H100)
    return Hardware("h100-sxm", {"bf16": 989e12, "fp8": 1979e12}, 80e9, 3.35e12, 900e9, 50e9, 8, 8, 1, 700)


@pytest.fixture
def llama2_70b():
    return Arch("llama2-70b", 80, 8192, 64, 8, 128, 28672, 32000)


@pytest.fixture
def llama3_405b():
    return Arch("llama3.1-405b", 126, 16384, 128, 8, 128, 53248, 128256)
