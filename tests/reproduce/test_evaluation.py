"""The stored scores of a run: computed once, read back unchanged, computed again when the
scoring code changes."""

from types import SimpleNamespace

import numpy as np

from mlteach.reproduce import evaluation
from mlteach.reproduce.evaluation import stored_score

CALLS = []


def score(result, data):
    CALLS.append(result.run_dir)
    return {"mAP_class": 71.25, "mAP_class_boot": np.linspace(70.0, 72.0, 5), "grouping": "discriminative",
            "classes": 10, "peak": np.float64(40.5), "epoch": np.int64(3)}


def other_score(result, data):
    return {"mAP_class": 1.0}


def test_a_score_is_computed_once_and_read_back_with_its_types(tmp_path):
    CALLS.clear()
    run = SimpleNamespace(run_dir=tmp_path)
    first = stored_score(score, run, None)
    again = stored_score(score, run, None)
    assert CALLS == [tmp_path]  # the second call read the run's folder
    assert again["mAP_class"] == 71.25 and again["grouping"] == "discriminative" and again["classes"] == 10
    assert again["peak"] == 40.5 and again["epoch"] == 3  # NumPy scalars come back as numbers
    assert isinstance(again["mAP_class_boot"], np.ndarray)
    np.testing.assert_array_equal(again["mAP_class_boot"], first["mAP_class_boot"])


def test_each_scoring_function_and_code_version_has_its_own_file(tmp_path, monkeypatch):
    CALLS.clear()
    run = SimpleNamespace(run_dir=tmp_path)
    stored_score(score, run, None)
    assert stored_score(other_score, run, None) == {"mAP_class": 1.0}
    assert len(list(tmp_path.glob("scores-*.pt"))) == 2
    monkeypatch.setattr(evaluation, "_source_hash", lambda module: "edited source")
    stored_score(score, run, None)
    assert len(CALLS) == 2  # the edited code scored the run again


def test_a_score_defined_in_a_notebook_cell_is_computed_every_time(tmp_path):
    namespace = {"__name__": "__main__"}  # what a Jupyter cell's functions report
    exec("def cell_score(result, data):\n    return {'x': 1.0}", namespace)
    run = SimpleNamespace(run_dir=tmp_path)
    assert evaluation.score_path(namespace["cell_score"], run) is None
    assert stored_score(namespace["cell_score"], run, None) == {"x": 1.0}
    assert not list(tmp_path.iterdir())
