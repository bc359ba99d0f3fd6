"""The overlap guard: an OE corpus must never hold the benchmark's own classes.

Names are not enough: ``mnist5k`` is a subset of ``mnist``, ``digits`` and ``svhn`` are digits too,
``cifar100_coarse`` groups ``cifar100``'s classes, STL-10's "car" is CIFAR-10's "automobile". So the
guard compares what the sources declare (``adcore.data.sources.base.Source``): sources of one
*family* may hold the very same images, and sources of one *vocabulary* name the same classes. An OE
corpus of the benchmark's family or vocabulary is allowed only when its classes are disjoint from
the benchmark's (a class split, e.g. the odd Fashion-MNIST classes as OE for the even ones, the way
CIFAR-100 is OE for CIFAR-10), or, in the same family, when it is drawn from a split of its own
(STL-10's unlabelled split).
"""
from __future__ import annotations

from adcore.data.sources.base import ClassMakeup, Source

BENCHMARK_SPLITS = ("train", "test")  # the splits a benchmark draws its normal and test images from


def _related(data: Source, oe: Source) -> tuple[bool, bool]:
    """(same images possible, same class names). An OE corpus drawn from a split of its own collection that
    no benchmark draws from (STL-10's unlabelled split beside its train and test splits) is the paper's OE
    for that collection (paper 000 §5.2: "STL-10 contains a large unlabeled split, which we use for OE"),
    so it is related in neither way."""
    if oe.family == data.family and oe.oe_split not in BENCHMARK_SPLITS:
        return False, False
    return oe.family == data.family, oe.vocabulary is not None and oe.vocabulary == data.vocabulary


def default_oe_classes(data: Source, bench: ClassMakeup, bench_classes: list[int], oe: Source,
                       oe_set: ClassMakeup) -> list[int] | None:
    """data.oe_classes left unset: all of the OE corpus (None), except that an OE corpus of the dataset's own
    collection or vocabulary keeps only the classes that are not the benchmark's (the class split)."""
    if not any(_related(data, oe)) or not oe_set.class_names:
        return None
    taken = bench.concepts(bench_classes)
    return [c for c in range(len(oe_set.class_names)) if not oe_set.concepts([c]) & taken]


def overlap_error(data: Source, bench: ClassMakeup, bench_classes: list[int], oe: Source, oe_set: ClassMakeup,
                  oe_classes: list[int] | None) -> str | None:
    """Why this OE corpus would put benchmark classes (or images) into the OE set; None if it does not.
    ``bench`` and ``oe_set`` are loaded image sets or, before anything is loaded, their censuses."""
    same_images, same_labels = _related(data, oe)
    if not (same_images or same_labels):
        return None
    relation = (f"is drawn from the same collection ({data.family}) as data.dataset {data.name}" if same_images
                else f"names its classes in the same vocabulary ({data.vocabulary}) as data.dataset {data.name}")
    if not oe_set.labelled:
        return (f"data.oe_corpus {oe.name} {relation} and has no classes to keep apart from the benchmark's; "
                "choose another OE corpus")
    used = list(range(len(oe_set.class_names))) if oe_classes is None else oe_classes
    if not used:
        return (f"data.oe_corpus {oe.name} {relation} and every one of its classes is a benchmark class "
                f"(data.classes {bench_classes}): nothing is left for outlier exposure. Leave some classes out of "
                "data.classes (they become the OE classes), or choose another OE corpus")
    shared = sorted(bench.concepts(bench_classes) & oe_set.concepts(used))
    if not shared:
        return None
    return (f"data.oe_corpus {oe.name} {relation}, and its OE classes {used} hold the benchmark's classes "
            f"({', '.join(shared)}): the OE set would contain normal or anomalous test classes. Set data.oe_classes "
            f"to classes disjoint from data.classes {bench_classes}, or choose another OE corpus")
