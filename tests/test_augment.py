"""Tests of sksubset.experiments.augment: random crops and flips, a new one at every read."""

import numpy as np
import pytest
import torch

from sksubset.experiments.augment import AugmentedImages, augmentation_for, random_crop


def test_random_crop_is_a_shifted_window_of_the_padded_image():
    image = torch.arange(2 * 5 * 6, dtype=torch.float32).reshape(2, 5, 6) + 1
    fill = torch.tensor([-1.0, -2.0])
    padded = torch.stack([torch.nn.functional.pad(image[c], (2, 2, 2, 2), value=float(fill[c]))
                          for c in range(2)])
    torch.manual_seed(0)
    seen = set()
    for _ in range(200):
        out = random_crop(image, 2, fill)
        matches = [(dy, dx) for dy in range(5) for dx in range(5)
                   if torch.equal(out, padded[:, dy:dy + 5, dx:dx + 6])]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) == 25  # every offset of the 5 x 5 possible ones occurs


def test_augmented_images_draw_anew_at_each_read_and_flip_when_asked():
    X = np.random.default_rng(0).normal(size=(3, 1, 8, 8)).astype(np.float32)
    ds = AugmentedImages(X, [0, 1, 2], padding=0, flip=True)
    torch.manual_seed(1)
    reads = [ds[0][0] for _ in range(40)]
    flipped = sum(torch.equal(r, torch.from_numpy(X[0]).flip(-1)) for r in reads)
    assert 5 < flipped < 35 and flipped + sum(torch.equal(r, torch.from_numpy(X[0]))
                                              for r in reads) == 40
    crops = AugmentedImages(X, [0, 1, 2], padding=2)
    assert len({tuple(crops[1][0].flatten().tolist()) for _ in range(20)}) > 1
    assert list(crops.targets) == [0, 1, 2] and crops[2][1] == 2
    with pytest.raises(ValueError, match="N, C, H, W|n, C, H, W"):
        AugmentedImages(X[:, 0], [0, 1, 2])


def test_the_runners_settings():
    cifar = augmentation_for("cifar10")
    assert cifar["padding"] == 4 and cifar["flip"] is True
    np.testing.assert_allclose(cifar["fill"], [-0.4914 / 0.2023, -0.4822 / 0.1994,
                                               -0.4465 / 0.2010])
    assert augmentation_for("fashion-mnist") == {"padding": 4, "flip": False}
    with pytest.raises(ValueError, match="cifar10 and fashion-mnist"):
        augmentation_for("digits")
