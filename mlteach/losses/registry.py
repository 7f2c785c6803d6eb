"""One entry per public loss: where the book derives it, explores it, tests and benchmarks it.

:data:`LOSSES` is the single registry the book's appendix reads (the loss index and the
reductions table, through ``book/_ext/loss_index.py``); ``tests/test_loss_registry.py``
fails when a public loss of :mod:`mlteach.losses` has no entry or an entry points at a page,
test file or benchmark row that does not exist. What ``reduction="mean"`` divides by follows
the specification (the authors' training code) and each function's docstring.

>>> entry("dr_loss").mean_divides_by
'the number of classes C'
>>> entry("dr_loss").module
'DRLoss'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LossEntry", "LOSSES", "entry", "public_losses"]

B_TIMES_C = "B·C (every entry)"
LINES_WITH_A_POSITIVE = "the number of lines (samples, or classes when class-wise) with a positive"


@dataclass(frozen=True)
class LossEntry:
    """Where one public loss lives in the package and in the book.

    ``derivation`` and ``explorer`` are book pages (docnames, e.g.
    ``notebooks/ch3_dr_derivation``) or ``None`` where the book has none; ``tests`` is the test
    file (relative to the repository root); ``benchmark`` is the row label that
    ``benchmarks/bench_losses.py`` writes for it, or ``None`` if it is not benchmarked."""

    function: str
    module: str
    family: str
    paper: str
    mean_divides_by: str
    derivation: str | None
    explorer: str | None
    tests: str
    benchmark: str | None


def _page(chapter: str, kind: str) -> str:
    return f"notebooks/{chapter}_{kind}"


TWO_WAY, DR, LARGE_LOSS, EM, GROUP = "ch2_two_way", "ch3_dr", "ch4_large_loss", "ch5_em", "ch6_group_softmax"

#: One entry per public loss, in the order of the book.
LOSSES: tuple[LossEntry, ...] = (
    LossEntry("two_way_loss", "TwoWayLoss", "two_way", "kobayashi2023twoway",
              "two-way: sample-wise sum / samples with a positive, plus class-wise sum / classes "
              "with a positive; sample- or class-wise alone: that one mean",
              _page(TWO_WAY, "derivation"), _page(TWO_WAY, "explorer"), "tests/losses/test_two_way.py",
              "two_way_loss"),
    LossEntry("margin_bias_two_way_loss", "MarginBiasTwoWayLoss", "two_way", "kobayashi2023twoway",
              "as two_way_loss", _page(TWO_WAY, "derivation"), _page(TWO_WAY, "explorer"),
              "tests/losses/test_two_way.py", "margin_bias_two_way_loss"),
    LossEntry("lsep_loss", "LSEPLoss", "ranking", "li2017lsep", LINES_WITH_A_POSITIVE,
              _page(TWO_WAY, "derivation"), None, "tests/losses/test_ranking.py", "lsep_loss"),
    LossEntry("zlpr_loss", "ZLPRLoss", "ranking", "lin2024distributionally", LINES_WITH_A_POSITIVE,
              _page(TWO_WAY, "derivation"), None, "tests/losses/test_ranking.py", "zlpr_loss"),
    LossEntry("dr_loss", "DRLoss", "ranking", "lin2024distributionally", "the number of classes C",
              _page(DR, "derivation"), _page(DR, "explorer"), "tests/losses/test_ranking.py",
              "dr_loss (gamma2=10)"),
    LossEntry("focal_loss", "FocalLoss", "balanced", "lin2017focal", B_TIMES_C,
              None, _page(DR, "explorer"), "tests/losses/test_balanced.py", "focal_loss"),
    LossEntry("asymmetric_loss", "AsymmetricLoss", "balanced", "ridnik2021asl", B_TIMES_C,
              None, _page(DR, "explorer"), "tests/losses/test_balanced.py", "asymmetric_loss"),
    LossEntry("distribution_balanced_loss", "DistributionBalancedLoss", "balanced",
              "lin2024distributionally", B_TIMES_C, None, None, "tests/losses/test_balanced.py",
              "distribution_balanced_loss"),
    LossEntry("reweighted_bce_loss", "ReweightedBCELoss", "long_tail", "lin2024distributionally", B_TIMES_C,
              None, None, "tests/losses/test_long_tail.py", "reweighted_bce_loss"),
    LossEntry("class_balanced_focal_loss", "ClassBalancedFocalLoss", "long_tail", "cui2019classbalanced",
              B_TIMES_C, None, None, "tests/losses/test_long_tail.py", "class_balanced_focal_loss"),
    LossEntry("ldam_loss", "LDAMLoss", "long_tail", "cao2019ldam", B_TIMES_C, None, None,
              "tests/losses/test_long_tail.py", "ldam_loss"),
    LossEntry("balpoe_loss", "BalPoELoss", "long_tail", "aimar2023balpoe",
              "E·B·C (every entry of each of the E experts)", None, None, "tests/losses/test_long_tail.py",
              "balpoe_loss (3 experts)"),
    LossEntry("circle_loss", "CircleLoss", "circle", "sun2020circle", "the number of samples with a positive",
              None, None, "tests/losses/test_circle.py", "circle_loss"),
    LossEntry("assume_negative_loss", "AssumeNegativeLoss", "partial", "kim2022largeloss", B_TIMES_C,
              _page(LARGE_LOSS, "derivation"), _page(EM, "explorer"), "tests/losses/test_partial.py",
              "assume_negative_loss"),
    LossEntry("large_loss", "LargeLoss", "partial", "kim2022largeloss", B_TIMES_C + ", rejected entries included",
              _page(LARGE_LOSS, "derivation"), _page(LARGE_LOSS, "explorer"), "tests/losses/test_partial.py",
              "large_loss (LL-R, rate 0.2)"),
    LossEntry("entropy_maximization_loss", "EntropyMaximizationLoss", "partial", "zhou2022acknowledging",
              B_TIMES_C, _page(EM, "derivation"), _page(EM, "explorer"), "tests/losses/test_partial.py",
              "entropy_maximization_loss"),
    LossEntry("entropy_minimization_loss", "EntropyMinimizationLoss", "partial", "zhou2022acknowledging",
              B_TIMES_C, _page(EM, "derivation"), None, "tests/losses/test_partial.py",
              "entropy_minimization_loss"),
    LossEntry("down_weight_loss", "DownWeightLoss", "partial", "zhou2022acknowledging", B_TIMES_C,
              None, None, "tests/losses/test_partial.py", "down_weight_loss"),
    LossEntry("label_smoothing_loss", "LabelSmoothingLoss", "partial", "zhou2022acknowledging", B_TIMES_C,
              None, None, "tests/losses/test_partial.py", "label_smoothing_loss"),
    LossEntry("negative_label_smoothing_loss", "NegativeLabelSmoothingLoss", "partial",
              "zhou2022acknowledging", B_TIMES_C, None, None, "tests/losses/test_partial.py",
              "negative_label_smoothing_loss"),
    LossEntry("group_softmax_loss", "GroupSoftmaxLoss", "group_softmax", "kobayashi2021groupsoftmax",
              "the batch size B (single-label)", _page(GROUP, "derivation"), _page(GROUP, "explorer"),
              "tests/losses/test_group_softmax.py", "group_softmax_loss (type II, discriminative)"),
    LossEntry("bce_loss", "BCELoss", "baselines", "kobayashi2023twoway", "the number of known entries",
              None, None, "tests/losses/test_baselines.py", "bce_loss"),
    LossEntry("multilabel_softmax_loss", "MultiLabelSoftmaxLoss", "baselines", "kobayashi2023twoway",
              "the number of samples with a positive", None, None, "tests/losses/test_baselines.py",
              "multilabel_softmax_loss"),
    LossEntry("warp_loss", "WARPLoss", "baselines", "kobayashi2023twoway",
              "the number of samples with a positive", None, None, "tests/losses/test_baselines.py",
              "warp_loss"),
    LossEntry("combined_loss", "CombinedLoss", "combined", "lin2024distributionally",
              "each term its own (a weighted sum of reduced terms)", None, None,
              "tests/losses/test_combined.py", None),
)


def public_losses() -> list[str]:
    """The loss functions :mod:`mlteach.losses` exports (names ending in ``_loss``)."""
    from mlteach import losses

    return sorted(name for name in losses.__all__ if name.endswith("_loss") and callable(getattr(losses, name)))


def entry(function: str) -> LossEntry:
    """The registry entry of a loss function, by name."""
    for item in LOSSES:
        if item.function == function:
            return item
    raise KeyError(f"{function!r} has no entry in mlteach.losses.registry.LOSSES")
