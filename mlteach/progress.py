"""Progress bars of long work: live where a person watches, in the log where nobody does.

:func:`progress_bar` is a ``tqdm`` bar that depends on where the code runs:

- in a notebook kernel driven by a person (JupyterLab, Notebook, VS Code): the notebook bar
  of ``tqdm.auto`` (a widget);
- in a kernel that runs a notebook unattended (nbclient: the book build, ``jupyter nbconvert
  --execute``): a text bar on the kernel process's real standard error, which is the build's
  log. The cell gets no output, so the published page holds no bar (no widget state, no
  widget JavaScript, no timings of the build machine) and no stderr stream;
- in plain Python (scripts, tests): the text bar of ``tqdm`` on ``sys.stderr``.
"""

from __future__ import annotations

import os
import sys
from typing import IO

from tqdm import tqdm
from tqdm.auto import tqdm as tqdm_auto

__all__ = ["progress_bar", "in_unattended_kernel", "in_interactive_kernel"]

LOG_INTERVAL_S = 10.0  # at most one log line per 10 s of an unattended run

_log_stream: IO[str] | None = None


def _kernel():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return getattr(get_ipython(), "kernel", None)


def in_interactive_kernel() -> bool:
    """True in a Jupyter kernel whose current request comes from a frontend that can answer
    (JupyterLab, Notebook and VS Code ask with ``allow_stdin``)."""
    kernel = _kernel()
    return kernel is not None and bool(getattr(kernel, "_allow_stdin", True))


def in_unattended_kernel() -> bool:
    """True in a Jupyter kernel that runs a notebook with nobody to answer (nbclient, hence
    ``jupyter nbconvert --execute`` and the book build)."""
    return _kernel() is not None and not in_interactive_kernel()


def _kernel_log() -> IO[str]:
    """The kernel process's real standard error. ipykernel captures file descriptor 2 and
    forwards it to the notebook, so ``sys.__stderr__`` would land in the page; the copy of the
    original descriptor that it keeps is what the process that started the kernel reads."""
    global _log_stream
    if _log_stream is None:
        original = getattr(sys.stderr, "_original_stdstream_copy", None)
        _log_stream = (os.fdopen(os.dup(original), "w", buffering=1) if original is not None
                       else sys.__stderr__)
    return _log_stream


def progress_bar(iterable=None, **settings) -> tqdm:
    """A ``tqdm`` bar over ``iterable`` (or updated by hand) with tqdm's ``settings``
    (``total``, ``desc``, ``disable``, ...), shown where it belongs (see the module)."""
    if in_unattended_kernel():
        settings.setdefault("mininterval", LOG_INTERVAL_S)
        return tqdm(iterable, file=_kernel_log(), **settings)
    return tqdm_auto(iterable, **settings)
