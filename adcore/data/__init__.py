"""Data: registered sources, the benchmarks built from them, and batched tensor transforms."""
from adcore.data.benchmarks import Benchmark, make_benchmark
from adcore.data.sources import SOURCES, DataNotFoundError, ImageSet, load_source
from adcore.data.transforms import BatchTransform, resize_images, to_channels

__all__ = ["Benchmark", "make_benchmark", "SOURCES", "DataNotFoundError", "ImageSet", "load_source",
           "BatchTransform", "resize_images", "to_channels"]
