"""The run cache fails loudly and recovers: unreadable or inconsistent files are named, moved
aside and the run trains again to the same numbers; a cache that cannot be written fails before
training; temporary files of killed writers are removed, and a failed write leaves none."""

import os

import pytest
import torch

from mlteach.train import TrainConfig, train
from mlteach.train import trainer as trainer_module
from mlteach.train.cache import CorruptCacheFile, RunCacheError, load_state, save_atomic

CONFIG = TrainConfig(epochs=2, batch_size=16, progress=False, model_kwargs={"widths": (8, 16)})


@pytest.fixture
def finished(tmp_path, tiny_data):
    """A finished run (trained once, quietly) and its data."""
    data = tiny_data()
    return train(CONFIG, data, tmp_path / "runs"), data


def _retrained(result, data, match):
    with pytest.warns(UserWarning, match=match):
        again = train(CONFIG, data, result.run_dir.parent)
    assert not again.from_cache and again.key == result.key
    timings = ("train_seconds",)
    assert {k: v for k, v in again.metrics.items() if k not in timings} == \
        {k: v for k, v in result.metrics.items() if k not in timings}
    return again


@pytest.mark.parametrize("content", [b"", b'{"records": [', b"\xff\xfe garbage", b"[1, 2]", b'{"config": {}}'])
def test_unreadable_result_is_moved_aside_and_the_run_trains_again(finished, content):
    result, data = finished
    (result.run_dir / "result.json").write_bytes(content)
    _retrained(result, data, r"result\.json: unusable finished run .*moved result\.json to result\.json\.corrupt-")
    assert len(list(result.run_dir.glob("result.json.corrupt-*"))) == 1
    assert train(CONFIG, data, result.run_dir.parent).from_cache  # repaired


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", b"not a zip file"])
def test_unreadable_model_is_named_with_a_remedy_then_retrained(finished, content):
    result, data = finished
    (result.run_dir / "model.pt").write_bytes(content)
    with pytest.raises(CorruptCacheFile,
                       match=r"model\.pt: the run cache file cannot be read .*Delete this file and run again"):
        result.load_model()
    _retrained(result, data,
               r"unusable finished run \(model\.pt: .*moved result\.json to .*, model\.pt to model\.pt\.corrupt-")
    assert result.load_model() is not None


def _checkpoint_only(result):
    for name in ("result.json", "model.pt"):
        (result.run_dir / name).unlink()
    return result.run_dir / "checkpoint.pt"


@pytest.mark.parametrize("change, problem", [
    ({"epoch": 99}, r"its epoch 99 is not a whole number in \[0, 2\]"),
    ({"epoch": -1}, r"its epoch -1 is not"),
    ({"epoch": 1.5}, r"its epoch 1\.5 is not"),
    ({"epoch": 1}, r"its step \d+ does not match epoch 1"),
    ({"records": []}, r"its records cover the epochs \[\], not 1 to 2"),
    ({"model": None}, r"it does not fit this run \(TypeError"),
])
def test_impossible_checkpoint_is_moved_aside_and_training_restarts(finished, change, problem):
    result, data = finished
    checkpoint = _checkpoint_only(result)
    state = load_state(checkpoint)
    state.update(change)
    save_atomic(state, checkpoint)
    _retrained(result, data, r"checkpoint\.pt: unusable checkpoint: " + problem)


def test_truncated_checkpoint_is_moved_aside_and_training_restarts(finished):
    result, data = finished
    checkpoint = _checkpoint_only(result)
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    _retrained(result, data, r"checkpoint\.pt: unusable checkpoint: the run cache file cannot be read")


def test_unwritable_cache_fails_before_training(tmp_path, tiny_data, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setattr(trainer_module.Trainer, "fit", lambda *args: pytest.fail("trained before checking"))
    with pytest.raises(RunCacheError, match=r"not-a-folder/runs/\w+: the run cache cannot be written .*MLTEACH_RUNS"):
        train(CONFIG, tiny_data(), blocker / "runs")


def test_stale_temporaries_are_removed_and_live_ones_kept(finished):
    result, data = finished
    (result.run_dir / "result.json").unlink()
    stale = result.run_dir / f".checkpoint.pt.{2 ** 22 + 12345}.tmp"  # above any pid in use here
    live = result.run_dir / f".checkpoint.pt.{os.getppid()}.tmp"
    stale.write_bytes(b"half")
    live.write_bytes(b"being written")
    train(CONFIG, data, result.run_dir.parent)  # result.json is gone: the run resumes
    assert not stale.exists() and live.exists()


def test_a_failed_write_leaves_no_temporary(tmp_path, monkeypatch):
    def failing_save(state, path):
        path.write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_atomic({"a": 1}, tmp_path / "checkpoint.pt")
    assert list(tmp_path.iterdir()) == []
