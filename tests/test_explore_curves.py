"""The explorers' curves (mlteach.explorer_curves) against closed forms and the papers' facts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mlteach import explorer_curves as ec
from mlteach.losses import margin_bias_two_way_loss, two_way_loss

F64 = torch.float64


def test_gradient_shares_are_the_softmaxes_of_the_scaled_logits():
    for tp, tn in [(1.0, 1.0), (4.0, 1.0), (0.5, 2.0)]:
        up, down = ec.gradient_shares(tp, tn)
        torch.testing.assert_close(up, torch.softmax(-ec.SHARE_LOGITS / tp, 0))
        torch.testing.assert_close(down, torch.softmax(ec.SHARE_LOGITS / tn, 0))


def test_effective_number_counts_the_logits_that_share():
    assert ec.effective_number(torch.full((41,), 1 / 41, dtype=F64)) == pytest.approx(41)
    assert ec.effective_number(torch.tensor([1.0 - 1e-12, 1e-12], dtype=F64)) == pytest.approx(1, abs=1e-9)
    curves = ec.two_way_share_curves(1.0, 1.0)  # symmetric logits: both sides share alike
    assert (curves["positives sharing the push (effective number)"]
            == pytest.approx(curves["negatives sharing the push (effective number)"]))


def test_temperature_and_margin_pushes_coincide_at_t_1_and_no_margin():
    by_temperature = ec.push_on_moving_positive(two_way_loss, tp=1.0, tn=1.0)
    by_margin = ec.push_on_moving_positive(margin_bias_two_way_loss, margin=0.0)
    torch.testing.assert_close(by_temperature, by_margin)
    curves = ec.temperature_margin_curves(4.0, 1.0)
    reading = int((ec.MOVING_LOGITS - 4.0).abs().argmin())
    assert curves["push at x_p′ = 4, temperature"] == curves["temperature loss, eq. (v)"][reading]
    assert curves["push at x_p′ = 4, temperature"] > curves["push at x_p′ = 4, margin bias"]


def test_dr_negative_gradient_tends_to_gamma1_or_the_larger_gamma():
    far = torch.tensor([40.0], dtype=F64)
    assert float(ec.dr_negative_gradient(far, 5.0, 7.0, "none")[0]) == pytest.approx(5.0)
    assert float(ec.dr_negative_gradient(far, 5.0, 7.0, "negative")[0]) == pytest.approx(7.0)


def test_dr_thresholds_move_as_the_paper_says():
    c_lsep = [ec.dr_threshold_logit(g, 1.0, "none") for g in (1.0, 3.0, 5.0)]
    assert c_lsep == sorted(c_lsep) and c_lsep[0] < c_lsep[-1]  # a larger gamma1 raises it
    assert ec.dr_threshold_logit(5.0, 5.0, "negative") < ec.dr_threshold_logit(5.0, 5.0, "none")
    curves = ec.dr_threshold_curves(5.0, 7.0)
    assert curves["DR threshold probability p*"] == pytest.approx(
        1 / (1 + math.exp(-curves["DR threshold logit s*"])))
    with pytest.raises(ValueError, match="constraint must be 'none' or 'negative'"):
        ec.dr_threshold_logit(5.0, 7.0, "both")


def test_focal_at_gamma_0_weighs_like_bce_and_asl_ignores_negatives_below_its_clip():
    curves = ec.easy_negative_curves(0.0, 0.1)
    torch.testing.assert_close(curves["focal loss (γ)"], torch.ones(50, dtype=F64))
    below_clip = ec.NEGATIVE_PROBABILITIES <= 0.1
    assert torch.all(curves["ASL (γ− = γ, clip m)"][below_clip] == 0)
    assert torch.all(curves["ASL (γ− = γ, clip m)"][~below_clip] > 0)


def test_large_loss_counts_follow_the_schedule():
    logits, targets, truth = ec.synthetic_single_positive_set()
    assert torch.all((targets == 1).sum(dim=1) == 1) and torch.all(truth[targets == 1] == 1)
    unknown = int((targets == -1).sum())
    nothing = ec.large_loss_curves(0.0)
    assert torch.all(nothing["LL-R / LL-Ct: modified at this epoch"] == 0)
    curves = ec.large_loss_curves(1.0)
    modified = curves["LL-R / LL-Ct: modified at this epoch"]
    for epoch in (1, 4, 10):  # rate (t - 1) * delta_rel of all B * C entries
        expected = 100.0 * math.ceil((epoch - 1) * 0.01 * logits.numel()) / unknown
        assert float(modified[epoch - 1]) == pytest.approx(expected)
    assert torch.all(curves["… of which hidden positives"] <= modified)


def test_em_curves_are_the_supplements_gradients():
    g = ec.EM_LOGITS.numpy()
    curves = ec.em_curves(0.5)
    np.testing.assert_allclose(curves["unknown entry, AN"], 1 / (1 + np.exp(-g)))
    np.testing.assert_allclose(curves["known positive (AN and EM)"], 1 / (1 + np.exp(-g)) - 1)
    np.testing.assert_allclose(ec.em_curves(1.0)["unknown entry, EM"], 2 * curves["unknown entry, EM"])


def test_group_softmax_curves_keep_proposition_1_and_start_at_g_log_c():
    curves = ec.group_softmax_curves(4)
    assert float(curves["type II"][0]) == pytest.approx(4 * math.log(10))
    assert torch.all(curves["softmax loss (G = 1)"] <= curves["type I"] + 1e-9)
    assert torch.all(curves["type I"] <= curves["type II"] + 1e-9)
