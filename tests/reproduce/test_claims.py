"""The shared reproduction layer: test-image resamples, paired intervals, the verdict rule, the
claim table and its CSV, the false-verdict rate, and one claim added in one place."""

import csv
import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import average_precision_score

from mlteach.metrics import average_precision
from mlteach.reproduce.claims import (CLAIM_COLUMNS, Claim, claim_table, claim_view, compare, decide, false_holds_rate,
                                      paper_number, write_claims_csv)
from mlteach.reproduce.evidence import (Measurements, class_ap_replicates, image_resamples, mean_replicates,
                                        paired_interval, sample_ap_values)

CONTEXT = dict(chapter="9. Test", source="Table 1", dataset="toy", classes=3, paper="80 vs 79")


# --------------------------------------------------------------------------- resamples and AP
def test_class_ap_replicates_match_scikit_learn_on_each_resample():
    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(60, 4, generator=generator)
    targets = (torch.rand(60, 4, generator=generator) < 0.3).float()
    targets[:, 3] = 0
    targets[5, 3] = 1
    resamples = image_resamples(60, count=6, seed=3)
    replicates = class_ap_replicates(scores, targets, resamples)
    assert replicates.shape == (6, 4)
    for r, rows in enumerate(resamples):
        for c in range(4):
            picked_targets = targets[rows, c].numpy()
            if picked_targets.sum() == 0:
                assert math.isnan(replicates[r, c])
            else:
                assert replicates[r, c] == pytest.approx(average_precision_score(picked_targets,
                                                                                 scores[rows, c].numpy()))


def test_identity_resample_gives_the_metrics_point_values():
    scores = torch.tensor([[0.9, 0.2, 0.4], [0.1, 0.8, 0.4], [0.5, 0.5, 0.3], [0.7, 0.1, 0.9]])
    targets = torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    identity = torch.arange(4)[None]
    assert np.nanmean(class_ap_replicates(scores, targets, identity)) == pytest.approx(
        average_precision(scores, targets))
    assert np.nanmean(sample_ap_values(scores, targets)) == pytest.approx(
        average_precision(scores, targets, average="sample"))


def test_resamples_are_shared_and_reproducible():
    assert torch.equal(image_resamples(50, count=8), image_resamples(50, count=8))
    assert not torch.equal(image_resamples(50, count=8, seed=1), image_resamples(50, count=8))
    assert mean_replicates([1.0, 0.0], torch.tensor([[0, 0], [0, 1], [1, 1]])).tolist() == [1.0, 0.5, 0.0]
    with pytest.raises(ValueError, match="n >= 1"):
        image_resamples(0)
    with pytest.raises(ValueError, match="alike"):
        class_ap_replicates(torch.zeros(3, 2), torch.zeros(3, 3), torch.zeros(1, 3, dtype=torch.long))


# --------------------------------------------------------------------------- intervals
def test_paired_interval_is_the_t_interval_of_the_seed_differences_without_resamples():
    a = Measurements.of([71.0, 72.0, 70.5, 71.5, 72.5])
    b = Measurements.of([69.0, 70.0, 68.0, 69.5, 70.5])
    interval = paired_interval(a, b)
    differences = a.values - b.values
    half = 2.7764451051977987 * differences.std(ddof=1) / math.sqrt(5)  # t(0.975, 4)
    assert interval.effect == pytest.approx(differences.mean())
    assert (interval.low, interval.high) == pytest.approx((differences.mean() - half, differences.mean() + half))
    assert interval.seeds == 5


def test_test_set_noise_widens_the_interval():
    a = Measurements.of([71.0, 72.0, 70.5], replicates=np.full((3, 40), 71.0) + np.linspace(-2, 2, 40))
    b = Measurements.of([69.0, 70.0, 68.0], replicates=np.full((3, 40), 69.0))
    without = paired_interval(Measurements.of(a.values), Measurements.of(b.values))
    with_test = paired_interval(a, b)
    assert with_test.effect == without.effect
    assert with_test.high - with_test.low > without.high - without.low


def test_unpaired_and_single_seed_sides():
    a = Measurements.of([1.0, 2.0, 3.0])
    b = Measurements.of([0.0, 0.5, 1.0], seeds=(10, 11, 12))
    assert paired_interval(a, b).effect == pytest.approx(1.5)
    single = Measurements.of([1.0])
    assert paired_interval(single, b).low == -math.inf  # no seed spread on one side: no verdict
    pooled = paired_interval(single, b, pooled_sd=(0.1, 8))
    assert pooled.low > 0
    with pytest.raises(ValueError, match="seeds"):
        Measurements(np.array([1.0, 2.0]), None, (0,))
    with pytest.raises(ValueError, match=r"\[2, R\]"):
        Measurements(np.array([1.0, 2.0]), np.zeros((3, 4)), (0, 1))


# --------------------------------------------------------------------------- verdicts
@pytest.mark.parametrize("kind, low, high, margin, expected", [
    ("greater", 0.1, 2.0, None, "holds"), ("greater", -0.1, 2.0, None, "inconclusive"),
    ("greater", -2.0, -0.1, None, "does not hold"), ("mechanism", 0.5, 0.7, None, "holds"),
    ("control", -1.0, 1.0, None, "inconclusive"), ("control", 0.2, 1.0, None, "holds"),
    ("equivalent", -0.5, 0.9, 1.0, "holds"), ("equivalent", -0.5, 1.1, 1.0, "inconclusive"),
    ("equivalent", 1.2, 2.0, 1.0, "does not hold"), ("equivalent", -3.0, -1.5, 1.0, "does not hold"),
    ("greater", math.nan, math.nan, None, "inconclusive"), ("greater", 0.0, 0.0, None, "inconclusive"),
])
def test_decide(kind, low, high, margin, expected):
    assert decide(kind, low, high, margin) == expected


def test_exact_values_decide_without_noise():
    assert decide("greater", 0.0, 0.0, exact=True) == "does not hold"
    assert decide("greater", 0.3, 0.3, exact=True) == "holds"
    assert decide("equivalent", 0.03, 0.03, margin=0.05, exact=True) == "holds"


def test_decide_refuses_bad_kinds_and_margins():
    with pytest.raises(ValueError, match="kind"):
        decide("bigger", 0.0, 1.0)
    with pytest.raises(ValueError, match="margin"):
        decide("equivalent", 0.0, 1.0)


def test_a_claim_whose_verdict_disagrees_with_its_interval_is_refused():
    with pytest.raises(ValueError, match="disagrees"):
        Claim("9", "A beats B", "T1", "toy", 3, "greater", "1", "2", 1.0, 0.5, 1.5, None, 5, "inconclusive")


def test_compare_decides_and_explains():
    strong = compare(Measurements.of([80.0, 81.0, 80.5]), Measurements.of([70.0, 70.5, 71.0]),
                     claim="A beats B", if_not="small data", **CONTEXT)
    assert (strong.verdict, strong.note) == ("holds", "")
    assert strong.ours == "80.5 ± 0.5 vs 70.5 ± 0.5"
    noisy = compare(Measurements.of([80.0, 70.0, 75.0]), Measurements.of([74.0, 76.0, 75.0]),
                    claim="A beats B", if_not="small data", **CONTEXT)
    assert noisy.verdict == "inconclusive"
    assert noisy.note == "the 95 % interval contains 0; small data"
    wrong = compare(Measurements.of([60.0, 61.0, 60.5]), Measurements.of([70.0, 70.5, 71.0]),
                    claim="A beats B", if_not="small data", **CONTEXT)
    assert (wrong.verdict, wrong.note) == ("does not hold", "small data")
    like = compare(Measurements.of([80.0, 80.2, 80.1]), Measurements.of([80.1, 80.0, 80.2]), kind="equivalent",
                   margin=1.0, claim="A performs like B", **CONTEXT)
    assert like.verdict == "holds" and like.margin == 1.0


def test_claim_view_writes_each_effect_with_its_interval_in_compact_html():
    claims = [compare(Measurements.of([80.0 + i, 81.0, 80.5]), Measurements.of([70.0, 70.5, 71.0]),
                      claim=f"A{i} beats B", **CONTEXT) for i in range(30)]
    html = claim_view(claims).to_html()
    assert html.count("<tr>") == 31 and "A29 beats B" in html and "+10.00 [" in html
    # one alignment rule for the table, no id per cell: the page weight grows with the values only
    assert "_row0_col0" not in html and html.count("text-align: left") == 2


def test_one_claim_added_in_one_place_reaches_the_table_and_the_csv(tmp_path):
    claims = [compare(Measurements.of([80.0, 81.0, 80.5]), Measurements.of([70.0, 70.5, 71.0]),
                      claim="A beats B", **CONTEXT)]
    # a new claim is one more call: no registry, no table code to touch
    claims.append(compare(Measurements.of([70.0, 71.0, 70.0]), Measurements.of([70.5, 70.0, 70.5]),
                          claim="C performs like B", kind="equivalent", margin=3.0, **CONTEXT))
    table = claim_table(claims)
    assert tuple(table.columns) == CLAIM_COLUMNS
    assert list(table["verdict"]) == ["holds", "holds"]
    path = write_claims_csv(claims, tmp_path / "claims.csv")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CLAIM_COLUMNS
    assert rows[1]["claim"] == "C performs like B" and rows[1]["margin"] == "3.0" and rows[0]["margin"] == ""
    assert claim_table(claims, with_link=True).columns[-1] == "link"


def test_paper_numbers_are_never_nan():
    assert paper_number(math.nan) == "–"
    assert paper_number(None) == "–"
    assert paper_number(74.11) == "74.11"


def test_the_rule_rarely_calls_a_no_difference_comparison():
    rates = false_holds_rate(trials=1500, seed=1)
    assert rates["holds"] <= 0.05 and rates["does not hold"] <= 0.05
    # the rule is not blind either: a real gap of four seed deviations is found
    found = compare(Measurements.of(np.r_[4.0, 4.5, 3.5, 4.2, 3.8]), Measurements.of(np.zeros(5) + [0.1, -0.1, 0, 0.2, -0.2]),
                    claim="A beats B", **CONTEXT)
    assert found.verdict == "holds"


def test_claim_table_has_no_missing_paper_cells():
    table = claim_table([compare(Measurements.of([1.0, 2.0]), Measurements.of([1.0, 2.5]), claim="x", **CONTEXT)])
    assert isinstance(table, pd.DataFrame) and not table["paper"].isna().any()
