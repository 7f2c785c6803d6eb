"""The appendix's loss tables, generated at build time, never typed by hand.

Directives (MyST: ```` ```{loss-index} ```` and so on, no options, no content):

- ``loss-index``: one row per public loss of :data:`mlteach.losses.registry.LOSSES`: its
  function and module twin, derivation and explorer pages (cross-references, so a missing page
  fails a ``-n -W`` build), test file and benchmark ratio;
- ``loss-reductions``: what ``reduction="mean"`` divides by, per loss, from the same registry;
- ``loss-benchmarks``: the tables of the newest results file of
  ``benchmarks/bench_losses.py`` per device (``benchmarks/results/bench_losses-<device>.json``),
  with the date, machine, load and thread count it was measured with (and the ``torch.compile``
  table when the run had ``--compiled``).

Each directive writes Markdown (pipe tables and ``{doc}`` roles) and parses it in place.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from mlteach.losses.registry import LOSSES

RESULTS = "benchmarks/results"
LARGE_SIZE = "4096x1000"


def _results(app_root: Path) -> list[dict]:
    files = sorted((app_root / RESULTS).glob("bench_losses-*.json"))
    return [json.loads(path.read_text(encoding="utf-8")) for path in files]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _page_link(docname: str | None) -> str:
    """A link to a chapter page, shown as its chapter ("ch. 3"), or a dash."""
    if not docname:
        return "—"
    chapter = re.match(r"notebooks/ch(\d+)_", docname)
    return f"{{doc}}`{f'ch. {chapter.group(1)}' if chapter else docname} </{docname}>`"


class _MarkdownDirective(SphinxDirective):
    has_content = False
    required_arguments = 0

    def markdown(self) -> list[str]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(StringList(self.markdown(), source=self.get_source_info()[0]),
                                self.content_offset, container)
        return container.children

    @property
    def root(self) -> Path:
        return Path(self.env.app.confdir)


class LossIndex(_MarkdownDirective):
    def markdown(self) -> list[str]:
        self.env.note_dependency(str(self.root / "mlteach" / "losses" / "registry.py"))
        cpu = next((r for r in _results(self.root) if r["device"] == "cpu"), None)
        ratios = {row["loss"]: row.get(LARGE_SIZE, {}).get("time_x_bce") for row in (cpu or {}).get("losses", [])}
        lines = ["| function / module | derivation | explorer | tests | time × BCE |",
                 "|:---|:---|:---|:---|---:|"]
        for item in LOSSES:
            ratio = ratios.get(item.benchmark)
            benchmark = (f"{ratio:.2f}" if ratio is not None
                         else "none" if item.benchmark is None else "—")
            lines.append(f"| `{item.function}` `{item.module}` | {_page_link(item.derivation)} | "
                         f"{_page_link(item.explorer)} | `{Path(item.tests).name}` | {benchmark} |")
        return lines


class LossReductions(_MarkdownDirective):
    def markdown(self) -> list[str]:
        self.env.note_dependency(str(self.root / "mlteach" / "losses" / "registry.py"))
        lines = ['| loss | `reduction="mean"` divides the sum by |', "|:---|:---|"]
        lines += [f"| `{item.function}` | {_cell(item.mean_divides_by)} |" for item in LOSSES]
        return lines


def _number(value, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _compiled_row(row: dict) -> str:
    if row["error"]:
        return f"| `{_cell(row['loss'])}` | failed: {_cell(row['error'])} | | |"
    return (f"| `{_cell(row['loss'])}` | {_number(row['eager_x_bce'])} | {_number(row['compiled_x_bce'])} | "
            f"{_number(row['compile_s'], 1)} |")


class LossBenchmarks(_MarkdownDirective):
    def markdown(self) -> list[str]:
        lines: list[str] = []
        for path in sorted((self.root / RESULTS).glob("bench_losses-*.json")):
            self.env.note_dependency(str(path))
        results = _results(self.root)
        if not results:
            return ["No results file yet: run `python benchmarks/bench_losses.py`."]
        for result in results:
            machine = result["machine"]
            load = machine.get("load_average_1min")
            lines += [
                f"**{result['device']}**, measured {result['date'][:10]} on {machine['cpu']} "
                f"({machine['cores']} cores{f', load average {load:.1f}' if load is not None else ''}), "
                f"{result['threads']} thread(s), torch {result['torch']}, {result['repeats']} interleaved repeats "
                f"(times: medians; ratios: medians of the per-repeat ratios). "
                f"File: `{RESULTS}/bench_losses-{result['device'].split()[0]}.json`.", ""]
            sizes = result["sizes"]
            lines.append("| loss | " + " | ".join(f"{s} time × BCE | {s} memory × BCE" for s in sizes) + " |")
            lines.append("|:---" + "|---:" * (2 * len(sizes)) + "|")
            for row in sorted(result["losses"], key=lambda r: (r["loss"] != "F.binary_cross_entropy_with_logits",
                                                               r["loss"])):
                cells = []
                for size in sizes:
                    cell = row.get(size, {})
                    cells += [_number(cell.get("time_x_bce")), _number(cell.get("memory_x_bce"))]
                lines.append(f"| `{_cell(row['loss'])}` | " + " | ".join(cells) + " |")
            pairwise = result["pairwise"]
            lines += ["", f"Pairwise-free against the naive pairwise forms at C = {pairwise['classes']}:", "",
                      "| loss | B | O(B·C) ms | pairwise ms | speed-up | O(B·C) peak MiB | pairwise peak MiB |",
                      "|:---|---:|---:|---:|---:|---:|---:|"]
            for row in pairwise["rows"]:
                lines.append(f"| {row['loss']} | {row['batch']} | {_number(row['fast_ms'])} | "
                             f"{_number(row['pairwise_ms'], 0)} | {row['pairwise_ms'] / row['fast_ms']:.0f}× | "
                             f"{_number(row['fast_peak_mib'])} | {_number(row['pairwise_peak_mib'], 0)} |")
            group = result["group_softmax"]
            lines += ["", f"Group softmax, B = {group['batch']}, D = {group['dim']}, C = {group['classes']}, "
                          f"G = {group['groups']}:", "", "| variant | ms | × plain layers | peak MiB |",
                      "|:---|---:|---:|---:|"]
            lines += [f"| {row['variant']} | {_number(row['ms'])} | {_number(row.get('x_plain_layers'))} | "
                      f"{_number(row['peak_mib'])} |" for row in group["rows"]]
            compiled = result.get("compiled")
            if compiled:
                lines += ["", f"Under `torch.compile` at {compiled['size']} (time × eager BCE; the first row is "
                              "the fixed cost of compiled code; the first call traces and compiles, unless "
                              "torch's on-disk cache already holds the kernels):", "",
                          "| loss | eager | compiled | first call s |", "|:---|---:|---:|---:|"]
                lines += [_compiled_row(row) for row in compiled["rows"]]
            lines.append("")
        return lines


def setup(app: Sphinx) -> dict:
    app.add_directive("loss-index", LossIndex)
    app.add_directive("loss-reductions", LossReductions)
    app.add_directive("loss-benchmarks", LossBenchmarks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
