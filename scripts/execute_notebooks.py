"""Execute the book's notebooks into its execution cache, several at a time, before Sphinx runs.

jupyter-book 1 executes each notebook while Sphinx reads it, one after the other; most pages
spend their time in one Python process (SymPy, plotting), so one of the two cores idles. This
script executes every notebook of ``_toc.yml`` that the cache lacks, ``--jobs`` at a time, reading
each page with myst-nb's own reader and storing it in the cache as myst-nb does, so the
``jupyter-book build`` that follows finds every page there and executes nothing.

Order: the reproduction chapters first (they train), a chapter's exercises after its experiments
(they may train the same configurations), the status page after every chapter (it reads all
their runs). A failing notebook stops the script with its traceback and exit status 1.

    python scripts/execute_notebooks.py [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

import yaml
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from jupyter_cache.executors.utils import single_nb_execution
from myst_nb.core.config import NbParserConfig
from myst_nb.core.read import create_nb_reader
from myst_parser.config.main import MdParserConfig

ROOT = Path(__file__).resolve().parents[1]
STATUS_PAGE = "notebooks/reproduction_status"


def toc_files(toc: dict) -> list[str]:
    """Every ``file`` of a jupyter-book ``_toc.yml`` (root first), in reading order."""
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({key: value for key, value in toc.items() if key != "root"})
    return files


def dependencies(docname: str, docnames: list[str]) -> set[str]:
    """The pages that must have executed before ``docname``."""
    experiments = [d for d in docnames if d.endswith("_experiments")]
    if docname == STATUS_PAGE:
        return set(experiments)
    chapter = re.match(r"notebooks/(ch\d+)_.*_exercises$", docname)
    return {d for d in experiments if chapter and d.startswith(f"notebooks/{chapter.group(1)}_")}


def _execute(path: str, notebook, timeout: int) -> tuple:
    result = single_nb_execution(notebook, cwd=str(Path(path).parent), allow_errors=False, timeout=timeout,
                                 meta_override=True)
    return notebook, result.time, result.exc_string if result.err is not None else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="notebooks executed at once")
    jobs = parser.parse_args().jobs
    if jobs < 1:
        parser.error(f"--jobs must be >= 1, got {jobs}")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    execute, parse = config.get("execute", {}), config.get("parse", {})
    md_config = MdParserConfig(enable_extensions=set(parse.get("myst_enable_extensions", [])))
    # myst-nb reads the cache path relative to the working directory: build_book.sh runs
    # jupyter-book from the repository root, which is where this path is taken from too
    cache = get_cache(str(ROOT / execute.get("cache", "_build/.jupyter_cache")))
    timeout = int(execute.get("timeout", 30))

    docnames = toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    pending: dict[str, tuple] = {}
    for docname in docnames:
        path = next((p for p in (ROOT / f"{docname}.md", ROOT / f"{docname}.ipynb") if p.exists()), None)
        if path is None:
            raise SystemExit(f"execute_notebooks: {docname} of _toc.yml is not a .md or .ipynb file")
        text = path.read_text(encoding="utf-8")
        reader = create_nb_reader(str(path), md_config, NbParserConfig(), text)
        if reader is None:
            continue  # a prose page
        notebook = reader.read(text)
        try:
            cache.match_cache_notebook(notebook)
        except KeyError:
            pending[docname] = (path, notebook, reader.read_fmt)
    # the chapters that train first, then the rest in reading order
    order = sorted(pending, key=lambda d: (not d.endswith("_experiments"), d == STATUS_PAGE))
    done = {d for d in docnames if d not in pending}
    failed: list[str] = []
    running: dict[Future, str] = {}
    start = time.perf_counter()
    print(f"execute_notebooks: {len(order)} notebook(s) to execute, {jobs} at a time", flush=True)
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        while running or (order and not failed):
            ready = [d for d in order if dependencies(d, docnames) <= done] if not failed else []
            for docname in ready[:jobs - len(running)]:
                order.remove(docname)
                path, notebook, _ = pending[docname]
                running[pool.submit(_execute, str(path), notebook, timeout)] = docname
                print(f"  started  {docname}", flush=True)
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                docname = running.pop(future)
                notebook, seconds, error = future.result()
                if error is not None:  # let the running ones finish (and be cached), start no more
                    failed.append(docname)
                    print(f"execute_notebooks: {docname} failed after {seconds:.0f} s:\n{error}", file=sys.stderr)
                    continue
                path, _, read_fmt = pending[docname]
                record = cache.add_nb_to_project(str(path), read_data=read_fmt)
                cache.cache_notebook_bundle(CacheBundleIn(notebook, record.uri, data={"execution_seconds": seconds}),
                                            check_validity=False, overwrite=True)
                done.add(docname)
                print(f"  executed {docname} in {seconds:.1f} s ({time.perf_counter() - start:.0f} s so far)",
                      flush=True)
    if failed:
        print(f"execute_notebooks: FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"execute_notebooks: all executed in {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
