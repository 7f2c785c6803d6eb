"""The trainer's own copy of the training labels, and what the label schemes do to it.

The caller's :class:`~mlteach.data.splits.LabelledSplit` is never modified: the trainer trains on
``TrainingLabels.targets``, a copy that LL-Cp relabels permanently, and on
``TrainingLabels.pseudo_targets``, the APL pseudo-targets (NaN = none; soft negatives as
published, optionally hard or positive ones) that are added after each epoch from T_w on and
never revised.
"""

from __future__ import annotations

import torch

from ..losses import apl_pseudo_labels

__all__ = ["TrainingLabels"]


class TrainingLabels:
    """``observed``: the training split's targets in {1, 0, -1}; ``true``: its complete ground
    truth (only used to score what the schemes did); ``with_pseudo_labels``: keep APL
    pseudo-targets."""

    def __init__(self, observed: torch.Tensor, true: torch.Tensor, with_pseudo_labels: bool):
        self.targets = observed.clone()
        self.true_targets = true
        self.initial_unknown_per_class = (observed == -1).sum(dim=0)
        self.pseudo_targets = torch.full_like(observed, float("nan")) if with_pseudo_labels else None

    def relabel_as_positive(self, rows: torch.Tensor, selected: torch.Tensor) -> None:
        """Permanently set ``targets[rows[i], c] = 1`` wherever ``selected[i, c]`` (LL-Cp).
        ``rows`` may repeat (a resampled batch); the result does not depend on the order."""
        batch_row, column = selected.nonzero(as_tuple=True)
        self.targets[rows[batch_row], column] = 1.0

    def add_pseudo_labels(self, probabilities: torch.Tensor, epoch: int, warmup_epochs: int,
                          total_epochs: int, theta: float, positive_theta: float = 0.0,
                          hard: bool = False) -> dict[str, int]:
        """APL after ``epoch``: new pseudo-labels from the training-set ``probabilities`` (eval
        mode). Returns how many were added (``added``; ``positive`` of them positive) and how many
        of each agree with the ground truth (``added_right``, ``positive_right``)."""
        self.pseudo_targets, negative, positive = apl_pseudo_labels(
            probabilities, self.targets, self.pseudo_targets, self.initial_unknown_per_class,
            epoch=epoch, warmup_epochs=warmup_epochs, total_epochs=total_epochs, theta=theta,
            positive_theta=positive_theta, hard=hard, return_selection=True)
        negative_right = int((negative & (self.true_targets == 0)).sum())
        positive_right = int((positive & (self.true_targets == 1)).sum())
        return {"added": int(negative.sum() + positive.sum()), "added_right": negative_right + positive_right,
                "positive": int(positive.sum()), "positive_right": positive_right}

    def state_dict(self) -> dict:
        state = {"targets": self.targets.cpu()}
        if self.pseudo_targets is not None:
            state["pseudo_targets"] = self.pseudo_targets.cpu()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.targets = state["targets"].to(self.targets.device)
        if self.pseudo_targets is not None:
            self.pseudo_targets = state["pseudo_targets"].to(self.targets.device)
