"""Claims that the derivation pages decide exactly (no seeds, no test set), as rows of the one
claim table.

An exact claim has no noise: its interval is the single value ``[effect, effect]`` and
``seeds`` is 0. A "the paper reads about v" claim is an equivalence claim with the reading
tolerance as its margin; "raising x raises y" is a ``greater`` claim on the exact difference.

- DR paper, Fig. 3 and Sec. 3.4: where the negative gradient of C-LSEP and of DR "switches on",
  under both readings of :func:`mlteach.symbolic.ranking.negative_gradient_threshold`, for one
  positive at logit 0 (the page ``ch3_dr_derivation`` derives the curves).
"""

from __future__ import annotations

import functools

from ..symbolic import ranking
from .claims import Claim, decide
from .dr import CHAPTER

__all__ = ["CHAPTER", "LINKS", "FIG3_PAPER_THRESHOLDS", "FIG3_TOLERANCE", "exact_claim", "dr_threshold_claims", "claims"]

#: The probabilities the DR paper reads off its Fig. 3 (Sec. 3.4): (gamma1, gamma2) -> threshold.
FIG3_PAPER_THRESHOLDS = {(1, None): 0.5, (5, None): 0.85, (5, 5): 0.5}
#: How close a computed threshold must be to the paper's reading to agree with it.
FIG3_TOLERANCE = 0.05
LINK = "ch3_dr_derivation.html#where-does-the-gradient-switch-on"
#: Where each derivation's claims are decided.
LINKS = {"DR Fig. 3": LINK}


def exact_claim(claim: str, source: str, paper: str, ours: str, kind: str, effect: float,
                margin: float | None = None, note: str = "", chapter: str = CHAPTER, link: str = LINK,
                dataset: str = "exact (SymPy)") -> Claim:
    """A claim decided by an exact computation: interval ``[effect, effect]``, no seeds."""
    effect = round(float(effect), 4)
    verdict = decide(kind, effect, effect, margin, exact=True)
    return Claim(chapter, claim, source, dataset, 0, kind, paper, ours, effect, effect, effect, margin, 0,
                 verdict, note if verdict != "holds" else "", link)


@functools.lru_cache(maxsize=16)
def _threshold(gamma1: float, gamma2: float | None, criterion: str) -> float:
    return ranking.negative_gradient_threshold(gamma1, gamma2, positive_logit=0.0, criterion=criterion)["probability"]


def dr_threshold_claims() -> list[Claim]:
    """The Fig. 3 readings of the DR paper under both threshold definitions."""
    output = []
    for criterion in ranking.THRESHOLD_CRITERIA:
        reading = f"({criterion} reading, one positive at logit 0)"
        for (gamma1, gamma2), paper in FIG3_PAPER_THRESHOLDS.items():
            value = _threshold(gamma1, gamma2, criterion)
            name = f"C-LSEP γ1 = {gamma1}" if gamma2 is None else f"DR γ1 = {gamma1}, γ2 = {gamma2}"
            output.append(exact_claim(
                f"{name}: the negative gradient switches on near probability {paper} {reading}",
                "DR paper, Fig. 3 and Sec. 3.4", f"about {paper}", f"{value:.3f}", "equivalent",
                value - paper, margin=FIG3_TOLERANCE,
                note="the paper gives no definition of the threshold nor the column behind Fig. 3; "
                     "the derivation page shows which positive logit reproduces the readings"))
        raised = _threshold(5, None, criterion) - _threshold(1, None, criterion)
        output.append(exact_claim(
            f"raising γ1 from 1 to 5 raises C-LSEP's threshold {reading}", "DR paper, Fig. 3 and Sec. 3.4",
            "0.5 -> 0.85", f"{_threshold(1, None, criterion):.3f} -> {_threshold(5, None, criterion):.3f}",
            "greater", raised, note="under this reading γ1 sharpens the rise without moving it"))
        lowered = _threshold(5, None, criterion) - _threshold(5, 5, criterion)
        output.append(exact_claim(
            f"the NGC (γ2 = 5) lowers the γ1 = 5 threshold {reading}", "DR paper, Fig. 3 and Sec. 3.4",
            "0.85 -> 0.5", f"{_threshold(5, None, criterion):.3f} -> {_threshold(5, 5, criterion):.3f}",
            "greater", lowered))
    return output


def claims(scale: str | None = None) -> list[Claim]:
    """Every exact claim of the derivation pages (``scale`` is accepted for a uniform call and
    changes nothing)."""
    return dr_threshold_claims()
