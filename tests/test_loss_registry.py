"""The loss registry (mlteach.losses.registry) covers every public loss, and every place it
points at exists: the module twin, the book pages, the test file, the benchmark row."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from torch import nn

import mlteach.losses as losses
from mlteach.losses.registry import LOSSES, entry, public_losses

ROOT = Path(__file__).resolve().parents[1]
TOC = (ROOT / "_toc.yml").read_text(encoding="utf-8")
BENCHMARK_RESULTS = ROOT / "benchmarks" / "results" / "bench_losses-cpu.json"


def test_every_public_loss_has_exactly_one_entry():
    names = [item.function for item in LOSSES]
    assert len(names) == len(set(names)), "a loss has two entries"
    assert sorted(names) == public_losses()
    with pytest.raises(KeyError, match="no entry"):
        entry("no_such_loss")


@pytest.mark.parametrize("item", LOSSES, ids=lambda item: item.function)
def test_function_and_module_twin_are_exported(item):
    assert callable(getattr(losses, item.function))
    twin = getattr(losses, item.module)
    assert issubclass(twin, nn.Module)
    assert item.function in getattr(losses, item.family).__all__, f"{item.function} is not in {item.family}"


@pytest.mark.parametrize("item", LOSSES, ids=lambda item: item.function)
def test_book_pages_exist_and_are_in_the_table_of_contents(item):
    for page in filter(None, (item.derivation, item.explorer)):
        assert (ROOT / f"{page}.md").exists(), f"{item.function}: {page}.md does not exist"
        assert re.search(rf"file: {re.escape(page)}\s*$", TOC, re.MULTILINE), f"{page} is not in _toc.yml"


@pytest.mark.parametrize("item", LOSSES, ids=lambda item: item.function)
def test_the_test_file_exercises_the_loss(item):
    tests = ROOT / item.tests
    assert tests.exists(), f"{item.function}: {item.tests} does not exist"
    text = tests.read_text(encoding="utf-8") + (tests.parent / "conftest.py").read_text(encoding="utf-8")
    assert item.function in text or item.module in text, f"{item.tests} never names {item.function}"


def test_benchmark_rows_are_in_the_results_file_the_book_shows():
    results = json.loads(BENCHMARK_RESULTS.read_text(encoding="utf-8"))
    rows = {row["loss"] for row in results["losses"]} | {row["variant"] for row in results["group_softmax"]["rows"]}
    missing = [item.benchmark for item in LOSSES if item.benchmark is not None and item.benchmark not in rows]
    assert missing == [], f"benchmark rows missing from {BENCHMARK_RESULTS.name}: {missing}"
    assert {"date", "machine", "threads", "device"} <= set(results)
