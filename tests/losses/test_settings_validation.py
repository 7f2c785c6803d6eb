"""One validation layer: each functional loss and its module twin refuse the same bad
hyper-parameters (bools, NaN, inf, out of range, wrong types) with a ValueError naming the
parameter and the allowed range; the twin refuses at construction, not at its first forward."""

import math
import re

import pytest
import torch

import mlteach.losses as losses

COUNTS = {"class_counts": [5, 3, 8, 2], "num_samples": 10}
NUMBERS = {  # (function, twin, parameter, allowed range as printed, bad values, other arguments)
    "tp": (losses.two_way_loss, losses.TwoWayLoss, "(0, inf)", [0.0, -1.0], {}),
    "tn": (losses.two_way_loss, losses.TwoWayLoss, "(0, inf)", [0.0], {}),
    "margin": (losses.margin_bias_two_way_loss, losses.MarginBiasTwoWayLoss, "(-inf, inf)", [], {}),
    "gamma": (losses.lsep_loss, losses.LSEPLoss, "(0, inf)", [0.0, -2.0], {}),
    "gamma1": (losses.dr_loss, losses.DRLoss, "(0, inf)", [0.0], {}),
    "gamma2": (losses.dr_loss, losses.DRLoss, "(0, inf)", [-1.0], {}),
    "focal gamma": (losses.focal_loss, losses.FocalLoss, "[0, inf)", [-0.5], {}),
    "alpha": (losses.focal_loss, losses.FocalLoss, "[0, 1]", [-0.1, 1.5], {}),
    "gamma_neg": (losses.asymmetric_loss, losses.AsymmetricLoss, "[0, inf)", [-1.0], {}),
    "gamma_pos": (losses.asymmetric_loss, losses.AsymmetricLoss, "[0, inf)", [-1.0], {}),
    "clip": (losses.asymmetric_loss, losses.AsymmetricLoss, "[0, 1)", [-0.1, 1.0], {}),
    "eps": (losses.asymmetric_loss, losses.AsymmetricLoss, "(0, 1)", [0.0, 1.0, 1.5], {}),
    "neg_scale": (losses.distribution_balanced_loss, losses.DistributionBalancedLoss, "(0, inf)", [0.0], COUNTS),
    "focal_gamma": (losses.distribution_balanced_loss, losses.DistributionBalancedLoss, "[0, inf)", [-1.0], COUNTS),
    "map_alpha": (losses.distribution_balanced_loss, losses.DistributionBalancedLoss, "(-inf, inf)", [], COUNTS),
    "assumed_negative_weight": (losses.down_weight_loss, losses.DownWeightLoss, "[0, 1]", [-0.1, 2.0], {}),
    "smoothing": (losses.label_smoothing_loss, losses.LabelSmoothingLoss, "[0, 0.5]", [-0.1, 0.6], {}),
    "N-LS smoothing": (losses.negative_label_smoothing_loss, losses.NegativeLabelSmoothingLoss, "[0, 0.5]",
                       [0.7], {}),
    "EntMin alpha": (losses.entropy_minimization_loss, losses.EntropyMinimizationLoss, "[0, inf)", [-1.0], {}),
    "EM alpha": (losses.entropy_maximization_loss, losses.EntropyMaximizationLoss, "[0, inf)", [-1.0], {}),
    "beta": (losses.entropy_maximization_loss, losses.EntropyMaximizationLoss, "[0, inf)", [-1.0], {}),
    "rate": (losses.large_loss, losses.LargeLoss, "[0, 1]", [-0.1, 1.5], {}),
    "WARP margin": (losses.warp_loss, losses.WARPLoss, "(-inf, inf)", [], {}),
}
ALWAYS_BAD = [True, False, math.nan, math.inf, -math.inf, "1", None]


def _cases():
    for label, (function, twin, allowed, bad, extra) in NUMBERS.items():
        parameter = label.split()[-1]
        optional = parameter in ("alpha", "rate") and function in (losses.focal_loss, losses.large_loss)
        for value in bad + [v for v in ALWAYS_BAD if not (v is None and optional)]:
            yield pytest.param(function, twin, parameter, allowed, value, extra, id=f"{label}={value!r}")


@pytest.mark.parametrize("function, twin, parameter, allowed, value, extra", list(_cases()))
def test_function_and_twin_refuse_alike(function, twin, parameter, allowed, value, extra):
    logits = torch.randn(3, 4)
    targets = torch.tensor([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 1.0, -1.0], [1.0, 0.0, 0.0, 0.0]])
    expected = rf"{parameter} must be a finite number in {re.escape(allowed)}, got"
    if value is None:
        expected = rf"{parameter} must be a finite number"
    with pytest.raises(ValueError, match=expected):
        function(logits, targets, **{parameter: value}, **extra)
    with pytest.raises(ValueError, match=rf"{twin.__name__}: {expected}"):
        twin(**{parameter: value}, **extra)


@pytest.mark.parametrize("twin, arguments, parameter", [
    (losses.FocalLoss, {"reduction": "avg"}, "reduction"),
    (losses.FocalLoss, {"reduction": True}, "reduction"),
    (losses.LargeLoss, {"scheme": "LL-X"}, "scheme"),
    (losses.LSEPLoss, {"class_wise": 1}, "class_wise"),
    (losses.ZLPRLoss, {"class_wise": "yes"}, "class_wise"),
    (losses.DRLoss, {"constraint": "all"}, "constraint"),
    (losses.TwoWayLoss, {"mode": "both"}, "mode"),
])
def test_twins_refuse_choices_and_flags_at_construction(twin, arguments, parameter):
    with pytest.raises(ValueError, match=rf"{twin.__name__}: {parameter} must be"):
        twin(**arguments)


def test_asymmetric_eps_of_one_or_more_is_refused_not_a_negative_loss():
    logits, targets = torch.randn(2, 3), torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, -1.0]])
    for eps in (1.0, 1.5):
        with pytest.raises(ValueError, match=r"eps must be a finite number in \(0, 1\)"):
            losses.asymmetric_loss(logits, targets, eps=eps)
    assert losses.asymmetric_loss(logits, targets, eps=0.5) >= 0


@pytest.mark.parametrize("name", ["bce_loss", "down_weight_loss", "combined_loss", "focal_loss", "lsep_loss",
                                  "entropy_maximization_loss", "large_loss"])
def test_targets_that_require_grad_are_read_as_labels(name):
    logits = torch.randn(3, 4, requires_grad=True)
    targets = torch.tensor([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 1.0, -1.0], [1.0, 0.0, 0.0, 0.0]])
    extra = {"combined_loss": {"terms": [{"loss": "bce_loss"}]}, "large_loss": {"rate": 0.2}}.get(name, {})
    function = getattr(losses, name)
    value = function(logits, targets.clone().requires_grad_(True), **extra)
    torch.testing.assert_close(value, function(logits, targets, **extra))
    (grad,) = torch.autograd.grad(value, logits)
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int32, torch.int64])
def test_group_softmax_reads_any_integer_targets_as_class_indices(dtype):
    generator = torch.Generator().manual_seed(0)
    features, weight = torch.randn(4, 6, generator=generator), torch.randn(6, 3, generator=generator)
    targets = torch.tensor([0, 1, 2, 1])
    expected = losses.group_softmax_loss(features, weight, targets, groups=2)
    torch.testing.assert_close(losses.group_softmax_loss(features, weight, targets.to(dtype), groups=2), expected)
