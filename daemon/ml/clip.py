"""Zero-shot keywords, categories and image embeddings from a CLIP or SigLIP model (transformers).

Scores (what `[tagging] threshold` compares against), per image, over the vocabulary's cosine similarities c_i:
- SigLIP: the model's own calibrated probability, sigmoid(exp(logit_scale) * c_i + logit_bias).
- CLIP: how far c_i stands out from this image's similarities to the whole vocabulary: z_i = (c_i - mean) / std,
  score = sigmoid(2 * (z_i - 3.7)). So 0.2 (the default threshold) keeps concepts about 3 standard deviations
  above the image's average concept, 0.5 keeps z >= 3.7 and 0.9 keeps z >= 4.8. A softmax over ~2,500 concepts
  would split one subject's mass between its synonyms (dog, puppy, pet) and between the subjects of a busy photo,
  and would move every score whenever user keywords grow the vocabulary; the z-score does neither.
Categories are one choice among the user's `[tagging] categories`: softmax at the model's logit scale (CLIP),
or the sigmoid probabilities (SigLIP).
"""

from __future__ import annotations

import io
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from daemon.config import TaggingConfig, default_data_dir
from daemon.ml import hub
from daemon.ml.base import Backend, EmbeddingCache, ImagePrediction, LabelInfo, ModelMissing
from daemon.ml.caption import Captioner
from daemon.ml.clip_vocab import Vocabulary, cache_key, prompts, templates_of
from daemon.ml.preprocess import Preprocess

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger("image_engine.ml")

DEFAULT_MODEL = "openai/clip-vit-base-patch32"
Z_MIDPOINT = 3.7
Z_SLOPE = 2.0
LABELS_KEPT = 64  # best concepts returned per image (plus every user keyword), for the keyword policy to filter


@dataclass
class _Loaded:
    model: Any
    tokenizer: Any
    device: str
    dtype: Any
    preprocess: Preprocess
    siglip: bool
    logit_scale: float
    logit_bias: float
    fingerprint: str
    concepts: np.ndarray  # (n_concepts, dim) float32, L2-normalised
    categories: np.ndarray | None
    onnx: Any = None  # daemon.ml.clip_onnx.OnnxVision when the int8 CPU path is in use
    text_length: int | None = None  # SigLIP pads every prompt to its trained length


class ClipBackend(Backend):
    name = "clip"

    def __init__(self, config: TaggingConfig, cache: EmbeddingCache, cache_dir: Path | None = None):
        self.config = config
        self.cache = cache
        self.cache_dir = cache_dir if cache_dir is not None else default_data_dir() / "cache"
        self.model_name = config.model or DEFAULT_MODEL
        self.templates = templates_of(config.prompt_templates)
        self.vocabulary = Vocabulary.build(config.keywords)
        self.captioner = Captioner(config.caption_model) if config.caption else None
        self.texts_encoded = 0  # prompts run through the text tower by this instance (0 when the cache served all)
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None
        user = {keyword.casefold() for keyword in config.keywords}
        self._user_rows = np.array(
            [row for row, concept in enumerate(self.vocabulary.concepts) if concept.casefold() in user], dtype=np.int64
        )

    @property
    def model_id(self) -> str:
        return str(hub.local_path(self.model_name)) if hub.is_local(self.model_name) else self.model_name

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def missing(self) -> str | None:
        reason = hub.missing_reason(self.model_name, "[tagging] model", "CLIP model")
        if reason is None and self.captioner is not None:
            reason = self.captioner.missing()
        return reason

    def load(self, device: str) -> str:
        with self._lock:
            if self._loaded is not None:
                self._unload_locked()
            reason = self.missing()
            if reason:
                raise ModelMissing(reason)
            started = time.monotonic()
            self._loaded = self._load(device)
            used = "CPUExecutionProvider" if self._loaded.onnx is not None else device
            if self.captioner is not None:
                self.captioner.load(device)
            log.info(
                "clip model loaded",
                extra={
                    "event": "model_loaded",
                    "detail": f"{self.model_id} on {used}, {len(self.vocabulary.concepts)} concepts",
                    "ms": round(1000 * (time.monotonic() - started)),
                },
            )
            return used

    def _load(self, device: str) -> _Loaded:
        from transformers import AutoModel
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # our own log lines say what loads and how long it took
        model, tokenizer, folder = hub.load_pretrained(
            AutoModel, self.model_name, device, "CLIP model", "[tagging] model"
        )
        if not (hasattr(model, "get_image_features") and hasattr(model, "get_text_features")):
            raise ModelMissing(
                f"{self.model_id} is a {type(model).__name__}, not a CLIP/SigLIP model ([tagging] model, backend clip)"
            )
        siglip = "siglip" in model.config.model_type
        bias = getattr(model, "logit_bias", None)
        state = _Loaded(
            model=model,
            tokenizer=tokenizer,
            device=device,
            dtype=model.dtype,
            preprocess=Preprocess.for_model(folder, int(model.config.vision_config.image_size)),
            siglip=siglip,
            logit_scale=float(model.logit_scale.detach().float().exp().item()),
            logit_bias=float(bias.detach().float().item()) if bias is not None else 0.0,
            fingerprint=f"{folder.name};{hub.fingerprint(folder)}",
            concepts=np.zeros((0, 0), dtype=np.float32),
            categories=None,
            text_length=int(model.config.text_config.max_position_embeddings) if siglip else None,
        )
        state.concepts = self._text_matrix(state, "vocabulary", self.vocabulary.concepts)
        if self.config.categories:
            state.categories = self._text_matrix(state, "categories", self.config.categories)
        if device == "cpu" and self.config.clip_onnx_int8:
            from daemon.ml.clip_onnx import int8_vision

            state.onnx = int8_vision(model, state.preprocess, self.cache_dir, f"{self.model_id};{state.fingerprint}")
        return state

    def unload(self) -> None:
        with self._lock:
            self._unload_locked()

    def _unload_locked(self) -> None:
        if self._loaded is None:
            return
        device = self._loaded.device
        self._loaded = None
        if self.captioner is not None:
            self.captioner.unload()
        if device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()
        log.info("clip model unloaded", extra={"event": "model_unloaded", "detail": self.model_id})

    def _require(self) -> _Loaded:
        state = self._loaded
        if state is None:
            raise RuntimeError("the clip backend is not loaded: call load(device) first")
        return state

    # Text side

    def _text_matrix(self, state: _Loaded, kind: str, texts: list[str]) -> np.ndarray:
        """Averaged prompt embeddings of `texts`, from the cache or computed once and stored there."""
        key = cache_key(kind, self.model_id, state.fingerprint, texts, self.templates)
        stored = self.cache.get(key)
        if stored is not None:
            matrix = np.load(io.BytesIO(stored)).astype(np.float32)
            if matrix.shape[0] == len(texts):
                log.info(
                    "text embeddings from cache", extra={"event": "clip_text_cached", "detail": f"{kind}: {len(texts)}"}
                )
                return matrix
        started = time.monotonic()
        matrix = self._encode(state, texts, progress=kind)
        buffer = io.BytesIO()
        np.save(buffer, matrix.astype(np.float16))
        self.cache.put(key, buffer.getvalue())
        log.info(
            "text embeddings computed",
            extra={
                "event": "clip_text_computed",
                "detail": f"{kind}: {len(texts)} x {len(self.templates)} prompts",
                "ms": round(1000 * (time.monotonic() - started)),
            },
        )
        return matrix

    def _encode(self, state: _Loaded, texts: list[str], progress: str | None = None) -> np.ndarray:
        """One L2-normalised row per text: the mean of its normalised prompt embeddings, renormalised."""
        import torch

        if not texts:
            return np.zeros((0, state.concepts.shape[1] if state.concepts.size else 0), dtype=np.float32)
        all_prompts = prompts(texts, self.templates)
        lengths = [len(prompt) for prompt in all_prompts]
        order = sorted(range(len(all_prompts)), key=lengths.__getitem__)  # similar lengths pad together
        batch = 1024 if state.device.startswith("cuda") else 256
        rows = np.zeros((len(all_prompts), 0), dtype=np.float32)
        next_report = 0.1
        with torch.inference_mode():
            for start in range(0, len(order), batch):
                chunk = order[start : start + batch]
                padding = (
                    {"padding": "max_length", "max_length": state.text_length} if state.siglip else {"padding": True}
                )
                tokens = state.tokenizer(
                    [all_prompts[i] for i in chunk], truncation=True, return_tensors="pt", **padding
                ).to(state.device)
                if state.siglip:
                    tokens.pop("attention_mask", None)  # SigLIP was trained on padded prompts without a mask
                features = _pooled(state.model.get_text_features(**tokens)).float()
                features = torch.nn.functional.normalize(features, dim=-1).cpu().numpy()
                if rows.shape[1] == 0:
                    rows = np.zeros((len(all_prompts), features.shape[1]), dtype=np.float32)
                rows[chunk] = features
                done = (start + len(chunk)) / len(order)
                if progress and done >= next_report and len(order) > 4 * batch:
                    next_report = done + 0.1
                    log.info(
                        "encoding prompts", extra={"event": "clip_text_progress", "detail": f"{progress}: {done:.0%}"}
                    )
        self.texts_encoded += len(all_prompts)
        means = rows.reshape(len(texts), len(self.templates), -1).mean(axis=1)
        return _normalise(means)

    def embed_text(self, texts: list[str]) -> np.ndarray:
        """Search queries in the vocabulary's space: averaged over the same prompt templates."""
        state = self._require()
        return self._encode(state, [" ".join(text.split()) for text in texts])

    # Image side

    def image_embeddings(self, images: list[Image.Image]) -> np.ndarray:
        """L2-normalised float32 embeddings, one row per image, in batches of `[tagging] batch_size`."""
        state = self._require()
        step = max(1, self.config.batch_size)
        parts = [self._embed_batch(state, images[start : start + step]) for start in range(0, len(images), step)]
        return np.concatenate(parts) if parts else np.zeros((0, state.concepts.shape[1]), dtype=np.float32)

    def _embed_batch(self, state: _Loaded, images: list[Image.Image]) -> np.ndarray:
        pixels = state.preprocess.batch(images)
        if state.onnx is not None:
            return _normalise(state.onnx.run(state.preprocess.normalise_numpy(pixels)))
        import torch

        with torch.inference_mode():
            tensor = state.preprocess.normalise_torch(pixels, state.device, state.dtype)
            features = _pooled(state.model.get_image_features(pixel_values=tensor)).float()
            return torch.nn.functional.normalize(features, dim=-1).cpu().numpy()

    def predict(self, images: list[Image.Image]) -> list[ImagePrediction]:
        state = self._require()
        embeddings = self.image_embeddings(images)
        scores = self.concept_scores(embeddings @ state.concepts.T)
        categories = self.category_scores(embeddings @ state.categories.T) if state.categories is not None else None
        captions = self.captioner.caption(images) if self.captioner is not None else [None] * len(images)
        predictions = []
        for row, embedding in enumerate(embeddings):
            best = np.argsort(-scores[row], kind="stable")[:LABELS_KEPT]
            wanted = np.union1d(best, self._user_rows)
            ranked = wanted[np.argsort(-scores[row, wanted], kind="stable")]
            labels = [(self.vocabulary.concepts[i], float(scores[row, i])) for i in ranked]
            chosen: list[tuple[str, float]] = []
            if categories is not None:
                order = np.argsort(-categories[row], kind="stable")
                chosen = [(self.config.categories[i], float(categories[row, i])) for i in order]
            predictions.append(ImagePrediction(labels, embedding.astype(np.float32), chosen, captions[row]))
        return predictions

    def concept_scores(self, similarities: np.ndarray) -> np.ndarray:
        """(images, concepts) cosine similarities -> scores in 0..1 (see the module docstring)."""
        state = self._require()
        if state.siglip:
            return _sigmoid(state.logit_scale * similarities + state.logit_bias)
        mean = similarities.mean(axis=1, keepdims=True)
        std = similarities.std(axis=1, keepdims=True) + 1e-6
        return _sigmoid(Z_SLOPE * ((similarities - mean) / std - Z_MIDPOINT))

    def category_scores(self, similarities: np.ndarray) -> np.ndarray:
        state = self._require()
        logits = state.logit_scale * similarities
        if state.siglip:
            return _sigmoid(logits + state.logit_bias)
        logits = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def describe(self, label: str) -> LabelInfo:
        return self.vocabulary.describe(label)


def _pooled(output: Any) -> Any:
    """transformers 5 returns a ModelOutput whose pooler_output is the projected embedding; 4.x a tensor."""
    return output.pooler_output if hasattr(output, "pooler_output") else output


def _normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=-1, keepdims=True), 1e-12)


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(values, -60, 60)))).astype(np.float32)
