"""The red-team findings of issue 18, each kept from coming back: one concrete input per failure
class (silent wrong results, unclear errors), taken from the red-team run against the package.
The systematic checks live beside each module (tests/losses/test_second_derivatives.py,
test_numeric_properties.py, test_settings_validation.py, tests/data/loaders/*,
tests/train/test_cache_recovery.py); this module is the short list a reader can audit."""

import json

import pytest
import torch

import mlteach.losses as losses
from mlteach.data.loaders import (AnnotationFileError, load_coco, load_cub_attributes, load_openimages,
                                  load_voc)
from mlteach.data.splits import LabelledSplit, MultiLabelData
from mlteach.train import TrainConfig, train
from mlteach.train.cache import CorruptCacheFile, RunCacheError, load_state, save_atomic
from mlteach.train.trainer import Trainer

LOGITS = torch.tensor([[2.0, -1.0, 0.5, 0.3], [-0.5, 1.5, -2.0, 0.8], [0.1, 0.2, -0.3, 1.1]])
TARGETS = torch.tensor([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 1.0, -1.0], [1.0, 0.0, 0.0, 1.0]])


# ------------------------------------------------------------ silent wrong results: second derivatives

@pytest.mark.parametrize("loss", [
    lambda x, t: losses.focal_loss(x, t),
    lambda x, t: losses.asymmetric_loss(x, t),
    lambda x, t: losses.entropy_maximization_loss(x, t),
    lambda x, t: losses.large_loss(x, t, rate=0.2),
    lambda x, t: losses.lsep_loss(x, t),
    lambda x, t: losses.two_way_loss(x, t),
], ids=["focal", "ASL", "EM", "LL-R", "LSEP", "two-way"])
def test_gradient_penalty_is_exact(loss):
    """Was: a different gradient from plain autograd (deep models) or "element 0 of tensors does
    not require grad" (a linear model); the log-sum-exp losses refused double backward."""
    x = LOGITS.double().requires_grad_(True)
    assert torch.autograd.gradgradcheck(lambda z: loss(z, TARGETS), (x,))
    weight = torch.eye(4, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(loss(LOGITS.double() @ weight, TARGETS), weight, create_graph=True)
    (second,) = torch.autograd.grad(grad.pow(2).sum(), weight)
    assert torch.isfinite(second).all() and second.abs().sum() > 0


# ------------------------------------------------------------ silent wrong results: non-finite values

@pytest.mark.parametrize("loss, logits", [
    (lambda x, t: losses.dr_loss(x, t), LOGITS * 3e8),
    (lambda x, t: losses.dr_loss(x, t), LOGITS * 1e30),
    (lambda x, t: losses.two_way_loss(x, t, tp=1e-10), LOGITS),
    (lambda x, t: losses.two_way_loss(x, t, tn=1e-10), LOGITS),
    (lambda x, t: losses.lsep_loss(x, t, gamma=1e10), LOGITS),
    (lambda x, t: losses.dr_loss(x, t, gamma1=1e10, gamma2=1e10), LOGITS),
    (lambda x, t: losses.multilabel_softmax_loss(x, t), LOGITS.sign() * 1e38),
], ids=["DR 3e8", "DR 1e30", "two-way tp=1e-10", "two-way tn=1e-10", "LSEP gamma=1e10", "DR gamma=1e10",
        "softmax 1e38"])
def test_finite_loss_and_gradient_in_float32(loss, logits):
    x = logits.float().requires_grad_(True)
    value = loss(x, TARGETS)
    (grad,) = torch.autograd.grad(value, x)
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    if logits.abs().max() < 1e20:  # where float64 holds the same inputs exactly enough to compare
        torch.testing.assert_close(value.double(), loss(logits.double(), TARGETS), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("loss", [
    lambda x, t: losses.distribution_balanced_loss(x, t, [5, 3, 8, 2], 10),
    lambda x, t: losses.dr_loss(x, t),
], ids=["DB", "DR"])
def test_a_loss_beyond_float32_is_inf_never_nan(loss):
    """At logits of 3e38 the exact loss (lambda or gamma times the logits) exceeds float32:
    it rounds to inf, and the gradient stays finite (was NaN)."""
    x = (LOGITS.sign() * 3e38).requires_grad_(True)
    value = loss(x, TARGETS)
    (grad,) = torch.autograd.grad(value, x)
    assert value == torch.inf and torch.isfinite(grad).all()


# ------------------------------------------------------------ bad hyper-parameters and targets

@pytest.mark.parametrize("call", [
    lambda: losses.lsep_loss(LOGITS, TARGETS, gamma=True),
    lambda: losses.dr_loss(LOGITS, TARGETS, gamma1=True),
    lambda: losses.warp_loss(LOGITS, TARGETS, margin=True),
    lambda: losses.distribution_balanced_loss(LOGITS, TARGETS, [5, 3, 8, 2], 10, neg_scale=True),
    lambda: losses.focal_loss(LOGITS, TARGETS, gamma=True),
    lambda: losses.asymmetric_loss(LOGITS, TARGETS, eps=1.0),
    lambda: losses.asymmetric_loss(LOGITS, TARGETS, eps=2.0),
    lambda: losses.FocalLoss(gamma=-1.0),
    lambda: losses.AsymmetricLoss(clip=float("nan")),
    lambda: losses.LargeLoss(rate=1.5),
    lambda: losses.EntropyMaximizationLoss(alpha=float("inf")),
    lambda: losses.DownWeightLoss(assumed_negative_weight=True),
    lambda: losses.LabelSmoothingLoss(smoothing=0.9),
    lambda: losses.DistributionBalancedLoss([5, 3], 10, focal_gamma=-2.0),
], ids=["lsep bool", "dr bool", "warp bool", "db bool", "focal bool", "asl eps=1", "asl eps=2", "FocalLoss",
        "AsymmetricLoss", "LargeLoss", "EntropyMaximizationLoss", "DownWeightLoss", "LabelSmoothingLoss",
        "DistributionBalancedLoss"])
def test_bad_settings_are_refused_with_their_name_and_range(call):
    with pytest.raises(ValueError, match=r"(gamma|gamma1|margin|neg_scale|eps|clip|rate|alpha|"
                                         r"assumed_negative_weight|smoothing|focal_gamma) must be a finite "
                                         r"number in [\[(].*[\])], got"):
        call()


@pytest.mark.parametrize("name", ["bce_loss", "down_weight_loss"])
def test_targets_requiring_grad_are_labels(name):
    value = getattr(losses, name)(LOGITS, TARGETS.clone().requires_grad_(True))
    torch.testing.assert_close(value, getattr(losses, name)(LOGITS, TARGETS))


def test_group_softmax_with_uint8_targets():
    features, weight = torch.randn(4, 6), torch.randn(6, 3)
    targets = torch.tensor([0, 1, 2, 1])
    torch.testing.assert_close(losses.group_softmax_loss(features, weight, targets.to(torch.uint8), groups=2),
                               losses.group_softmax_loss(features, weight, targets, groups=2))


# ------------------------------------------------------------ loaders that guessed

def _coco(root, images, categories=({"id": 1, "name": "person"},), annotations=()):
    (root / "annotations").mkdir(exist_ok=True)
    path = root / "annotations" / "instances_val2017.json"
    path.write_text(json.dumps({"images": list(images), "categories": list(categories),
                                "annotations": list(annotations)}))
    return path


@pytest.mark.parametrize("images, categories, message", [
    ([{"id": 1, "file_name": "a.jpg"}, {"id": 1, "file_name": "b.jpg"}], [{"id": 1, "name": "p"}],
     "image id 1 appears"),
    ([{"id": 1, "file_name": "a.jpg"}], [{"id": 1, "name": "p"}, {"id": 1, "name": "q"}], "category id 1 appears"),
    ([{"id": 1.7, "file_name": "a.jpg"}], [{"id": 1, "name": "p"}], "id is 1.7, expected an integer"),
    ([{"id": True, "file_name": "a.jpg"}], [{"id": 1, "name": "p"}], "id is True, expected an integer"),
    ([{"id": 1, "file_name": "../../x.jpg"}], [{"id": 1, "name": "p"}], "names '../../x.jpg'"),
])
def test_coco_refuses_duplicates_wrong_types_and_escaping_names(tmp_path, images, categories, message):
    _coco(tmp_path, images, categories)
    with pytest.raises(AnnotationFileError, match=r"instances_val2017\.json: .*" + message.replace(".", r"\.")):
        load_coco(tmp_path, year="2017", split="val")


def test_coco_bad_bytes_nesting_and_missing_images(tmp_path):
    path = _coco(tmp_path, [{"id": 1, "file_name": "a.jpg"}])
    with pytest.raises(FileNotFoundError, match=r"a\.jpg: image file not found \(entry 0\)"):
        load_coco(tmp_path, year="2017", split="val", check_images=True)
    path.write_bytes(b'{"images": "\xff"}')
    with pytest.raises(AnnotationFileError, match=r"instances_val2017\.json: .*line 1 is not UTF-8"):
        load_coco(tmp_path, year="2017", split="val")
    path.write_text("[" * 50_000 + "]" * 50_000)
    with pytest.raises(AnnotationFileError, match="nested too deeply"):
        load_coco(tmp_path, year="2017", split="val")


def test_cub_split_flag_2_is_refused(tmp_path):
    root = tmp_path / "CUB_200_2011"
    (root / "attributes").mkdir(parents=True)
    (tmp_path / "attributes.txt").write_text("1 has_bill_shape::curved\n")
    (root / "images.txt").write_text("1 a/a.jpg\n2 a/b.jpg\n")
    (root / "train_test_split.txt").write_text("1 1\n2 2\n")
    (root / "attributes" / "image_attribute_labels.txt").write_text("1 1 1 3 1.0\n2 1 0 3 1.0\n")
    with pytest.raises(AnnotationFileError, match=r"train_test_split\.txt: .*line 2 has the split flag '2'"):
        load_cub_attributes(root)


@pytest.mark.parametrize("classes, message", [
    ("/m/01,Cat\n/m/01,Dog\n", "LabelName '/m/01' appears at line 1 and again at line 2"),
    ("/m/01,Cat\n/m/02,D\x00og\n", "line 2 holds a NUL byte"),
])
def test_openimages_refuses_duplicate_names_and_nul_bytes(tmp_path, classes, message):
    (tmp_path / "classes.csv").write_text(classes)
    (tmp_path / "labels.csv").write_text("ImageID,Source,LabelName,Confidence\nimg1,v,/m/01,1\n")
    with pytest.raises(AnnotationFileError, match=message):
        load_openimages(tmp_path / "labels.csv", tmp_path / "classes.csv", tmp_path / "images")


def test_voc_refuses_ids_leaving_the_dataset_root(tmp_path):
    base = tmp_path / "VOCdevkit" / "VOC2007"
    (base / "ImageSets" / "Main").mkdir(parents=True)
    (base / "ImageSets" / "Main" / "trainval.txt").write_text("../../../elsewhere/x\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.xml").write_text("<annotation><object><name>dog</name></object></annotation>")
    with pytest.raises(AnnotationFileError, match=r"trainval\.txt: .*line 1 names '\.\./\.\./\.\./elsewhere/x\.xml'"):
        load_voc(tmp_path / "VOCdevkit")


# ------------------------------------------------------------ a run cache that blocked or guessed

CONFIG = TrainConfig(epochs=2, batch_size=16, progress=False, model_kwargs={"widths": (8, 16)})


@pytest.fixture
def tiny_data():
    """A tiny random 5-class data set of 8 x 8 one-channel images."""
    generator = torch.Generator().manual_seed(0)

    def split(n):
        labels = (torch.rand(n, 5, generator=generator) < 0.4).float()
        labels[:, 0] = 1.0
        return LabelledSplit(torch.randn(n, 1, 8, 8, generator=generator), labels, labels.clone())

    return lambda: MultiLabelData(split(48), split(16), split(16), class_names=[f"c{c}" for c in range(5)])


def test_run_cache_failures_are_named_and_recovered(tmp_path, tiny_data):
    data = tiny_data()
    result = train(CONFIG, data, tmp_path / "runs")
    (result.run_dir / "result.json").write_text('{"records": [')  # truncated
    with pytest.warns(UserWarning, match=r"result\.json: unusable finished run .*JSONDecodeError"):
        assert not train(CONFIG, data, tmp_path / "runs").from_cache
    (result.run_dir / "model.pt").write_bytes(b"garbage")
    with pytest.raises(CorruptCacheFile,
                       match=r"model\.pt: the run cache file cannot be read .*Delete this file and run again"):
        result.load_model()


def test_checkpoint_with_an_impossible_epoch_is_not_used(tmp_path, tiny_data):
    data = tiny_data()
    result = train(CONFIG, data, tmp_path / "runs")
    state = load_state(result.checkpoint_path)
    state["epoch"] = 7
    trainer = Trainer.__new__(Trainer)
    trainer.config, trainer.steps_per_epoch = CONFIG, state["step"] // 2
    assert trainer.checkpoint_problem(state) == "its epoch 7 is not a whole number in [0, 2]"
    for name in ("result.json", "model.pt"):
        (result.run_dir / name).unlink()
    save_atomic(state, result.checkpoint_path)
    with pytest.warns(UserWarning, match=r"checkpoint\.pt: unusable checkpoint: its epoch 7"):
        again = train(CONFIG, data, tmp_path / "runs")
    assert again.records.drop(columns="seconds").equals(result.records.drop(columns="seconds"))


def test_unwritable_cache_fails_before_training_with_the_path(tmp_path, tiny_data):
    (tmp_path / "file").write_text("")
    with pytest.raises(RunCacheError, match=r"file/runs/\w+: the run cache cannot be written"):
        train(CONFIG, tiny_data(), tmp_path / "file" / "runs")
