"""Exercises: checkers with specific feedback, and the student / instructor notebook export.

A checker takes a student's answer (a function or a SymPy expression), runs it on targeted
cases and returns a :class:`~mlteach.exercises.feedback.CheckResult` that displays in a
notebook: which cases passed and, for the first that failed, a hint naming the likely mistake.
A stub (a function raising ``NotImplementedError``, or ``None``) gets "not implemented yet".
A submission runs on copies of the inputs, with a time limit; see :mod:`~mlteach.exercises.feedback`.

- :mod:`~mlteach.exercises.metrics` -- chapter 1: F1 from counts, mAP@class, per-class thresholds
- :mod:`~mlteach.exercises.numerics` -- chapter 1: the epsilon-log gradient, a masked log-sum-exp
- :mod:`~mlteach.exercises.two_way` -- chapter 2: two-way gradient, LSEP, sample-wise two-way loss
- :mod:`~mlteach.exercises.dr` -- chapter 3: C-LSEP, the NGC gradient (eq. 10) and threshold, CB focal
- :mod:`~mlteach.exercises.large_loss` -- chapter 4: corrected-entry gradient, Large Loss selection
- :mod:`~mlteach.exercises.em` -- chapter 5: APL term gradient, the APL update
- :mod:`~mlteach.exercises.group_softmax` -- chapter 6: two-class type II loss, discriminative grouping
- :mod:`~mlteach.exercises.symbolic` -- :func:`check_expression`, SymPy equivalence with hints
- :mod:`~mlteach.exercises.line_losses` -- the cases shared by the row / column ranking losses
- :mod:`~mlteach.exercises.feedback` -- result objects, the case runner, copies and time limit
- :mod:`~mlteach.exercises.solutions` -- removing every solution from a MyST text, or refusing
- :mod:`~mlteach.exercises.plain_markdown` -- MyST turned into plain Jupyter Markdown
- :mod:`~mlteach.exercises.publishing` -- the site, Colab and install addresses from ``repository.url``
- :mod:`~mlteach.exercises.export` -- student and instructor notebooks for any Jupyter
- :mod:`~mlteach.exercises.grading` -- nbgrader assignments and a CSV of scores
"""

from .dr import check_c_lsep, check_cb_focal, check_ngc_gradient, check_ngc_threshold
from .em import check_apl_term_gradient, check_apl_update
from .feedback import CheckResult
from .group_softmax import check_discriminative_groups, check_two_class_type_two_loss
from .large_loss import check_corrected_entry_gradient, check_large_loss_selection
from .metrics import check_average_precision, check_f1_from_counts, check_per_class_thresholds
from .numerics import check_epsilon_log_gradient, check_masked_logsumexp
from .symbolic import check_expression
from .two_way import check_lsep, check_two_way_negative_gradient, check_two_way_sample

__all__ = [
    "CheckResult", "check_expression",
    "check_f1_from_counts", "check_average_precision", "check_per_class_thresholds",
    "check_epsilon_log_gradient", "check_masked_logsumexp",
    "check_two_way_negative_gradient", "check_lsep", "check_two_way_sample",
    "check_c_lsep", "check_ngc_gradient", "check_ngc_threshold", "check_cb_focal",
    "check_corrected_entry_gradient", "check_large_loss_selection",
    "check_apl_term_gradient", "check_apl_update",
    "check_two_class_type_two_loss", "check_discriminative_groups",
]
