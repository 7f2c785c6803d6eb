"""Where a progress bar goes: a widget in a kernel a person drives, the build log (the kernel's
real stderr) when nbclient runs a notebook unattended, and never into the published notebook."""

from __future__ import annotations

import os

import nbformat
import pytest

from mlteach.progress import in_interactive_kernel, in_unattended_kernel, progress_bar

WORK = """\
from mlteach.progress import progress_bar
for _ in progress_bar(range(3), desc="unattended work"):
    pass"""


def kernel_environment() -> dict:
    """The environment of a real kernel: without pytest's marker, which turns off ipykernel's
    capture of file descriptor 2 (the capture that sends ``sys.__stderr__`` to the notebook)."""
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


def test_plain_python_gets_a_text_bar_on_stderr(capsys):
    assert not in_interactive_kernel() and not in_unattended_kernel()
    for _ in progress_bar(range(4), desc="plain work"):
        pass
    err = capsys.readouterr().err
    assert "plain work" in err and "4/4" in err


@pytest.mark.slow
def test_an_unattended_notebook_keeps_no_bar_and_the_log_gets_it(capfd):
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(WORK)])
    NotebookClient(notebook, timeout=60, kernel_name="python3").execute(env=kernel_environment())
    assert notebook.cells[0].outputs == [], "the bar (or a stderr stream) reached the notebook"
    assert "widgets" not in notebook.metadata
    log = capfd.readouterr().err
    assert "unattended work" in log and "3/3" in log, "the bar did not reach the kernel's stderr"


@pytest.mark.slow
def test_an_interactive_kernel_shows_the_notebook_bar():
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", env=kernel_environment())
    try:
        messages = []
        reply = client.execute_interactive(WORK, allow_stdin=True, timeout=60,
                                           output_hook=messages.append)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    shown = [m["content"]["data"] for m in messages if m["msg_type"] == "display_data"]
    assert any("application/vnd.jupyter.widget-view+json" in data for data in shown)
