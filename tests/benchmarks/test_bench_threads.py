"""Training throughput with every core busy: OpenMP threads sleeping (PASSIVE, dnasgen's default) vs
spinning (ACTIVE, libgomp's default). Runs only with --benchmark-enable (`make bench`): it loads the CPUs.

Measured on the 2-core dev box, two `yes` processes competing, 2 torch threads: ACTIVE ~12 img/s,
PASSIVE ~480 img/s (1 thread: ~190 vs ~350).
"""
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

STEPS = """
import sys, time, torch
from dnasgen.candidate import DataConfig, SearchSpace
from dnasgen.nn import Supernet
torch.manual_seed(0); torch.set_num_threads(2)
space = SearchSpace(resolutions=(32,), colors=("rgb",), widths=(0.35,), depths=((1,),) * 7, kernels=(3,),
                    expands=(3,), head_channels=128, num_classes=3)
net = Supernet(space); net.set_active(space.largest(DataConfig(32, "rgb")))
opt = torch.optim.SGD(net.parameters(), 0.01)
x, y = torch.randn(32, 3, 32, 32).contiguous(memory_format=torch.channels_last), torch.randint(0, 3, (32,))
def step():
    loss = torch.nn.functional.cross_entropy(net(x), y); opt.zero_grad(); loss.backward(); opt.step()
step()
n, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < 3:
    step(); n += 32
print(n / (time.perf_counter() - t0))
"""


def _images_per_s(policy: str) -> float:
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    out = subprocess.run([sys.executable, "-c", STEPS], env=env, capture_output=True, text=True, check=True, timeout=120)
    return float(out.stdout.split()[-1])


def test_bench_training_under_load_passive_vs_spinning(benchmark):
    if benchmark.disabled:
        pytest.skip("loads every core: runs with --benchmark-enable only")
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        rates = {p: _images_per_s(p) for p in ("ACTIVE", "PASSIVE")}
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    benchmark.extra_info.update({f"{p.lower()}_images_per_s": round(r, 1) for p, r in rates.items()})
    benchmark.pedantic(lambda: None, rounds=1)
    assert rates["PASSIVE"] >= 0.8 * rates["ACTIVE"], rates
