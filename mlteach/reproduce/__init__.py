"""Reproductions of the papers' experiments at book scale, with verdicts computed from our numbers.

Each chapter module defines its experiments (cached training runs), the paper's reported
numbers, and ``claims(scale=None) -> list[Claim]``: every claim of its paper that the chapter
tests, decided by :func:`mlteach.reproduce.claims.compare` from paired measurements
(:mod:`mlteach.reproduce.evidence`). :func:`all_claims` collects every chapter's claims for
the appendix (the runs come from the run cache when the chapters have run).
"""

from __future__ import annotations

import importlib

from .claims import Claim

#: Chapter modules in book order.
CHAPTER_MODULES = ("two_way", "dr", "derivations", "large_loss", "single_positive", "group_softmax")


def all_claims(scale: str | None = None) -> list[Claim]:
    """The claims of every chapter, in book order."""
    claims: list[Claim] = []
    for name in CHAPTER_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        claims.extend(module.claims(scale))
    return claims
