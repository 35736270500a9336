"""Resident memory stays flat over 1,000 training steps (no leak per step)."""
import os
import subprocess
import sys

import pytest

import minidl

SCRIPT = r"""
import numpy as np
import minidl
from minidl import layers

def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

minidl.utils.set_random_seed(0)
model = minidl.Sequential([minidl.Input((12, 12, 1)), layers.Conv2D(4, 3, activation="tanh"),
                           layers.BatchNormalization(), layers.MaxPooling2D(), layers.Flatten(),
                           layers.Dense(3, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc"])
x = np.random.default_rng(0).random((16, 12, 12, 1)).astype(np.float32)
y = np.arange(16) % 3
samples = []
for step in range(1000):
    model.train_on_batch(x, y)
    if step in (200, 999):
        samples.append(rss_bytes())
print(samples[0], samples[1])
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_rss_is_flat_over_1000_training_steps():
    env = dict(os.environ, PYTHONPATH=os.path.dirname(minidl.__path__[0]))
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         env=env, timeout=300, cwd=os.path.dirname(minidl.__path__[0]))
    assert out.returncode == 0, out.stderr
    early, late = (int(v) for v in out.stdout.split())
    assert late - early < 1024 * 1024, f"RSS grew by {(late - early) / 2**20:.2f} MiB"
