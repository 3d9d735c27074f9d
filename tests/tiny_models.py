"""Tiny transformers models saved to a folder, for tests and benches: no CLIP/BLIP weights can be downloaded here.

Random weights, a byte-level BPE tokenizer written from a small vocab (CLIP) or a word list (BLIP).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tqdm

# save_pretrained's progress bar would start tqdm's monitor thread, which lives on after the test that wrote the model
tqdm.tqdm.monitor_interval = 0

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MERGES = [("o", "f</w>"), ("p", "h"), ("ph", "o"), ("pho", "t"), ("phot", "o</w>"), ("d", "o"), ("do", "g</w>")]


def _byte_symbols() -> list[str]:
    """GPT-2/CLIP's printable stand-ins for the 256 bytes."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes, extra = printable[:], 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(code) for code in codes]


def clip_tokenizer() -> Any:
    from transformers import CLIPTokenizer

    symbols = _byte_symbols()
    vocab: dict[str, int] = {}
    for symbol in symbols + [s + "</w>" for s in symbols] + ["".join(pair) for pair in MERGES] + [BOS, EOS]:
        vocab.setdefault(symbol, len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=list(MERGES))  # merges must be tuples (transformers 5)


def write_clip(
    folder: Path,
    vision: dict[str, Any] | None = None,
    text: dict[str, Any] | None = None,
    projection_dim: int = 16,
    preprocessor: dict[str, Any] | None = None,
    seed: int = 0,
) -> Path:
    """Save a random CLIPModel with its tokenizer (and a preprocessor_config.json when given) to `folder`."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    tokenizer = clip_tokenizer()
    vision_config = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "image_size": 32,
        "patch_size": 8,
        **(vision or {}),
    }
    text_config = {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": 77,
        "bos_token_id": tokenizer.convert_tokens_to_ids(BOS),
        "eos_token_id": tokenizer.convert_tokens_to_ids(EOS),
        "pad_token_id": tokenizer.convert_tokens_to_ids(EOS),
        **(text or {}),
    }
    torch.manual_seed(seed)
    config = CLIPConfig(text_config=text_config, vision_config=vision_config, projection_dim=projection_dim)
    model = CLIPModel(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    if preprocessor is not None:
        (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor), encoding="utf-8")
    return folder


BLIP_WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "photo", "of", "dog", "on", "the", "beach", "."]


def write_blip(folder: Path, favourite: str = "dog") -> Path:
    """A random BLIP captioner whose language head always prefers `favourite`, so captions are predictable."""
    import torch
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = BertTokenizer(vocab={word: index for index, word in enumerate(BLIP_WORDS)})
    torch.manual_seed(0)
    config = BlipConfig(
        text_config={
            "vocab_size": len(BLIP_WORDS),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 64,
            "encoder_hidden_size": 32,
            "bos_token_id": 2,
            "sep_token_id": 3,
            "eos_token_id": 3,
            "pad_token_id": 0,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    model = BlipForConditionalGeneration(config).eval()
    with torch.no_grad():
        bias = model.text_decoder.cls.predictions.bias
        bias.zero_()
        bias[BLIP_WORDS.index(favourite)] = 1000.0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_siglip(folder: Path, logit_scale: float = 10.0, logit_bias: float = -2.0) -> Path:
    """A random SigLIP (sigmoid-trained) with known logit scale and bias; the tiny CLIP tokenizer stands in."""
    import math

    import torch
    from transformers import SiglipConfig, SiglipModel

    tokenizer = clip_tokenizer()
    torch.manual_seed(0)
    tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
    config = SiglipConfig(
        text_config={
            **tower,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": 24,
            "bos_token_id": tokenizer.convert_tokens_to_ids(BOS),
            "eos_token_id": tokenizer.convert_tokens_to_ids(EOS),
            "pad_token_id": tokenizer.convert_tokens_to_ids(EOS),
        },
        vision_config={**tower, "image_size": 32, "patch_size": 8},
    )
    model = SiglipModel(config).eval()
    with torch.no_grad():
        model.logit_scale.fill_(math.log(logit_scale))
        model.logit_bias.fill_(logit_bias)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
