"""Batched tensor transformations that self-supervised methods train on: GEOM's 72 geometric
transformations, 90-degree rotations (shifted instances) and SimCLR's augmentations."""
