"""ImageNet-1k's class list as timm ships it: the 1,000 WordNet synsets (``n02088364``) in class-index
order and the lemmas each stands for ("beagle"). Read from timm's package files without importing
timm (which imports torch), so the check before Ray can name ImageNet classes in a second."""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

_INFO = Path("data", "_info")  # inside the timm package
SYNSETS_FILE = "imagenet_synsets.txt"  # one synset per line, in ImageNet-1k's class order
LEMMAS_FILE = "imagenet_synset_to_lemma.txt"  # synset <tab> lemma, lemma, ...


def _info_file(name: str) -> Path:
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"ImageNet's class list comes with the PyPI package timm ({_INFO / name}); pip install timm")
    return Path(next(iter(spec.submodule_search_locations))) / _INFO / name


@lru_cache(maxsize=1)
def synsets() -> tuple[str, ...]:
    """ImageNet-1k's synsets in class-index order."""
    return tuple(_info_file(SYNSETS_FILE).read_text().split())


@lru_cache(maxsize=1)
def lemmas() -> dict[str, tuple[str, ...]]:
    """ImageNet-1k synset -> its lemmas (the names WordNet gives it), e.g. n02088238 -> (basset, basset hound)."""
    wanted = set(synsets())
    table = {}
    for line in _info_file(LEMMAS_FILE).read_text().splitlines():
        synset, _, names = line.partition("\t")
        if synset in wanted:
            table[synset] = tuple(name.strip() for name in names.split(","))
    return table


def synset_of(name: str) -> str:
    """The one ImageNet-1k synset that has ``name`` among its lemmas (case-insensitive)."""
    found = [synset for synset, names in lemmas().items() if name.lower() in (n.lower() for n in names)]
    if len(found) != 1:
        raise ValueError(f"{name!r} names {len(found)} ImageNet-1k classes in timm's class list, not one: {found}")
    return found[0]
