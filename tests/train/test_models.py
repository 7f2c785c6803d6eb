"""Models expose features, the classifier and (CNNs) feature maps; CAMs are exact; pretraining
is cached and reused."""

import pytest
import torch

from mlteach.models import build_model, class_activation_maps
from mlteach.train import PretrainConfig, TrainConfig, pretrained_backbone, train
from mlteach.train.pretrain import pretraining_task


@pytest.mark.parametrize("name, shape, kwargs", [
    ("small_cnn", (1, 16, 16), {}),
    ("small_cnn", (3, 12, 12), {"widths": (8, 16, 16)}),
    ("resnet", (1, 16, 16), {"widths": (8, 16), "blocks": (1, 2)}),
    ("mlp", (103,), {"hidden": (32, 16), "dropout": 0.1}),
])
def test_forward_features_and_classifier_agree(name, shape, kwargs):
    model = build_model(name, shape, 7, **kwargs).eval()
    x = torch.randn(4, *shape)
    logits, features = model(x, with_features=True)
    assert logits.shape == (4, 7) and features.shape == (4, model.feature_dim)
    torch.testing.assert_close(model(x), logits)
    torch.testing.assert_close(model.classifier(model.features(x)), logits)
    assert model.classifier.weight.shape == (7, model.feature_dim)


@pytest.mark.parametrize("name", ["small_cnn", "resnet"])
def test_class_activation_maps_average_to_the_logits(name):
    model = build_model(name, (1, 16, 16), 5).eval()
    x = torch.randn(3, 1, 16, 16)
    cams = class_activation_maps(model, x, upsample=False)
    torch.testing.assert_close(cams.mean(dim=(2, 3)) + model.classifier.bias, model(x))
    assert class_activation_maps(model, x).shape == (3, 5, 16, 16)


def test_build_model_rejects_bad_requests():
    with pytest.raises(ValueError, match="unknown model"):
        build_model("vgg", (1, 8, 8), 3)
    with pytest.raises(ValueError, match="image inputs"):
        build_model("small_cnn", (64,), 3)
    with pytest.raises(ValueError, match="dropout"):
        build_model("mlp", (4,), 3, dropout=1.0)
    with pytest.raises(ValueError, match="unknown head 'gcn'"):
        build_model("mlp", (4,), 3, head="gcn")
    with pytest.raises(ValueError, match="the label_graph head needs the training targets"):
        build_model("mlp", (4,), 3, head="label_graph")
    with pytest.raises(ValueError, match="experts must be a positive integer"):
        build_model("mlp", (4,), 3, head="experts", head_kwargs={"experts": 0})


def test_the_experts_head_predicts_the_mean_of_its_experts_and_its_cams_stay_exact():
    torch.manual_seed(0)
    model = build_model("small_cnn", (1, 16, 16), 5, head="experts", head_kwargs={"experts": 4}).eval()
    x = torch.randn(3, 1, 16, 16)
    experts = model.classifier.expert_logits(model.features(x))
    assert experts.shape == (4, 3, 5)
    torch.testing.assert_close(model(x), experts.mean(dim=0))
    cams = class_activation_maps(model, x, upsample=False)
    torch.testing.assert_close(cams.mean(dim=(2, 3)) + model.classifier.bias, model(x))


def test_balpoe_trains_the_experts_head_and_refuses_any_other(tmp_path, tiny_data):
    with pytest.raises(ValueError, match="balpoe_loss trains the experts of model_kwargs head='experts'"):
        TrainConfig(loss="balpoe_loss", model="mlp")
    with pytest.raises(ValueError, match="that head needs balpoe_loss"):
        TrainConfig(loss="bce_loss", model="mlp", model_kwargs={"head": "experts"})
    config = TrainConfig(loss="balpoe_loss", model="small_cnn", model_kwargs={"widths": (4, 8), "head": "experts"},
                         epochs=1, batch_size=32, progress=False)
    result = train(config, tiny_data(), tmp_path)
    assert type(result.load_model().classifier).__name__ == "ExpertClassifiers"


def test_a_label_graph_model_is_trained_from_its_labels_and_loads_with_its_graph(tmp_path, tiny_data):
    config = TrainConfig(loss="bce_loss", model="small_cnn", epochs=1, batch_size=32, progress=False,
                         model_kwargs={"widths": (4, 8), "head": "label_graph", "head_kwargs": {"hidden_dim": 8}})
    data = tiny_data()
    result = train(config, data, tmp_path)
    model = result.load_model()
    expected = build_model("small_cnn", (1, 8, 8), data.train.num_classes, labels=data.train.targets,
                           widths=(4, 8), head="label_graph", head_kwargs={"hidden_dim": 8}).classifier
    torch.testing.assert_close(model.classifier.adjacency, expected.adjacency)  # the training graph, not eye's
    assert not torch.equal(model.classifier.adjacency, torch.eye(len(expected.adjacency)))


def test_pretrained_backbone_is_trained_once_and_reused(tmp_path, tiny_data):
    pretrain = PretrainConfig(digits="sklearn", image_size=8, epochs=3, batch_size=64, lr=1e-2)
    first = pretrained_backbone(pretrain, "small_cnn", {"widths": (8, 16)}, runs_dir=tmp_path)
    assert first["held_out_accuracy"] > 0.5  # ten classes: chance is 0.1
    (stored,) = tmp_path.glob("pretrain-*/backbone.pt")
    modified = stored.stat().st_mtime_ns
    again = pretrained_backbone(pretrain, "small_cnn", {"widths": (8, 16)}, runs_dir=tmp_path)
    assert stored.stat().st_mtime_ns == modified
    for key, value in first["backbone"].items():
        torch.testing.assert_close(again["backbone"][key], value)

    config = TrainConfig(model_kwargs={"widths": (8, 16)}, pretrained=pretrain, epochs=1,
                         freeze_backbone=True, progress=False)
    result = train(config, tiny_data(), runs_dir=tmp_path)
    model = result.load_model()
    for key, value in first["backbone"].items():
        torch.testing.assert_close(model.backbone.state_dict()[key], value)


def test_pretraining_on_the_data_source_is_refused(tmp_path, tiny_data):
    data = tiny_data()
    data.meta["source"] = "sklearn"
    config = TrainConfig(pretrained=PretrainConfig(digits="sklearn"), progress=False)
    with pytest.raises(ValueError, match="validation and test digits"):
        train(config, data, runs_dir=tmp_path)


def test_rotation_pretraining_labels_the_quarter_turns_and_never_the_digits():
    digit = PretrainConfig(digits="sklearn")
    rotation = PretrainConfig(digits="sklearn", task="rotation")
    images, labels, classes = pretraining_task(rotation)
    originals, digits, digit_classes = pretraining_task(digit)
    n = len(originals)
    assert (classes, digit_classes) == (4, 10) and len(images) == 4 * n
    assert labels.tolist() == [0] * n + [1] * n + [2] * n + [3] * n
    torch.testing.assert_close(images[n + 7], torch.rot90(originals[7], 1, dims=(1, 2)))
    torch.testing.assert_close(images[3 * n + 7], torch.rot90(originals[7], 3, dims=(1, 2)))
    with pytest.raises(ValueError, match="pretrain task"):
        PretrainConfig(task="jigsaw")


def test_a_finished_run_stores_the_selected_models_logits_of_validation_and_test(tmp_path, tiny_data):
    data = tiny_data()
    config = TrainConfig(model="small_cnn", model_kwargs={"widths": (4, 8)}, epochs=2, batch_size=32, progress=False)
    result = train(config, data, tmp_path)
    stored = torch.load(result.run_dir / "evaluation_logits.pt", weights_only=True)
    model = result.load_model()
    with torch.no_grad():
        for split in ("val", "test"):
            torch.testing.assert_close(stored[split], model(getattr(data, split).inputs), rtol=1e-4, atol=1e-5)
