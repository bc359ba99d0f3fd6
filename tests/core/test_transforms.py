"""Batched crop/flip/normalise equals the per-image operations it replaces."""
import torch
import torch.nn.functional as F

from adcore.data import BatchTransform, resize_images, to_channels


def test_train_transform_is_a_padded_crop_and_flip_per_image() -> None:
    images = torch.randint(0, 256, (64, 1, 12, 12), dtype=torch.uint8)
    transform = BatchTransform((0.0,) * 3, (1 / 255,) * 3, torch.device("cpu"), pad=4)  # identity normalisation
    out = transform.train(images, torch.Generator().manual_seed(3))
    padded = F.pad(images.float(), (4, 4, 4, 4)).expand(-1, 3, -1, -1)
    for x, y in zip(padded, out):  # each output is some 12x12 window of its padded image, maybe flipped
        windows = x.unfold(1, 12, 1).unfold(2, 12, 1).permute(1, 2, 0, 3, 4).reshape(-1, 3, 12, 12)
        candidates = torch.cat([windows, windows.flip(-1)])
        assert (candidates == y).all(dim=(1, 2, 3)).any()
    flipped = sum(bool((out[i] != padded[i, :, 4:16, 4:16]).any()) for i in range(64))
    assert flipped > 0  # the augmentation does something


def test_same_generator_state_same_batch_and_eval_is_plain_normalisation() -> None:
    images = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8)
    transform = BatchTransform((0.5, 0.5, 0.5), (0.25, 0.25, 0.25), torch.device("cpu"))
    a = transform.train(images, torch.Generator().manual_seed(0))
    b = transform.train(images, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    expected = (images.float() / 255 - 0.5) / 0.25
    assert torch.allclose(transform.eval(images), expected, atol=1e-5)


def test_resize_and_channels() -> None:
    images = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
    resized = resize_images(images, 32)
    assert resized.shape == (5, 1, 32, 32) and resized.dtype == torch.uint8
    assert resize_images(images, 28) is images
    assert to_channels(images, 3).shape == (5, 3, 28, 28)
