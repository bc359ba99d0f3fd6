"""What data a trial sees: the source, the benchmark protocol and its classes, the OE corpus, the
image size and the image budget. Protocol-specific checks live with the protocol
(``adcore.data.protocols``), which reads this config and so sits above it: a trial config holds a
``CheckedDataConfig``, which asks the protocol once the data config is otherwise valid."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializeAsAny, field_validator

from adcore.data.sources import source_spec
from adcore.params import ComponentParams, StrictModel, hparam

# A source as a config names it: a built-in source's name (fashion_mnist), or a researcher's own data as
# {name: <layout>, ...} (image_folder, mvtec, npz, imagenet_subset; see adcore.data.sources.layouts)
SourceSpec = str | SerializeAsAny[ComponentParams]

FactorFilter = dict[str, str | int | list[str | int]]  # factor name -> a value, or a list meaning any of them


class FactorConfig(StrictModel):
    """Benchmark ``factors`` (paper 000 §5.1): which images of a factor source are normal, which are the
    anomaly, which are OE and which validate. Filters map factor names (adcore.data.factors: object_color,
    object_shape, object_size, camera_height, background_color, horizontal_axis, vertical_axis) to values;
    a factor a filter leaves out is free."""

    normal: FactorFilter = Field(description="the normal images, e.g. {object_color: red, object_shape: cone, "
                                 "object_size: small}: every view of a small red cone")
    intervention: FactorFilter = Field(description="the anomalies: the normal filter with these factors replaced, "
                                       "e.g. {object_color: blue}; a list frees a factor among its values")
    oe: FactorFilter | None = Field(None, description="the OE images: every image this filter allows (None: every "
                                    "image) that is neither normal nor anomalous")
    oe_within_normal: list[str] = Field(default_factory=list, description="factors whose OE values are limited to "
                                        "the ones the normal filter allows, e.g. [object_color]: the OE never shows a "
                                        "colour the normal images lack (Figure 2)")
    val: FactorFilter | None = Field(None, description="val_protocol oe_factor_holdout: the OE images this filter "
                                     "allows are held out of the training OE and are the validation anomalies")
    dci_samples: int = Field(0, ge=0, description="DCI disentanglement (Eastwood & Williams 2018) of the trial's "
                             "features against all seven factors, on this many images drawn uniformly from every "
                             "factor tuple, reported as test_dci_* (0: not computed)")
    dci_code_dims: int | None = Field(64, ge=1, description="DCI is computed on the features' this many most "
                                      "variable dimensions (None: every dimension); a random code of the features' "
                                      "shape, reduced the same way, is reported beside it as test_dci_*_random (a wide "
                                      "code scored on few points has a floor far above 0)")


class DataConfig(StrictModel):
    dataset: SourceSpec = Field("fashion_mnist", description="normal and test data: a built-in source's name, or your "
                                "own data as {name: image_folder|mvtec|npz|imagenet_subset, ...} (see docs/data.md); "
                                "benchmark factors: a factor source, e.g. scenes or mpi3d_real")
    data_root: str | None = Field(None, description="directory with the dataset files (default: the source's packaged location or $ADCORE_DATA_ROOT)")
    benchmark: str = Field(
        "leave_one_out", description="registered benchmark protocol: leave_one_out (class `fold` anomalous, the rest "
        "normal), one_vs_rest (class `fold` normal), minor_mode (`fold` primary + `secondary_class` at ratio "
        "`minor_ratio`), factors (a factor source's images chosen by `factors`: normal, intervention, OE)")
    fold: int = Field(0, ge=0, description="the class c of the benchmark (the primary class y_a for minor_mode)")
    secondary_class: int | None = Field(None, ge=0, description="minor_mode: the secondary normal class y_b")
    minor_ratio: float = hparam(1.0, "minor_mode: ratio r of secondary to primary normal images, in [0, 1]", low=0.0, high=1.0)
    classes: list[int] | None = Field(None, description="the dataset's classes the benchmark uses (None: all); fold "
                                      "and secondary_class are among them, the other classes are in neither training "
                                      "nor test (e.g. [0, 2, 4, 6, 8] with the odd classes as a same-domain OE)")
    oe_corpus: SourceSpec = Field("mnist5k", description="the outlier-exposure corpus, named as data.dataset is")
    oe_classes: list[int] | None = Field(None, description="the OE corpus's classes used (None: all of them, except "
                                         "that an OE corpus of the dataset's own images or class vocabulary keeps only "
                                         "the classes outside data.classes: a class split); never a benchmark class")
    image_size: int = Field(32, ge=8, description="side length images are resized to")
    n_normal: int | None = Field(384, ge=1, description="normal training images per trial (None: all)")
    n_oe: int | None = Field(1024, ge=1, description="OE images per trial (None: the whole corpus)")
    n_val: int = Field(128, ge=2, description="validation images per side (normal and anomalous-by-protocol)")
    n_test: int | None = Field(1000, ge=2, description="test images per trial, a seeded subset (None: the whole test split)")
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="a source with one split (mnist5k, digits, a folder "
                                 "without test/): the share of each class drawn (with the trial seed) as its test split, "
                                 "apart from every training image; unused where the source has a test split")
    val_protocol: Literal["oe_holdout", "class_holdout", "oe_class_holdout", "oe_factor_holdout"] = Field(
        "oe_holdout", description="validation anomalies, never a test class: oe_holdout, held-out OE images; "
        "class_holdout (leave_one_out only), one more class held out of the normal classes (and of the test); "
        "oe_class_holdout, one OE class held out of the training OE (same domain when the OE is a class split); "
        "oe_factor_holdout (factors only), the OE images of data.factors.val held out of the training OE")
    factors: FactorConfig | None = Field(None, description="benchmark factors: the normal, anomalous, OE and "
                                         "validation images by their factors (data.dataset names a factor source)")
    augment: bool = Field(True, description="random crop (pad 4) and horizontal flip on training batches")

    @field_validator("dataset", "oe_corpus", mode="before")
    @classmethod
    def _source(cls, value: Any) -> Any:
        return source_spec(value)

    @field_validator("classes", "oe_classes")
    @classmethod
    def _distinct(cls, classes: list[int] | None) -> list[int] | None:
        if classes is not None and (len(set(classes)) != len(classes) or len(classes) < 2 or min(classes) < 0):
            raise ValueError(f"needs two or more distinct class indices, got {classes}")
        return classes

