"""The weightnoise command: end to end in a subprocess on small settings, its
data loading, and one-line errors for bad arguments and bad CSV files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import weightnoise as wn
from weightnoise import cli, datasets, report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = ("equivalence.png", "residual_slopes.png", "training_curves.png")
# Small settings: a few seconds per run, and still a clean η² remainder at initialization.
SMALL = ["--n-examples", "400", "--hidden", "32", "32", "--epochs", "40", "--no-progress"]
SMALL_GRID = ["--etas", "0.003", "0.01", "0.03", "0.1", "--draws", "300"]
SMALL_TRAINING = ["--train-etas", "0.01", "--eval-draws", "20"]
TIMEOUT = 600  # an editable install may rebuild the core on import


def run_command(*args, env=None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "weightnoise", *map(str, args)], check=False, capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=TIMEOUT)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("weightnoise")]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One small demo run in a subprocess, shared by the end-to-end tests."""
    out = tmp_path_factory.mktemp("demo")
    process = run_command("demo", *SMALL, *SMALL_GRID, *SMALL_TRAINING, "--threads", 2, "--out", out)
    return process, out


def test_demo_exits_cleanly_and_prints_its_tables(demo):
    process, _ = demo
    assert process.returncode == 0, process.stderr
    assert "Traceback" not in process.stderr
    for words in ("at initialization", "after plain training", "Fitted log-log slope", "noise–penalty",
                  "Reading the numbers", "results.json"):
        assert words in process.stdout, words


def test_demo_results_json_holds_every_number_with_sensible_values(demo):
    process, out = demo
    assert process.returncode == 0, process.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["weightnoise_version"] == wn.__version__
    assert results["command"] == "demo"
    assert results["settings"]["draws"] == 300 and results["settings"]["etas"] == [0.003, 0.01, 0.03, 0.1]
    assert results["data"]["n_train"] == 300 and results["data"]["n_test"] == 100
    assert results["model"]["layer_sizes"] == [5, 32, 32, 1]

    init, trained = results["equivalence"]["at_initialization"], results["equivalence"]["after_training"]
    for result in (init, trained):
        table = result["table"]
        assert set(table) >= {"eta", "measured", "stderr", "textbook", "second_order", "residual_textbook",
                              "residual_second_order"}
        assert table["eta"] == [0.003, 0.01, 0.03, 0.1]
        assert all(s > 0 for s in table["stderr"])
        assert result["penalty"] > 0 and result["loss"] > 0
        J, eta = result["loss"], np.array(table["eta"])
        # J̃_η − J ≈ η(Ω + C) to first order: within 30% at the smallest η.
        assert table["measured"][0] - J == pytest.approx(eta[0] * (result["penalty"] + result["curvature"]), rel=0.3)
    # At initialization C is visible and the full residual decays like η².
    assert abs(init["curvature"]) > 0.05 * init["penalty"]
    assert init["slope_second_order"]["n_points"] >= 2
    assert abs(init["slope_second_order"]["slope"] - 2) < 0.35, init["slope_second_order"]
    # Plain training lowers J and makes C small next to Ω.
    assert trained["loss"] < 0.5 * init["loss"]
    assert abs(trained["curvature"]) / trained["penalty"] < abs(init["curvature"]) / init["penalty"]

    (run,) = results["training"]["runs"]
    assert run["eta"] == 0.01
    assert set(run["final"]) == {"plain", "noise", "penalty"}
    for final in run["final"].values():
        assert {"train_loss", "test_loss", "train_perturbed_loss", "test_perturbed_loss", "eta_penalty",
                "eta_curvature"} <= set(final)
        assert final["train_perturbed_loss"] > final["train_loss"] > 0
    # Noise and penalty training pull the same way: closer to each other than to plain training.
    distances = run["distances"]
    assert distances["noise_penalty"] < min(distances["noise_plain"], distances["penalty_plain"])
    assert run["final"]["penalty"]["eta_penalty"] < run["final"]["plain"]["eta_penalty"]
    history = run["history"]["noise"]
    assert [record["epoch"] for record in history] == list(range(61))
    assert {"loss", "val_loss", "perturbed_loss", "eta_penalty"} <= set(history[-1])


def test_demo_writes_valid_png_figures(demo):
    matplotlib_image = pytest.importorskip("matplotlib.image")
    process, out = demo
    assert process.returncode == 0, process.stderr
    results = json.loads((out / "results.json").read_text())
    assert sorted(Path(path).name for path in results["figures"]) == sorted(FIGURES)
    for name in FIGURES:
        path = out / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE, name
        image = matplotlib_image.imread(path)
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 400, (name, image.shape)
        assert image.std() > 0.01, name  # not a blank canvas


def test_without_matplotlib_the_command_says_how_to_install_it_and_still_writes_json(tmp_path):
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        "import sys\n"
        "class HideMatplotlib:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'matplotlib' or name.startswith('matplotlib.'):\n"
        "            raise ImportError('matplotlib is hidden by this test')\n"
        "sys.meta_path.insert(0, HideMatplotlib())\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(hide), os.environ.get("PYTHONPATH")])))
    out = tmp_path / "out"
    process = run_command("train", *SMALL, "--epochs", 10, "--etas", 0.01, "--eval-draws", 8, "--out", out, env=env)
    assert process.returncode == 0, process.stderr
    assert "matplotlib is not installed" in process.stderr
    assert "pip install 'weightnoise[plot]'" in process.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["figures"] == [] and "training" in results and "equivalence" not in results
    assert not list(out.glob("*.png"))


def test_the_equivalence_subcommand_alone(tmp_path):
    process = run_command("equivalence", *SMALL, "--etas", 0.01, 0.03, "--draws", 50, "--epochs", 5, "--no-plots",
                          "--out", tmp_path)
    assert process.returncode == 0, process.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["command"] == "equivalence" and "training" not in results
    assert results["equivalence"]["at_initialization"]["n_draws"] == 50


def test_the_console_script_is_installed_and_answers():
    script = Path(sys.executable).with_name("weightnoise" + (".exe" if os.name == "nt" else ""))
    if not script.exists():
        pytest.skip("the weightnoise console script is not installed next to this Python")
    process = subprocess.run([str(script), "--version"], check=False, capture_output=True, text=True, timeout=TIMEOUT)
    assert process.returncode == 0 and f"weightnoise {wn.__version__}" in process.stdout


def test_no_command_means_demo():
    assert cli.parse([]).command == "demo"
    assert cli.parse(["--draws", "7"]).draws == 7
    assert cli.parse(["train", "--etas", "0.1", "0.01", "0.1"]).train_etas == [0.01, 0.1]
    assert cli.parse(["demo"]).cooldown_epochs == cli.parse(["demo"]).epochs // 2


BAD_ARGUMENTS = [
    (["--draws", "0"], "must be a positive integer"),
    (["--draws", "many"], "not an integer"),
    (["--etas", "-0.001", "1e-2"], "must be a finite positive number"),
    (["--etas", "0", "1e-2"], "must be a finite positive number"),
    (["--etas", "nan", "1e-2"], "must be a finite positive number"),
    (["equivalence", "--etas", "1e-3"], "at least two values"),
    (["--hidden", "0"], "must be a positive integer"),
    (["--activation", "gelu"], "invalid choice"),
    (["--noise", "pink"], "invalid choice"),
    (["--test-fraction", "1.5"], "between 0 and 1"),
    (["--momentum", "1"], r"in [0, 1)"),
    (["--threads", "-2"], "non-negative"),
    (["--threads", "2000"], "must be below 1025"),
    (["--seed", str(2**64)], "must be below 2**64"),
    (["--draws", str(2**32)], "must be below 2**32"),
    (["train", "--epochs", str(2**40)], "must be below 2**32"),
    (["--n-examples", str(10**15)], "synthetic data of 1000000000000000 rows would need"),
    (["equivalence", "--hidden", "100000", "100000"], "would need about"),
    (["--data", "mnist"], "invalid choice"),
    (["fly"], "invalid choice"),
    (["train", "--bogus"], "unrecognized arguments"),
    (["--csv", "data.csv"], "--csv needs --target"),
    (["--target", "y"], "--target only applies with --csv"),
    (["--csv", "no/such/file.csv", "--target", "y"], "no such file"),
]


@pytest.mark.parametrize("arguments, words", BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS])
def test_bad_arguments_give_one_line_and_exit_2(arguments, words, capsys, tmp_path):
    code = cli.main([*arguments, "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("weightnoise") and "error:" in lines[0] and words in lines[0], lines[0]
    assert not (tmp_path / "out" / "results.json").exists()


def test_a_diverging_run_is_a_one_line_error_without_numpy_warnings(capsys, tmp_path):
    code = cli.main(["train", "--lr", "1e300", "--epochs", "2", "--no-progress", "--out", str(tmp_path / "out")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "training diverged" in lines[0], lines


def test_an_output_folder_that_is_a_file_is_a_one_line_error(capsys, tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    code = cli.main(["train", "--out", str(blocker), "--epochs", "1", "--no-progress"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and lines == [f"weightnoise: error: --out {blocker} is a file, not a folder"]


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def good_csv(path: Path, n: int = 40) -> Path:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(n), rng.standard_normal(n)
    rows = "\n".join(f"{x:.6f},{y:.6f},{np.sin(x) + 0.5 * y:.6f}" for x, y in zip(a, b))
    return write_csv(path, "a,b,price\n" + rows + "\n")


BAD_CSVS = [
    ("a,b,y\n" + "1,2,3\n" * 12, "cost", "has no column 'cost'; its columns are 'a', 'b', 'y'"),
    ("a,b,y\n" + "1,2,3\n" * 5 + "1,two,3\n" + "1,2,3\n" * 6, "y", "line 7, column 'b': 'two' is not a number"),
    ("a,b,y\n" + "1,2,3\n" * 5 + "1,,3\n" + "1,2,3\n" * 6, "y", "line 7, column 'b': empty value"),
    ("a,b,y\n" + "1,2,3\n" * 5 + "1,2\n" + "1,2,3\n" * 6, "y", "line 7 has 2 fields but the header has 3"),
    ("a,b,y\n" + "1,2,3\n" * 5 + "1,inf,3\n" + "1,2,3\n" * 6, "y", "is not a finite number"),
    ("a,b,y\n" + "1,2,3\n" * 3, "y", "has 3 data rows; at least 10 are needed"),
    ("", "y", "is empty"),
    ("y\n" + "1\n" * 12, "y", "it needs at least one input column"),
    ("a,y\n" + "".join(f"{i},5\n" for i in range(12)), "y", "the target is constant"),
]


@pytest.mark.parametrize("text, target, words", BAD_CSVS, ids=[words[:30] for _, _, words in BAD_CSVS])
def test_bad_csv_files_give_one_line_and_exit_2(text, target, words, capsys, tmp_path):
    path = write_csv(tmp_path / "data.csv", text)
    code = cli.main(["train", "--csv", str(path), "--target", target, "--out", str(tmp_path / "out")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("weightnoise: error:") and words in lines[0], lines[0]


def test_a_bad_csv_in_a_real_process_prints_no_traceback(tmp_path):
    path = write_csv(tmp_path / "data.csv", "a,b,y\n" + "1,x,3\n" * 12)
    process = run_command("train", "--csv", path, "--target", "y", "--out", tmp_path / "out")
    assert process.returncode == 2
    assert "Traceback" not in process.stderr
    assert error_lines(process.stderr) == [f"weightnoise: error: {path} line 2, column 'b': 'x' is not a number"]


def test_a_user_csv_runs_end_to_end(tmp_path, capsys):
    path = good_csv(tmp_path / "houses.csv")
    out = tmp_path / "out"
    code = cli.main(["train", "--csv", str(path), "--target", "price", "--hidden", "4", "--epochs", "3",
                     "--etas", "0.01", "--eval-draws", "4", "--no-plots", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    assert results["data"]["feature_names"] == ["a", "b"] and results["data"]["target"] == "price"
    assert results["data"]["n_train"] == 30 and results["data"]["n_test"] == 10
    assert results["model"]["layer_sizes"] == [2, 4, 1]


def test_diabetes_data_loads_when_scikit_learn_is_installed():
    pytest.importorskip("sklearn")
    dataset = datasets.load("diabetes", seed=0)
    assert dataset.n_features == 10 and dataset.X_train.shape[0] + dataset.X_test.shape[0] == 442


def test_synthetic_data_is_deterministic_standardized_and_split_by_seed():
    first, again, other = (datasets.load("synthetic", n_examples=200, seed=s) for s in (3, 3, 4))
    assert np.array_equal(first.X_train, again.X_train) and np.array_equal(first.y_test, again.y_test)
    assert not np.array_equal(first.X_train, other.X_train)
    assert first.X_train.shape == (150, 5) and first.X_test.shape == (50, 5)
    np.testing.assert_allclose(first.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(first.X_train.std(axis=0), 1, rtol=1e-12)
    assert first.y_train.mean() == pytest.approx(0, abs=1e-12) and first.y_train.std() == pytest.approx(1)
    assert first.X_train.flags.c_contiguous and first.X_train.dtype == np.float64


def test_terminals_without_unicode_get_ascii_symbols():
    text = "J̃_η ± stderr, J + ηΩ + ηC — slope ≈ 2"
    assert report.for_terminal(text, "utf-8") == text
    assert report.for_terminal(text, "ascii") == "J~_eta +- stderr, J + etaOmega + etaC - slope ~ 2"
