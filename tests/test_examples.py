"""The example scripts run end to end in --quick mode (each well under a minute).

Data: MINIDL_DATA_DIR when set, else the shared copy beside the repository
(../shared/datasets) when present, else small synthetic files in the canonical formats.
The blog's own script always runs on a tiny synthetic CIFAR-10 (it has no quick mode).
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from dataset_files import make_cifar, make_idx_split, write_cifar_folder, write_idx_folder

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "examples")
SHARED = os.path.join(os.path.dirname(REPO), "shared", "datasets")


def _synthetic_data(folder, seed=0, per_file=128, mnist_train=2048):
    rng = np.random.default_rng(seed)
    write_idx_folder(os.path.join(folder, "mnist"),
                     make_idx_split(rng, n_train=mnist_train, n_test=512))
    files, _ = make_cifar(rng, per_file=per_file)
    write_cifar_folder(os.path.join(folder, "cifar10", "cifar-10-batches-bin"), files)
    return folder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A folder with MNIST and CIFAR-10 (real where available)."""
    if os.environ.get("MINIDL_DATA_DIR"):
        return os.environ["MINIDL_DATA_DIR"]
    if os.path.isdir(SHARED):
        return SHARED
    return _synthetic_data(str(tmp_path_factory.mktemp("data")))


def run_example(script, *args, data_dir=None, cwd=None, timeout=300):
    """Run an example in a fresh interpreter (outside the source tree); return stdout."""
    env = dict(os.environ, MPLBACKEND="Agg")
    if data_dir is not None:
        env["MINIDL_DATA_DIR"] = data_dir
    import minidl  # the same minidl the tests import (installed or in-place build)
    env["PYTHONPATH"] = os.path.dirname(minidl.__path__[0])
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *args],
                            capture_output=True, text=True, env=env, timeout=timeout,
                            cwd=cwd or EXAMPLES)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


def _histories(folder):
    out = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json"):
            with open(os.path.join(folder, name)) as f:
                out[name] = json.load(f)
    return out


def _real_data(data_dir):
    """Whether the examples run on the real data sets (not the small synthetic ones)."""
    return os.path.isdir(os.path.join(data_dir, "cifar10")) and os.path.getsize(
        os.path.join(data_dir, "cifar10", "cifar-10-batches-bin", "data_batch_1.bin")) > 1e7


def test_cifar10_batchnorm_quick(data_dir, tmp_path):
    """The README's main command: one blog epoch of each variant; on the real data BN
    leaves chance and the plain sigmoid network stays there."""
    # about a minute on 2 idle cores; far longer on a loaded machine
    out = run_example("cifar10_batchnorm.py", "--quick", "--out", str(tmp_path),
                      data_dir=data_dir, timeout=1800)
    assert "Short run" in out
    runs = _histories(tmp_path)
    assert set(runs) == {"bn_seed0.json", "no_bn_seed0.json"}
    for record in runs.values():
        h = record["history"]
        assert set(h) == {"loss", "accuracy", "val_loss", "val_accuracy"}
        assert all(np.isfinite(h["loss"])) and 0 <= h["val_accuracy"][0] <= 1
        assert len(record["seconds_per_epoch"]) == 1 and record["threads"] >= 1
        assert record["framework"] == "minidl" and record["machine"]["cpu"]
    if _real_data(data_dir):
        assert runs["bn_seed0.json"]["history"]["val_accuracy"][0] > 0.3
        assert runs["no_bn_seed0.json"]["history"]["val_accuracy"][0] < 0.15
    if __import__("importlib").util.find_spec("matplotlib"):
        assert (tmp_path / "cifar10_quick.png").stat().st_size > 10_000


def test_cifar10_blog_model_is_the_blogs(data_dir):
    """Activation inside Conv2D, BatchNormalization after it; the third variant puts BN
    before the sigmoid; parameter counts as Keras reports them."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "cifar10_batchnorm", os.path.join(EXAMPLES, "cifar10_batchnorm.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    orders = {v: [(type(layer).__name__, getattr(layer, "activation", None))
                  for layer in module.build_model(v).layers] for v in module.VARIANTS}
    conv, bn, pool = ("Conv2D", "sigmoid"), ("BatchNormalization", None), ("MaxPooling2D", None)
    head = [("Flatten", None), ("Dense", "sigmoid"), ("Dense", "softmax")]
    assert orders["no_bn"] == [conv, conv, pool, conv, conv, pool] + head
    assert orders["bn"] == [conv, bn, conv, bn, pool, conv, bn, conv, bn, pool] + head
    linear, act = ("Conv2D", "linear"), ("Activation", "sigmoid")
    assert orders["bn_before"] == [linear, bn, act, linear, bn, act, pool,
                                   linear, bn, act, linear, bn, act, pool] + head
    assert module.build_model("no_bn").count_params() == 591274
    assert module.build_model("bn").count_params() == 591274 + 4 * (32 + 32 + 64 + 64)
    dense = module.build_model("bn").layers[-2]
    assert type(dense.kernel_initializer).__name__ == "HeUniform"


def test_lenet5_batchnorm_quick(data_dir, tmp_path):
    run_example("lenet5_batchnorm.py", "--quick", "--out", str(tmp_path), "--layer-stats",
                "8", data_dir=data_dir)
    runs = {name: record for name, record in _histories(tmp_path).items()
            if not name.endswith(".layers.json")}
    assert len(runs) == 4
    for name, record in runs.items():
        h = record["history"]
        assert len(record["batch_losses"]) == 32  # 2048 images / batch 64, every batch
        if "blog" in name:  # softmax applied twice: the loss is bounded below
            assert min(record["batch_losses"]) > 1.46
        assert 0 <= h["val_accuracy"][0] <= 1
        with open(tmp_path / name.replace(".json", ".layers.json")) as f:
            stats = json.load(f)
        assert stats["steps"] == [0, 8, 16, 24]
        convs = [layer for layer in stats["layers"] if layer["class_name"] == "Conv2D"]
        assert all(0 <= v <= 1 for layer in convs for v in layer["saturated_fraction"])


def test_normalization_demo_checks_bn_against_numpy(tmp_path):
    out = run_example("normalization_demo.py", "--out", str(tmp_path))
    assert "max |minidl BN - NumPy standardization|" in out
    assert "z-score standardization          mean +0.000000  variance 1.000000" in out


def test_batchnorm_parameters_article():
    out = run_example("batchnorm_parameters.py", "--quick")
    assert out.count("Trainable params: 6 ") == 1 and out.count("Non-trainable params: 6 ") == 1
    assert "Trainable params: 0 " in out and "Non-trainable params: 12 " in out
    assert "max |a*x + b - BN(x, training=False)|" in out


def test_keras_blog_code_runs_with_only_its_imports_changed(tmp_path):
    pytest.importorskip("matplotlib", reason="the blog's code plots with matplotlib "
                        "(the 'plot' extra)")
    data = _synthetic_data(str(tmp_path / "data"), per_file=64)  # 320 images: 5 steps/epoch
    out = run_example("keras_blog_cifar10.py", data_dir=data, cwd=str(tmp_path))
    assert out.count("Epoch 10/10") == 2
    assert (tmp_path / "keras_blog_cifar10.png").exists()


def test_mnist_speedrun_quick(data_dir, tmp_path):
    """The time-to-accuracy example in its smoke mode: one seed, one epoch of 6000 images,
    the run recorded with its time and accuracy."""
    out = run_example("mnist_speedrun.py", "--quick", "--out", str(tmp_path / "run.json"),
                      data_dir=data_dir)
    assert "seeds reach 99%" in out
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["framework"] == "minidl" and len(record["runs"]) == 1
    run = record["runs"][0]
    assert run["seconds"] > 0 and 0 <= run["test_accuracy"] <= 1
    if _real_data(data_dir):
        assert run["test_accuracy"] > 0.8  # one epoch of 6000 images (86% here)


def test_cifar10_speedrun_quick(data_dir, tmp_path):
    """The CIFAR-10 time-to-accuracy example in its smoke mode, its record complete."""
    out = run_example("cifar10_speedrun.py", "--quick", "--out", str(tmp_path / "run.json"),
                      data_dir=data_dir, timeout=900)
    assert "seeds reach 75%" in out
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["framework"] == "minidl" and record["target"] == 0.75
    assert record["epochs"] == 1 and len(record["runs"]) == 1
    assert record["runs"][0]["seconds"] > 0 and 0 <= record["runs"][0]["test_accuracy"] <= 1


def _load_example(name):
    import importlib.util
    sys.path.insert(0, EXAMPLES)
    try:
        spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(EXAMPLES)
    return module


def test_speedrun_augmentation_is_a_flip_and_a_padded_crop():
    """Every augmented image is its source flipped or not and shifted by at most 4
    pixels, the uncovered border zero."""
    module = _load_example("cifar10_speedrun")
    rng = np.random.default_rng(0)
    images = rng.random((16, 32, 32, 3)).astype(np.float32) + 1  # no zeros inside
    out = module.augment(images, np.random.default_rng(1))
    assert out.shape == images.shape and out.dtype == images.dtype
    padded = np.pad(images, ((0, 0), (4, 4), (4, 4), (0, 0)))
    for source, result in zip(padded, out):
        crops = [source[dy:dy + 32, dx:dx + 32] for dy in range(9) for dx in range(9)]
        assert any(np.array_equal(result, crop) or np.array_equal(result, crop[:, ::-1])
                   for crop in crops)


def test_resnet20_is_the_papers_and_its_quick_run_writes_both_variants(data_dir, tmp_path):
    module = _load_example("resnet_batchnorm")
    convolutions = (3 * 3 * 3 * 16 + 6 * 3 * 3 * 16 * 16 + 3 * 3 * 16 * 32 + 5 * 3 * 3 * 32 * 32
                    + 16 * 32 + 3 * 3 * 32 * 64 + 5 * 3 * 3 * 64 * 64 + 32 * 64)
    channels = 16 + 6 * 16 + 7 * 32 + 7 * 64  # every convolution's outputs
    dense = 64 * 10 + 10
    assert module.build_model("bn").count_params() == convolutions + 4 * channels + dense
    assert module.build_model("no_bn").count_params() == convolutions + channels + dense
    adds = [layer for layer in module.build_model("bn").layers if type(layer).__name__ == "Add"]
    assert len(adds) == 9
    out = run_example("resnet_batchnorm.py", "--quick", "--out", str(tmp_path),
                      data_dir=data_dir, timeout=900)
    assert "test accuracy" in out
    runs = _histories(tmp_path)
    assert set(runs) == {"bn_seed0.json", "no_bn_seed0.json"}
    assert np.isfinite(runs["bn_seed0.json"]["history"]["loss"][0])
