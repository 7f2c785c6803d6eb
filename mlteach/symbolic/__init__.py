"""The papers' equations in SymPy, shared by the derivation chapters, the tests, the explorers
and the exercise checkers.

One module per paper:

- :mod:`~mlteach.symbolic.two_way` -- two-way loss, bias invariance (supplement eqs. i-iii),
  margin-bias and temperature gradients (eqs. iv, v);
- :mod:`~mlteach.symbolic.ranking` -- LSEP, ZLPR, DR loss (DR paper eqs. 3, 4, 7-10) and the
  negative-gradient threshold of its Fig. 3;
- :mod:`~mlteach.symbolic.em` -- EM loss terms and gradients (EM supplement eqs. 9-11);
- :mod:`~mlteach.symbolic.large_loss` -- rejected vs corrected unknown entries (Large Loss);
- :mod:`~mlteach.symbolic.group_softmax` -- Proposition 1, the relaxation and Lemma 1,
  the update rank (group-softmax supplement A.1-A.26, B.1-B.2);
- :mod:`~mlteach.symbolic.masked_lse` -- the log-sum-exp over a masked set and its one-pass
  closed-form gradient (the numerics page).

Shared pieces: :mod:`~mlteach.symbolic.functions` (softplus, sigmoid, LSE, exact identity
checks) and :mod:`~mlteach.symbolic.numeric` (float64 lambdify, comparison with torch).
Each module's ``check_*`` function compares the SymPy expressions with the torch loss of
:mod:`mlteach.losses` (value and autograd gradient) and raises ``AssertionError`` on a mismatch;
it takes the loss as an argument so a test can hand it a deliberately wrong one.
"""

from . import em, functions, group_softmax, large_loss, masked_lse, numeric, ranking, two_way
from .em import check_em_loss
from .functions import assert_identity, is_identity
from .group_softmax import check_group_softmax_loss
from .large_loss import check_large_loss
from .numeric import assert_close, lambdify_float64
from .ranking import check_dr_loss
from .two_way import check_margin_bias_loss, check_two_way_loss

__all__ = [
    "em", "functions", "group_softmax", "large_loss", "masked_lse", "numeric", "ranking", "two_way",
    "assert_identity", "is_identity", "assert_close", "lambdify_float64",
    "check_two_way_loss", "check_margin_bias_loss", "check_dr_loss", "check_em_loss",
    "check_large_loss", "check_group_softmax_loss",
]
