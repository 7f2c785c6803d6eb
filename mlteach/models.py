"""Models of the book: a backbone that produces features, then one linear classifier.

Every model exposes the same three things, so the trainer, the group softmax loss and the class
activation maps never need to know which model they hold:

- ``backbone``: everything before the classifier (what pretraining trains and LinearInit freezes);
- ``features(x)``: the ``[B, D]`` feature vectors (global-average-pooled for the CNNs);
- ``classifier``: an ``nn.Linear(D, C)``; ``classifier.weight`` is ``[C, D]``.

``forward(x)`` returns the logits ``[B, C]``; ``forward(x, with_features=True)`` returns
``(logits, features)`` in one pass (what a loss on features needs, e.g. group softmax, and what a
``DistributedDataParallel`` wrapper must see, since it only synchronises through ``forward``).
The CNNs also have ``feature_maps(x)`` (``[B, D, h, w]``, before pooling): logits are the
classifier applied to their spatial mean, which is what makes class activation maps exact.

Models:

- :class:`SmallCNN` -- the default for digit mosaics: a few 3x3 conv stages, 2x2 max-pool between
  stages, global average pooling. About 20k parameters at the default widths.
- :class:`ResNet` -- residual stages of basic blocks, for larger mosaics and GPU runs.
- :class:`MLP` -- for feature tables (yeast).

The classifier is one linear layer unless ``head`` says otherwise (:data:`HEADS`): ``"experts"``
puts several linear classifiers on the same features (:class:`ExpertClassifiers`, BalPoE's
experts), ``"label_graph"`` computes the classifier from the label graph
(:class:`~mlteach.label_graph.LabelGraphClassifier`, the ML-GCN substitute).
:func:`build_model` builds any of them by name from the input shape and the number of classes;
:func:`class_activation_maps` computes CAMs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .label_graph import LabelGraphClassifier

__all__ = ["SmallCNN", "ResNet", "MLP", "MODELS", "HEADS", "ExpertClassifiers", "build_model",
           "class_activation_maps"]


def _conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class _ConvNet(nn.Module):
    """Shared head of the CNNs: ``backbone`` gives feature maps, pooled then classified."""

    backbone: nn.Module
    classifier: nn.Linear

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor, with_features: bool = False):
        features = self.features(x)
        logits = self.classifier(features)
        return (logits, features) if with_features else logits


class SmallCNN(_ConvNet):
    """Conv-BN-ReLU stages with a 2x2 max-pool between consecutive stages.

    With the default ``widths=(32, 64)`` a 16x16 mosaic of 8x8 digits gives 8x8 feature maps:
    each mosaic cell maps to a 4x4 patch of the class activation map.
    """

    def __init__(self, num_classes: int, in_channels: int = 1, widths: tuple[int, ...] = (32, 64)):
        super().__init__()
        if not widths:
            raise ValueError("SmallCNN: widths must name at least one stage")
        layers: list[nn.Module] = []
        channels = in_channels
        for stage, width in enumerate(widths):
            if stage > 0:
                layers.append(nn.MaxPool2d(2))
            layers.append(_conv_bn_relu(channels, width))
            channels = width
        self.backbone = nn.Sequential(*layers)
        self.feature_dim = channels
        self.classifier = nn.Linear(channels, num_classes)


class _BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (1x1 projection when the shape changes)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = _conv_bn_relu(in_channels, out_channels, stride)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn2(self.conv2(self.conv1(x))) + self.shortcut(x))


class ResNet(_ConvNet):
    """A ResNet-style network: a 3x3 stem, then stages of basic blocks; every stage after the
    first halves the resolution. ``widths=(32, 64, 128), blocks=(1, 1, 1)`` by default."""

    def __init__(self, num_classes: int, in_channels: int = 1, widths: tuple[int, ...] = (32, 64, 128),
                 blocks: tuple[int, ...] = (1, 1, 1)):
        super().__init__()
        if not widths or len(widths) != len(blocks) or min(blocks) < 1:
            raise ValueError(f"ResNet: widths {widths} and blocks {blocks} must be non-empty, "
                             "of equal length, with at least one block per stage")
        layers: list[nn.Module] = [_conv_bn_relu(in_channels, widths[0])]
        channels = widths[0]
        for stage, (width, count) in enumerate(zip(widths, blocks)):
            for block in range(count):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(_BasicBlock(channels, width, stride))
                channels = width
        self.backbone = nn.Sequential(*layers)
        self.feature_dim = channels
        self.classifier = nn.Linear(channels, num_classes)


class MLP(nn.Module):
    """Fully connected ReLU layers (``hidden`` widths), then the linear classifier.
    Inputs of any shape ``[B, ...]`` are flattened."""

    def __init__(self, num_classes: int, in_features: int, hidden: tuple[int, ...] = (256,),
                 dropout: float = 0.0):
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError(f"MLP: dropout must lie in [0, 1), got {dropout}")
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(inplace=True)]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        self.backbone = nn.Sequential(*layers)
        self.feature_dim = width
        self.classifier = nn.Linear(width, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward(self, x: torch.Tensor, with_features: bool = False):
        features = self.features(x)
        logits = self.classifier(features)
        return (logits, features) if with_features else logits


MODELS = {"small_cnn": SmallCNN, "resnet": ResNet, "mlp": MLP}
#: The classifier heads :func:`build_model` puts on a backbone.
HEADS = ("linear", "experts", "label_graph")


class ExpertClassifiers(nn.Module):
    """``experts`` linear classifiers on the same features, BalPoE's experts (Sanchez Aimar et
    al., CVPR 2023) on a shared backbone: :meth:`expert_logits` gives their ``[E, B, C]`` logits
    (what :func:`~mlteach.losses.balpoe_loss` trains), ``forward`` their mean, the ensemble's
    prediction (:func:`~mlteach.losses.balpoe_prediction`). The mean of linear maps is linear:
    ``weight`` and ``bias`` are the experts' means, so class activation maps work unchanged.
    (The authors give every expert its own last block as well; here they share it.)"""

    def __init__(self, feature_dim: int, num_classes: int, experts: int = 3):
        super().__init__()
        if isinstance(experts, bool) or not isinstance(experts, int) or experts < 1:
            raise ValueError(f"ExpertClassifiers: experts must be a positive integer, got {experts!r}")
        self.experts, self.num_classes = experts, num_classes
        self.linear = nn.Linear(feature_dim, experts * num_classes)

    def expert_logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features).view(len(features), self.experts, self.num_classes).transpose(0, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.expert_logits(features).mean(dim=0)

    @property
    def weight(self) -> torch.Tensor:
        return self.linear.weight.view(self.experts, self.num_classes, -1).mean(dim=0)

    @property
    def bias(self) -> torch.Tensor:
        return self.linear.bias.view(self.experts, self.num_classes).mean(dim=0)


def build_model(name: str, input_shape: tuple[int, ...], num_classes: int, head: str = "linear",
                head_kwargs: dict | None = None, labels: torch.Tensor | None = None, **kwargs) -> nn.Module:
    """Build model ``name`` (a key of :data:`MODELS`) for inputs of shape ``input_shape``
    (one sample, without the batch dimension) and ``num_classes`` outputs, with the classifier
    ``head`` (:data:`HEADS`; ``head_kwargs`` go to it). The ``"label_graph"`` head is built from
    ``labels``, the training targets; a model that is about to load stored weights (which hold
    the graph) passes ``torch.eye(num_classes)``.

    >>> build_model("small_cnn", (1, 16, 16), 10)(torch.zeros(2, 1, 16, 16)).shape
    torch.Size([2, 10])
    >>> build_model("mlp", (103,), 14, hidden=(32,)).features(torch.zeros(3, 103)).shape
    torch.Size([3, 32])
    >>> build_model("mlp", (103,), 14, head="experts").classifier.expert_logits(torch.zeros(5, 256)).shape
    torch.Size([3, 5, 14])
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; choose one of {list(HEADS)}")
    if name == "mlp":
        model = MLP(num_classes, in_features=math.prod(input_shape), **kwargs)
    elif len(input_shape) != 3:
        raise ValueError(f"{name} expects image inputs [channels, height, width], got {tuple(input_shape)}")
    else:
        model = MODELS[name](num_classes, in_channels=input_shape[0], **kwargs)
    if head == "experts":
        model.classifier = ExpertClassifiers(model.feature_dim, num_classes, **(head_kwargs or {}))
    elif head == "label_graph":
        if labels is None:
            raise ValueError("build_model: the label_graph head needs the training targets (labels)")
        model.classifier = LabelGraphClassifier(labels, model.feature_dim, **(head_kwargs or {}))
    return model


@torch.no_grad()
def class_activation_maps(model: nn.Module, images: torch.Tensor, upsample: bool = True) -> torch.Tensor:
    """Class activation maps: the classifier weights applied at every position of the feature
    maps. Without ``upsample`` they are ``[B, C, h, w]`` at feature-map resolution, and the
    spatial mean of class c's map plus its bias is exactly c's logit; with ``upsample`` they are
    resized (bilinear) to the images' height and width."""
    maps = model.feature_maps(images)
    cams = torch.einsum("bdhw,cd->bchw", maps, model.classifier.weight)
    if upsample:
        cams = F.interpolate(cams, size=images.shape[-2:], mode="bilinear", align_corners=False)
    return cams
