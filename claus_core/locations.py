"""Where the repository's study configs and run stores are, whatever the working directory.

The notebooks and ``claus report`` find ``configs/<profile>_study.yaml`` and the run store
``runs/<profile>`` of this repository from the package's own location (an editable install,
``make setup``), so papermill gives the same pages with or without ``--cwd notebooks``; a
``store`` path names any other run store (a study run with ``claus run --root``).
"""

from __future__ import annotations

from pathlib import Path


def repository_root() -> Path:
    """The checkout that holds this package (``_toc.yml`` beside ``claus_core/``), else the
    working directory (a non-editable install has no repository)."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "_toc.yml").exists() else Path.cwd()


def study_config(profile: str) -> Path:
    """``configs/<profile>_study.yaml`` of the repository."""
    return repository_root() / "configs" / f"{profile}_study.yaml"


def study_root(profile: str, store: str | Path = "") -> Path:
    """The run store a notebook reads: ``store`` when given (relative to the working
    directory), else the repository's ``runs/<profile>``."""
    return Path(store).expanduser() if str(store) else repository_root() / "runs" / profile


def shown_path(path: Path) -> str:
    """``path`` as a reader should see it: relative to the repository when inside it."""
    root = repository_root()
    return (
        str(path.relative_to(root))
        if path.is_absolute() and path.is_relative_to(root)
        else str(path)
    )
