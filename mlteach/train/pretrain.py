"""Backbone pretraining on single-label digits: the book's stand-in for ImageNet weights.

The backbone is trained once per (pretraining configuration, architecture, code version) with
softmax cross-entropy, on the ten digit classes or on the four rotations of the digits (a label
space disjoint from the evaluation classes', :data:`~mlteach.train.config.PRETRAIN_TASKS`), and
stored in the runs folder as ``pretrain-<key>/backbone.pt``; every later run that asks for it
loads that file.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data.mosaics import load_digit_pool
from ..models import build_model
from .cache import code_version, hash_key, load_state, runs_folder, save_atomic
from .config import PretrainConfig

__all__ = ["pretrained_backbone", "digit_images", "pretraining_task"]

HELD_OUT_FRACTION = 0.1


def digit_images(pretrain: PretrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """All digits of ``pretrain.digits`` as ``[M, 1, s, s]`` standardised images (area
    downsampling or bilinear upsampling to ``image_size``) and ``[M]`` class indices."""
    pool = load_digit_pool(pretrain.digits)
    images = torch.from_numpy(pool.images)[:, None]
    size = pretrain.image_size
    if size is not None and size != images.shape[-1]:
        mode = "area" if size < images.shape[-1] else "bilinear"
        images = F.interpolate(images, size=(size, size), mode=mode)
    images = (images - images.mean()) / images.std()
    return images.contiguous(), torch.from_numpy(pool.labels)


def pretraining_task(pretrain: PretrainConfig) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The pretraining images, their labels and the number of classes: :func:`digit_images` with
    the digit classes, or (``task="rotation"``) every digit in its four rotations, labelled 0-3
    by the quarter turns applied."""
    images, labels = digit_images(pretrain)
    if pretrain.task == "digit":
        return images, labels, 10
    turned = torch.cat([torch.rot90(images, turns, dims=(2, 3)) for turns in range(4)])
    return turned.contiguous(), torch.arange(4).repeat_interleave(len(images)), 4


def pretrained_backbone(pretrain: PretrainConfig, model: str, model_kwargs: dict,
                        runs_dir=None, device: torch.device | str = "cpu") -> dict:
    """``{"backbone": state_dict, "held_out_accuracy": float}`` of a ``model`` backbone
    pretrained as ``pretrain`` says: loaded from the runs folder, or trained and stored there.
    A random tenth of the images (fixed by ``seed``) is held out to report the accuracy on the
    pretraining task."""
    key = hash_key({"pretrain": vars(pretrain), "model": model, "model_kwargs": model_kwargs,
                    "code": code_version()})
    path = runs_folder(runs_dir) / f"pretrain-{key}" / "backbone.pt"
    stored = load_state(path)
    if stored is not None:
        return stored
    images, labels, classes = pretraining_task(pretrain)
    generator = torch.Generator().manual_seed(pretrain.seed)
    order = torch.randperm(len(labels), generator=generator)
    n_held_out = int(len(labels) * HELD_OUT_FRACTION)
    held_out, train_rows = order[:n_held_out], order[n_held_out:]

    torch.manual_seed(pretrain.seed)
    backbone_kwargs = {k: v for k, v in model_kwargs.items() if k not in ("head", "head_kwargs")}
    net = build_model(model, tuple(images.shape[1:]), classes, **backbone_kwargs).to(device)  # a linear head
    images, labels = images.to(device), labels.to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=pretrain.lr)
    net.train()
    for _ in range(pretrain.epochs):
        shuffled = train_rows[torch.randperm(len(train_rows), generator=generator)].to(device)
        for batch in shuffled.split(pretrain.batch_size):
            loss = F.cross_entropy(net(images[batch]), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    net.eval()
    with torch.no_grad():
        held_out = held_out.to(device)
        accuracy = (net(images[held_out]).argmax(1) == labels[held_out]).float().mean().item()
    stored = {"backbone": {k: v.cpu() for k, v in net.backbone.state_dict().items()},
              "held_out_accuracy": accuracy}
    save_atomic(stored, path)
    return stored
