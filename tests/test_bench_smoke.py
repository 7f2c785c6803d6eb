"""Smoke test of benchmarks/bench_losses.py: the quick run measures every exported loss, checks the
O(B*C) forms against the naive pairwise ones, prints the three markdown tables and nothing else
(no profiler lines), and writes a results file with where it was measured."""

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

import mlteach.losses as losses

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_losses.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_losses", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_measures_every_exported_loss(capfd, tmp_path):
    threads = torch.get_num_threads()
    output = tmp_path / "results.json"
    try:
        results = load_bench().main(["--quick", "--output", str(output)])
    finally:
        torch.set_num_threads(threads)
    printed, errors = capfd.readouterr()
    assert errors == "", f"the benchmark wrote to stderr: {errors[:300]}"
    assert "USDT" not in printed and "profiler" not in printed
    exported = [name for name in losses.__all__ if name.endswith("_loss") and name != "group_softmax_loss"]
    measured = {label.split(" ")[0] for label in results["losses"]}
    assert set(exported) <= measured | {note.split(" ")[0] for note in results["skipped"]}
    for label, by_size in results["losses"].items():
        assert len(by_size) == 2, label
        for seconds, nbytes, time_ratio, memory_ratio in by_size.values():
            assert seconds > 0 and nbytes >= 0 and math.isfinite(time_ratio) and math.isfinite(memory_ratio)
        assert f"| {label} |" in printed
    assert [row[0] for row in results["pairwise"]] == ["LSEP", "C-LSEP", "DR (gamma2=10)"]
    assert len(results["group_softmax"]) == 5
    assert printed.count("|---") >= 3
    written = json.loads(output.read_text())
    assert {"date", "machine", "device", "threads", "torch", "repeats"} <= set(written)
    assert written["threads"] == 1 and written["machine"]["cores"] >= 1
    assert {row["loss"] for row in written["losses"]} == set(results["losses"])
    assert [row["loss"] for row in written["pairwise"]["rows"]] == ["LSEP", "C-LSEP", "DR (gamma2=10)"]
    # the reference row's own ratios are exactly 1 (medians of per-repeat ratios to itself)
    group_ratios = {row["variant"]: row["x_plain_layers"] for row in written["group_softmax"]["rows"]}
    assert group_ratios["4 plain linear layers + cross-entropy each"] == 1.0
    assert all(ratio > 0 and math.isfinite(ratio) for ratio in group_ratios.values())


@pytest.mark.filterwarnings("ignore::DeprecationWarning:torch")  # torch's own, on importing the compiler
def test_compiled_table_times_each_loss_eager_and_under_torch_compile():
    bench = load_bench()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        rows = bench.compiled_table(8, 5, torch.device("cpu"), 2, torch.Generator().manual_seed(0),
                                    names=["focal_loss"])
    finally:
        torch.set_num_threads(threads)
    assert list(rows) == ["(x * t).sum() (the floor)", "focal_loss"]
    for eager, compiled, compile_seconds, error in rows.values():
        assert error is None
        assert eager > 0 and compiled > 0 and compile_seconds > 0
        assert math.isfinite(eager) and math.isfinite(compiled)
    document = bench.results_document(
        dict(losses={}, skipped=[], pairwise=[], group_softmax={}, compiled=rows), device=torch.device("cpu"),
        threads=1, repeats=2, sizes=[(8, 5)], pair_classes=20, group_shape={}, started="now", machine={})
    assert document["compiled"]["size"] == "8x5"
    assert [row["loss"] for row in document["compiled"]["rows"]] == list(rows)
