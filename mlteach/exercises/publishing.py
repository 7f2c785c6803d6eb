"""Where the book is published, derived from the one setting that names it.

``repository.url`` (and ``repository.branch``) in ``_config.yml`` is the only place the
repository is written down. From it, for ``https://github.com/OWNER/REPO``:

- the site: ``https://OWNER.github.io/REPO/`` (GitHub Pages of that repository), and a page's
  address ``<site><page>.html``;
- the exported student notebooks live on the branch :data:`NOTEBOOK_BRANCH` (the deployment
  workflow pushes them there), so Colab opens one at
  ``https://colab.research.google.com/github/OWNER/REPO/blob/student-notebooks/<name>.ipynb``;
- the package installs with ``pip install "mlteach @ git+https://github.com/OWNER/REPO@BRANCH"``.

>>> site = Publication("https://github.com/someone/mlteach", "main")
>>> site.page_url("notebooks/ch1_basics")
'https://someone.github.io/mlteach/notebooks/ch1_basics.html'
>>> site.colab_url("ch4_large_loss_exercises.ipynb")
'https://colab.research.google.com/github/someone/mlteach/blob/student-notebooks/ch4_large_loss_exercises.ipynb'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["Publication", "NOTEBOOK_BRANCH", "ROOT"]

#: The repository checkout this package sits in (the book's sources, when run from a clone).
ROOT = Path(__file__).resolve().parents[2]
#: The branch the deployment workflow publishes the student notebooks to.
NOTEBOOK_BRANCH = "student-notebooks"
_GITHUB = re.compile(r"^https://github\.com/(?P<owner>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/?$")


@dataclass(frozen=True)
class Publication:
    """The published book of the GitHub repository ``repository_url`` (branch ``branch``)."""

    repository_url: str
    branch: str = "main"

    @classmethod
    def from_config(cls, config: str | Path = ROOT / "_config.yml") -> "Publication":
        """Read ``repository.url`` and ``repository.branch`` from a Jupyter Book ``_config.yml``."""
        repository = (yaml.safe_load(Path(config).read_text()) or {}).get("repository") or {}
        if not repository.get("url"):
            raise ValueError(f"{config}: repository.url is not set")
        return cls(repository["url"], repository.get("branch") or "main")

    @property
    def _github(self) -> re.Match:
        match = _GITHUB.match(self.repository_url)
        if match is None:
            raise ValueError(f"repository.url {self.repository_url!r} is not https://github.com/OWNER/REPO")
        return match

    @property
    def owner(self) -> str:
        return self._github["owner"]

    @property
    def name(self) -> str:
        return self._github["repo"]

    @property
    def site_url(self) -> str:
        """The GitHub Pages address of the book, ending with ``/``."""
        return f"https://{self.owner.lower()}.github.io/{self.name}/"

    def page_url(self, page: str, anchor: str = "") -> str:
        """The published address of ``page`` (a path without suffix from the book's root)."""
        return f"{self.site_url}{page}.html" + (f"#{anchor}" if anchor else "")

    def colab_url(self, notebook: str) -> str:
        """Colab's address of an exported notebook (its file name on :data:`NOTEBOOK_BRANCH`)."""
        return f"https://colab.research.google.com/github/{self.owner}/{self.name}/blob/{NOTEBOOK_BRANCH}/{notebook}"

    @property
    def pip_requirement(self) -> str:
        """The ``pip install`` argument that installs ``mlteach`` from the repository."""
        return f"mlteach @ git+https://github.com/{self.owner}/{self.name}@{self.branch}"
