#!/usr/bin/env bash
# The whole book as one PDF with its math typeset, offline: a single-page HTML build (reusing
# the execution cache of the last `scripts/build_book.sh`, so nothing is executed again when
# the chapters have not changed) printed by headless Chromium. Writes _build/pdf/mlteach.pdf
# and copies it to _build/html/mlteach.pdf, where the site links it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source .venv/bin/activate
export PYTHONWARNINGS=${PYTHONWARNINGS:-}
source_hash=$(find mlteach -name '*.py' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ ! -d _build/.jupyter_cache ]; then
  echo "build_pdf: no execution cache yet: every notebook is executed (run scripts/build_book.sh first to share it)"
elif [ "$(cat _build/.jupyter_cache/.mlteach-source 2>/dev/null)" != "$source_hash" ]; then
  echo "build_pdf: mlteach changed since the last book build; run scripts/build_book.sh first for fresh outputs" >&2
  exit 1
fi
python scripts/book_pdf.py "$@"
