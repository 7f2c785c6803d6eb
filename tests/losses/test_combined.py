"""combined_loss: a weighted sum of named losses, each reduced its own way."""

import inspect

import pytest
import torch

from mlteach.losses import CombinedLoss, bce_loss, combined_loss, distribution_balanced_loss, dr_loss
from mlteach.losses.combined import PASSED_ARGUMENTS, TERM_LOSSES, TERM_SETTINGS

DR_KWARGS = {"gamma1": 5.0, "gamma2": 7.0}


def test_combined_loss_is_the_weighted_sum():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 5, generator=generator, requires_grad=True)
    targets = (torch.rand(16, 5, generator=generator) < 0.4).float()
    counts, n = torch.tensor([40, 20, 10, 5, 2]), 60
    terms = [{"loss": "dr_loss", "kwargs": DR_KWARGS},
             {"loss": "distribution_balanced_loss", "weight": 2.5}, {"loss": "bce_loss", "weight": 0.0}]
    value = combined_loss(logits, targets, terms=terms, class_counts=counts, num_samples=n)
    expected = dr_loss(logits, targets, **DR_KWARGS) + 2.5 * distribution_balanced_loss(
        logits, targets, class_counts=counts, num_samples=n) + 0 * bce_loss(logits, targets)
    assert torch.allclose(value, expected)
    value.backward()
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("terms, message", [
    ([], "non-empty"), ([{"loss": "no_such_loss"}], "unknown term loss"),
    ([{"loss": "bce_loss", "weight": -1.0}], "weight"), ([{"loss": "bce_loss", "kwargs": {"gamma": 2}}], "no argument"),
    ([{"loss": "dr_loss", "kwargs": {"reduction": "sum"}}], "may not set"),
    ([{"loss": "large_loss"}], "unknown term loss"),
    ([{"loss": "distribution_balanced_loss"}], "needs class_counts"),
])
def test_combined_loss_rejects_bad_terms(terms, message):
    logits, targets = torch.zeros(4, 3), torch.tensor([[1.0, 0, 0]] * 4)
    with pytest.raises(ValueError, match=message):
        combined_loss(logits, targets, terms=terms)
    with pytest.raises(ValueError, match="reduction"):
        combined_loss(logits, targets, terms=[{"loss": "bce_loss"}], reduction="none")


def test_every_term_loss_has_settings_rules_for_all_its_hyper_parameters():
    assert set(TERM_SETTINGS) == set(TERM_LOSSES)
    for name, function in TERM_LOSSES.items():
        hyper_parameters = set(inspect.signature(function).parameters) - PASSED_ARGUMENTS
        assert hyper_parameters <= set(TERM_SETTINGS[name]), name


def test_combined_twin_refuses_a_bad_term_setting_at_construction():
    with pytest.raises(ValueError, match=r"CombinedLoss term lsep_loss: gamma must be a finite number in \(0, inf\)"):
        CombinedLoss(terms=[{"loss": "lsep_loss", "kwargs": {"gamma": True}}])
