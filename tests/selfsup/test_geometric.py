"""GEOM's 72 transformations: distinct, in the authors' order, invertible where they should be,
and the one-gather batched form equals applying each transformation on its own."""
from __future__ import annotations

import torch

from adcore.transforms.geometric import apply_indexed, geom_transforms, index_table, rotate_each, translate


def test_there_are_72_distinct_transformations_identity_first() -> None:
    transforms = geom_transforms(8)
    assert len(transforms) == 72 and len(set(transforms)) == 72
    image = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    outputs = {tuple(t(image).flatten().tolist()) for t in transforms}
    assert len(outputs) == 72  # no two transformations give the same image
    assert torch.equal(transforms[0](image), image)


def test_flips_and_rotations_are_inverted_exactly() -> None:
    image = torch.rand(2, 3, 32, 32)
    bijections = [t for t in geom_transforms(8) if not (t.tx or t.ty)]
    assert len(bijections) == 8
    for t in bijections:
        assert torch.equal(t.undo(t(image)), image)


def test_translations_restore_the_pixels_that_stayed_in_the_frame() -> None:
    image = torch.rand(1, 1, 32, 32)
    for t in geom_transforms(8):
        if t.tx or t.ty:
            restored = t.undo(t(image))
            rows = slice(max(0, -t.ty), 32 - max(0, t.ty))  # pixels that were never shifted out
            left, right = max(0, -t.tx), max(0, t.tx)  # columns lost on each side, in the flipped frame
            cols = slice(right, 32 - left) if t.flip else slice(left, 32 - right)
            assert torch.equal(restored[..., rows, cols], image[..., rows, cols])
            assert not torch.equal(restored, image)  # the reflection fill lost the rest


def test_translation_fills_by_half_sample_reflection() -> None:
    row = torch.arange(6.0).view(1, 6)
    assert translate(row, 2, 0).tolist() == [[1.0, 0.0, 0.0, 1.0, 2.0, 3.0]]  # b a | a b c d
    assert translate(row, -2, 0).tolist() == [[2.0, 3.0, 4.0, 5.0, 5.0, 4.0]]


def test_batched_gather_equals_each_transformation() -> None:
    transforms = geom_transforms(4)
    images = torch.rand(9, 3, 16, 16)
    which = torch.randint(72, (9,), generator=torch.Generator().manual_seed(1))
    out = apply_indexed(images, index_table(transforms, 16), which)
    for i in range(9):
        assert torch.equal(out[i], transforms[which[i]](images[i]))


def test_rotate_each_rotates_every_image_by_its_own_quarter_turns() -> None:
    images = torch.rand(4, 1, 8, 8)
    out = rotate_each(images, torch.tensor([0, 1, 2, 3]))
    for k in range(4):
        assert torch.equal(out[k], torch.rot90(images[k], k, dims=(-2, -1)))
