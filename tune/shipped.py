"""The studies shipped with the distribution, as ``tune``'s package data (``tune/studies/*.yaml``, in a
checkout a link to the repository's ``studies/``), found by name: ``adstudy run ablation_table4``."""
from __future__ import annotations

from pathlib import Path

import yaml

FOLDER = Path(__file__).resolve().parent / "studies"


def shipped() -> dict[str, Path]:
    """Study name (the file's stem) -> its file."""
    return {path.stem: path for path in sorted(FOLDER.glob("*.yaml"))}


def resolve(study: str | Path) -> Path:
    """A study file as given where there is one, else the shipped study of that name (``ablation_table4``
    or ``ablation_table4.yaml``); otherwise the error that lists them."""
    path = Path(study)
    if path.is_file():
        return path
    found = shipped().get(path.name.removesuffix(".yaml")) if path.parent == Path(".") else None
    if found is None:
        raise FileNotFoundError(f"{study}: no such study file, and no shipped study of that name; shipped studies: "
                                f"{', '.join(shipped())} (adstudy studies: what each reproduces)")
    return found


def describe() -> str:
    """One line per shipped study: its name and what it reproduces (the file's ``reproduces``)."""
    studies = shipped()
    width = max(map(len, studies), default=0)
    lines = [f"{name:<{width}}  {(yaml.safe_load(path.read_text()) or {}).get('reproduces') or '-'}"
             for name, path in studies.items()]
    lines.append(f"\n{len(studies)} studies in {FOLDER}; run one with: adstudy run NAME [--smoke | --dry-run]")
    return "\n".join(lines)
