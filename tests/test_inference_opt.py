"""Folding batch norms and channels-last memory keep the imagenet model's outputs (the tag stage's CPU speed-up)."""

from __future__ import annotations

import copy

import torch
from efficientnet_lite_pytorch import EfficientNet

from daemon.ml.inference_opt import channels_last, fold_batch_norms, for_inference


def model_with_real_statistics() -> torch.nn.Module:
    torch.manual_seed(0)
    model = EfficientNet.from_name("efficientnet-lite0")
    for module in model.modules():  # batch norms that do something, as trained ones do
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def test_every_batch_norm_is_folded_and_the_outputs_stay_the_same() -> None:
    model = model_with_real_statistics()
    pixels = torch.randn(4, 3, 224, 224)
    with torch.inference_mode():
        expected = model(pixels)
    fast = for_inference(copy.deepcopy(model))
    assert not any(isinstance(module, torch.nn.BatchNorm2d) for module in fast.modules())
    assert fast._conv_stem.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        got = fast(channels_last(pixels))
    assert torch.allclose(got, expected, atol=1e-4, rtol=1e-3), (got - expected).abs().max()
    assert torch.equal(got.argmax(1), expected.argmax(1))


def test_folding_counts_the_stem_the_head_and_each_blocks_convolutions() -> None:
    model = model_with_real_statistics()
    blocks = len(model._blocks)
    expanding = sum(1 for block in model._blocks if hasattr(block, "_expand_conv"))
    assert fold_batch_norms(model) == 2 + 2 * blocks + expanding
    assert fold_batch_norms(model) == 0  # nothing left to fold
