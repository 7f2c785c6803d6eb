"""Every loss of the five papers and their baselines: a functional form and an ``nn.Module`` twin.

Label convention: ``targets`` holds 1 (known positive), 0 (known negative), -1 (unknown).
One module per family:

- :mod:`~mlteach.losses.two_way` -- two-way multi-label loss and its margin-bias variant
- :mod:`~mlteach.losses.ranking` -- LSEP, ZLPR, DR loss (C-LSEP + NGC)
- :mod:`~mlteach.losses.balanced` -- focal, asymmetric (ASL), distribution-balanced focal
- :mod:`~mlteach.losses.long_tail` -- RW, class-balanced (CB) focal, LDAM, BalPoE
- :mod:`~mlteach.losses.circle` -- circle loss
- :mod:`~mlteach.losses.partial` -- AN, DW, LS, N-LS, EntMin, EM (+APL targets), Large Loss
- :mod:`~mlteach.losses.group_softmax` -- group softmax type I / II
- :mod:`~mlteach.losses.baselines` -- BCE on known entries, multi-label softmax, WARP
- :mod:`~mlteach.losses.combined` -- a weighted sum of named losses (e.g. DR + DB focal)
- :mod:`~mlteach.losses.registry` -- where each public loss is derived, explored, tested, benchmarked
"""

from .two_way import *  # noqa: F401,F403
from .ranking import *  # noqa: F401,F403
from .balanced import *  # noqa: F401,F403
from .long_tail import *  # noqa: F401,F403
from .circle import *  # noqa: F401,F403
from .partial import *  # noqa: F401,F403
from .group_softmax import *  # noqa: F401,F403
from .baselines import *  # noqa: F401,F403
from .combined import *  # noqa: F401,F403
from . import two_way, ranking, balanced, long_tail, circle, partial, group_softmax, baselines, combined
from . import registry  # noqa: F401  (where each loss lives in the book: LOSSES)

__all__ = sorted(
    set(two_way.__all__) | set(ranking.__all__) | set(balanced.__all__) | set(long_tail.__all__)
    | set(circle.__all__)
    | set(partial.__all__) | set(group_softmax.__all__) | set(baselines.__all__)
    | set(combined.__all__)
)
