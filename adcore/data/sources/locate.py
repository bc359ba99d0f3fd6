"""Where a source's files are, and the errors that tell a user how to get them when they are not.

Nothing here downloads: the data root is a directory the user fills by hand (or a Debian/PyPI
package's files), so every miss must say which path was looked at and where the files come from.
"""
from __future__ import annotations

from pathlib import Path

from adcore.data.sources.base import DATA_ROOT_ENV, DataNotFoundError, resolve_root

UNSET_ROOT = "<data_root>"  # stands for the root in messages written before one is configured


def require_root(source: str, data_root: str | Path | None, how_to_obtain: str) -> Path:
    """The configured data root; an error that says to set one when neither config nor env does.

    ``how_to_obtain`` may contain ``{root}``, filled with a placeholder here.
    """
    root = resolve_root(data_root)
    if root is None:
        raise DataNotFoundError(
            source,
            Path(UNSET_ROOT),
            f"data.data_root is not set: set data.data_root in the config (or ${DATA_ROOT_ENV}) "
            f"to a directory, then {how_to_obtain.format(root=UNSET_ROOT)}",
        )
    return root


def require_file(source: str, path: Path, how_to_obtain: str) -> Path:
    """``path`` if it is a file, else the error naming it."""
    if not path.is_file():
        raise DataNotFoundError(source, path, how_to_obtain)
    return path
