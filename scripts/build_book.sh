#!/usr/bin/env bash
# Set up (scripts/setup.sh) and build the whole book into _build/html, executing every
# notebook (results cached in _build/.jupyter_cache; scripts/execute_notebooks.py executes
# them two at a time before Sphinx reads them). Warnings, broken references and failing cells
# make the build fail; the failing notebook's execution log is printed.
#   --student   the student edition (every solution removed) into _build/student/_build/html
set -euo pipefail
cd "$(dirname "$0")/.."
output=()
html=_build/html
case "${1:-}" in
  "") ;;
  --student) export MLTEACH_STUDENT_EDITION=1; output=(--path-output _build/student); html=_build/student/_build/html ;;
  *) echo "usage: bash scripts/build_book.sh [--student]" >&2; exit 2 ;;
esac
bash scripts/setup.sh
source .venv/bin/activate
export PYTHONWARNINGS=${PYTHONWARNINGS:-}
# jupyter-cache keys a notebook by its own code only: when mlteach changes, stored outputs
# may be stale, so the cache is cleared and every page is read again (--all; training runs
# stay cached in runs/ by code version).
source_hash=$(find mlteach -name '*.py' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
stamp=_build/.jupyter_cache/.mlteach-source
reread=0
if [ "$(cat "$stamp" 2>/dev/null)" != "$source_hash" ]; then
  echo "first build, or mlteach changed since the last one: executing every notebook"
  rm -rf _build/.jupyter_cache
  reread=1
fi
# Sphinx reads a page again when the page, or a file it names as a dependency, changes, but not
# when the book's own extensions (book/_ext: generated tables, navigation, page post-processing)
# change: then every page is read again too (nothing is executed again for that).
extensions_hash=$(find book/_ext -name '*.py' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
extensions_stamp=$(dirname "$html")/.book-extensions
if [ "$(cat "$extensions_stamp" 2>/dev/null)" != "$extensions_hash" ]; then
  [ "$reread" = 1 ] || echo "first build of this edition, or the book's extensions changed since the last one: reading every page again"
  reread=1
fi
[ "$reread" = 0 ] || output+=(--all)
start=$EPOCHREALTIME
if [ -z "${MLTEACH_STUDENT_EDITION:-}" ]; then  # the student pages differ from the sources: Sphinx executes them
  python scripts/execute_notebooks.py || { echo "book build FAILED: a notebook failed to execute" >&2; exit 1; }
fi
log=$(mktemp)
status=0
jupyter-book build -W -n --keep-going "${output[@]}" . 2>&1 | tee "$log" || status=$?
elapsed=$(python -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$start" "$EPOCHREALTIME")
executed=$(grep -c "Executing notebook" "$log" || true)
if [ "$status" -ne 0 ]; then
  for report in _build/html/reports/*.err.log _build/html/reports/**/*.err.log; do
    [ -f "$report" ] && { echo "---- $report"; cat "$report"; }
  done
  echo "book build FAILED after ${elapsed}s" >&2
  rm -f "$log"
  exit "$status"
fi
rm -f "$log"
if [ -z "${MLTEACH_STUDENT_EDITION:-}" ] && [ "$executed" -gt 0 ]; then
  echo "warning: Sphinx executed ${executed} notebook(s) that scripts/execute_notebooks.py had already executed:" \
       "its reading of those pages differs from myst-nb's, so their cache keys disagree" >&2
fi
mkdir -p "$(dirname "$stamp")" && echo "$source_hash" > "$stamp"
echo "$extensions_hash" > "$extensions_stamp"
echo "book build: ${elapsed} s, ${executed} notebook(s) executed by Sphinx, the rest from the cache"
echo "open $html/index.html in a browser"
