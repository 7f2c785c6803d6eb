"""The configured loss, called the same way at every training step.

Losses differ in what they need besides ``(logits, targets)``: the trainer fills in the training
class counts and the number of training samples (distribution-balanced loss, RW, CB focal,
LDAM: each gets the ones its signature names), the APL pseudo-targets (EM loss), this epoch's Large
Loss rate or threshold, for group softmax the features and the classifier's weights, and for
BalPoE the logits of each expert of the classifier.
:class:`Objective` hides these differences from the training loop and reports which unknown
entries a Large Loss scheme modified.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from ..losses import large_loss_rate, large_loss_threshold, large_loss_with_selection
from .config import TrainConfig, loss_function

__all__ = ["Objective"]


class Objective:
    """``Objective(config, train_targets)(logits, features, classifier, targets, pseudo_targets,
    epoch)`` -> ``(loss, modified)``; ``modified`` is the bool mask of the unknown entries a
    Large Loss scheme rejected or corrected this step, else None. ``train_targets`` are the
    observed training targets (for the class counts)."""

    def __init__(self, config: TrainConfig, train_targets: torch.Tensor):
        self.config = config
        self.function = loss_function(config.loss)
        self.kwargs = dict(config.loss_kwargs)
        parameters = inspect.signature(self.function).parameters
        if "class_counts" in parameters:
            self.kwargs["class_counts"] = (train_targets == 1).sum(dim=0).cpu()
        if "num_samples" in parameters:
            self.kwargs["num_samples"] = train_targets.shape[0]
        if self.config.loss == "group_softmax_loss" and not _single_label(train_targets):
            raise ValueError(f"{config.loss} is single-label: every training sample needs exactly "
                             "one positive and no unknown entry")
        self.large_loss_scheme = None
        if config.loss == "large_loss":
            self.large_loss_scheme = self.kwargs.get("scheme", parameters["scheme"].default)

    @property
    def needs_features(self) -> bool:
        """Group softmax works on the features and the classifier weights, not the logits;
        BalPoE on the logits of every expert of the classifier."""
        return self.config.loss in ("group_softmax_loss", "balpoe_loss")

    @property
    def relabels_permanently(self) -> bool:
        return self.large_loss_scheme == "LL-Cp"

    def large_loss_setting(self, epoch: int) -> dict:
        """This epoch's ``rate`` (relative schedule) or ``threshold`` (absolute schedule)."""
        if self.config.large_loss_delta_rel is not None:
            return {"rate": large_loss_rate(epoch, self.config.large_loss_delta_rel, self.large_loss_scheme)}
        r0, delta_abs = self.config.large_loss_threshold
        return {"threshold": large_loss_threshold(epoch, r0, delta_abs)}

    def __call__(self, logits: torch.Tensor, features: torch.Tensor, classifier: nn.Linear,
                 targets: torch.Tensor, pseudo_targets: torch.Tensor | None,
                 epoch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.config.loss == "balpoe_loss":  # the config made sure the classifier has experts
            return self.function(classifier.expert_logits(features), targets, **self.kwargs), None
        if self.needs_features:  # single-label: the class index of each row's positive
            loss = self.function(features, classifier.weight.t(), targets.argmax(dim=1),
                                 bias=classifier.bias, **self.kwargs)
            return loss, None
        if self.large_loss_scheme is not None:  # the loss and its selection from one ranking
            return large_loss_with_selection(logits, targets, **self.large_loss_setting(epoch), **self.kwargs)
        if pseudo_targets is not None:
            return self.function(logits, targets, pseudo_targets=pseudo_targets, **self.kwargs), None
        return self.function(logits, targets, **self.kwargs), None


def _single_label(targets: torch.Tensor) -> bool:
    return bool(((targets == 1).sum(dim=1) == 1).all()) and not bool((targets == -1).any())
