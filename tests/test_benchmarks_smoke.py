"""Smoke tests of the benchmark suite (benchmarks/): the runner must keep working as the
library changes. No timing is asserted: only that the runner runs, fills the table and
writes its JSON. The torch columns are checked only where PyTorch is installed."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

import minidl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # benchmarks/ is not installed; appended, so minidl stays the same
    sys.path.append(ROOT)

from benchmarks import peak, timing  # noqa: E402
from benchmarks.cases import Row  # noqa: E402
from benchmarks.run import format_table  # noqa: E402
HAS_TORCH = importlib.util.find_spec("torch") is not None


def run_suite(tmp_path, *args):
    """``python -m benchmarks.run --quick --threads 1 --json ... ARGS`` in a fresh process
    that imports the same minidl as this test; returns (JSON record, stdout)."""
    env = dict(os.environ)
    minidl_root = os.path.dirname(os.path.dirname(os.path.abspath(minidl.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([minidl_root, ROOT] + [env.get("PYTHONPATH", "")])
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--threads", "1",
                           "--json", str(out), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text()), proc.stdout


def test_quick_run_fills_both_columns(tmp_path):
    record, stdout = run_suite(tmp_path, "--cases", "sgemm_256,pool_max_64x10x10x16,step_lenet")
    rows = {row["name"]: row for row in record["results"]}
    assert list(rows) == ["sgemm_256", "pool_max_64x10x10x16", "step_lenet"]
    for name, row in rows.items():
        assert name in stdout
        assert row["minidl"] > 0 and row["minidl_s"] > 0
        has_reference = name == "sgemm_256" or HAS_TORCH
        assert (row["reference"] is not None) == has_reference
        assert (row["ratio"] is not None) == has_reference
    assert rows["sgemm_256"]["reference_name"] == "numpy"
    assert rows["step_lenet"]["target"] == [">=", 3.0]
    machine = record["machine"]
    assert machine["threads"] == 1
    ceiling = machine["peak"]["fma_gflops"]["1"]
    assert ceiling > 0 and machine["peak"]["sgemm_gflops"]["1"] > 0
    # the shares of the ceiling follow from the rates and the FLOPs
    assert rows["sgemm_256"]["percent_of_peak"] == pytest.approx(
        100 * rows["sgemm_256"]["minidl"] / ceiling)
    lenet_gflop = peak.model_flops("lenet", False, training=True) / 1e9
    assert rows["step_lenet"]["percent_of_peak"] == pytest.approx(
        100 * rows["step_lenet"]["minidl"] * lenet_gflop / ceiling)
    assert rows["pool_max_64x10x10x16"]["percent_of_peak"] is None
    sgemm = machine["peak"]["sgemm_gflops"]["1"]
    assert rows["step_lenet"]["percent_of_sgemm"] == pytest.approx(
        100 * rows["step_lenet"]["minidl"] * lenet_gflop / sgemm)
    assert machine["thread_env"]["OPENBLAS_NUM_THREADS"] == "1"
    assert machine["minidl"] == minidl.__version__


def test_no_torch_run_with_memory_and_a_plotted_sweep(tmp_path):
    record, _ = run_suite(tmp_path, "--no-torch", "--cases", "pool_avg_64x10x10x16,memory_lenet",
                          "--batch-sizes", "2")
    pool, memory, *sweep = record["results"]
    assert pool["reference"] is None and pool["ratio"] is None and pool["met"] is None
    assert memory["unit"] == "MiB" and memory["minidl"] > 1  # a Python process is > 1 MiB
    assert record["machine"]["torch"] is None
    assert {(row["meta"]["model"], row["meta"]["batch_norm"], row["meta"]["batch_size"])
            for row in sweep} == {(m, bn, 2) for m in ("lenet", "cifar") for bn in (False, True)}
    pytest.importorskip("matplotlib")
    from benchmarks import plot
    png = tmp_path / "sweep.png"
    assert plot.main([str(tmp_path / "bench.json"), str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_interleaves_and_takes_the_median_ratio():
    calls = []
    settings = timing.Settings(repeats=4, warmup=1, min_time=0.0)
    result = timing.compare(lambda: calls.append("a"), lambda: calls.append("b"), settings)
    assert len(result.seconds_a) == len(result.seconds_b) == len(result.ratios) == 4
    # after the two calibration calls, samples alternate a,b / b,a
    assert calls[2:] == ["a", "b", "b", "a", "a", "b", "b", "a"]
    expected = sorted(b / a for a, b in zip(result.seconds_a, result.seconds_b))
    assert result.ratio == pytest.approx((expected[1] + expected[2]) / 2)


def test_model_flops_count_the_multiply_adds_of_convolutions_and_dense_layers():
    # LeNet-5 on 32x32: conv 6@5x5 -> 28x28, conv 16@5x5 -> 10x10, dense 400-120-84-10
    forward = 2 * (28 * 28 * 25 * 1 * 6 + 10 * 10 * 25 * 6 * 16 + 400 * 120 + 120 * 84 +
                   84 * 10)
    assert peak.model_flops("lenet", False, training=False) == forward
    # a step adds every weight gradient and every input gradient but the first layer's
    first = 2 * 28 * 28 * 25 * 6
    assert peak.model_flops("lenet", True, training=True) == 3 * forward - first


def test_the_fma_loop_counts_its_flops():
    one = minidl._C.fma_peak(10, 1)
    assert one > 0 and minidl._C.fma_peak(20, 1) == 2 * one
    assert minidl._C.fma_peak(10, 2) == 2 * one  # each thread does the iterations
    with pytest.raises(ValueError, match="threads"):
        minidl._C.fma_peak(10, 0)


def test_table_marks_targets_and_missing_references():
    rows = [Row("fast", "g", "", "img/s", 200.0, reference=100.0, reference_name="torch",
                ratio=2.0, target=(">=", 1.5), met=True, percent_of_peak=42.4,
                percent_of_sgemm=70.6),
            Row("alone", "g", "", "img/s", 5.0)]
    lines = format_table(rows).splitlines()
    assert lines[0].split("|")[1].strip() == "case"
    assert "2.00x" in lines[2] and "yes" in lines[2] and ">= 1.5" in lines[2]
    assert "42%" in lines[2] and "71%" in lines[2]
    assert lines[3].count(" - ") == 3  # reference, ref and ratio left empty


def test_ab_refuses_bad_arguments_and_names_a_checkout_that_fails(tmp_path, capsys):
    """benchmarks.ab (interleaved A/B of two checkouts): bad counts are refused by the
    parser; a checkout whose minidl does not import fails with its name and the child's
    error (nothing is timed here)."""
    from benchmarks import ab
    with pytest.raises(SystemExit) as stop:
        ab.main([str(tmp_path), str(tmp_path), "--rounds", "0"])
    assert stop.value.code == 2 and "--rounds" in capsys.readouterr().err
    broken = tmp_path / "broken_checkout"  # its minidl (first on the child's path) fails
    (broken / "minidl").mkdir(parents=True)
    (broken / "minidl" / "__init__.py").write_text("raise ImportError('no built core')\n")
    with pytest.raises(RuntimeError, match="(?s)broken_checkout: the measurement failed.*"
                                           "no built core"):
        ab.measure(str(broken), "step_lenet", 1)
