"""The review app's costs: the thumbnail added to ingest per photo, and server time of library and photo pages.

Ingest: probe + hash per photo without and with the thumbnail (WebP from probe's reduced copy), interleaved on
the same photos in one run, beside the metadata stage's keyword write (exiftool) of each photo, on 2 MP and 12 MP
JPEGs made from corpus photos; the thumbnail's share of probe + hash and of that ingest floor. Pages: a store filled with N photos (default 100,000), the engine's real
ASGI app through starlette's TestClient, logged in; first and deep library pages (keyset), filtered pages,
photo pages; p50/p95 in ms. Usage: python -m bench.web [--photos 100000] [--requests 60] [--count 12] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import emit, log, make_jpegs
from bench.metadata import KEYWORDS
from daemon.config import MetadataConfig
from daemon.pipeline.base import WorkItem
from daemon.pipeline.hashing import HashStage
from daemon.pipeline.metadata import MetadataStage
from daemon.pipeline.probe import ProbeStage
from daemon.pipeline.reduced_cache import ReducedCache
from daemon.pipeline.thumbnails import Thumbnails
from daemon.store.queue import Job

REDUCED = 384


def interleaved_ingest(paths: list[Path], folder: Path, rounds: int) -> dict[str, float]:
    """Per photo (ms): probe + hash without the thumbnail, with it, and the metadata stage's keyword write, run
    back to back on the same photo in alternating order each round, so the machine's load hits all alike."""
    probe = ProbeStage(REDUCED, 200_000_000, ReducedCache(folder / "cache"))
    plain, with_thumbs = HashStage(), HashStage(Thumbnails(folder / "thumbs", 200_000_000))
    folder.mkdir(parents=True, exist_ok=True)
    metadata = MetadataStage(MetadataConfig(batch_size=1), "duplicate", folder / "guard")
    tag = {"model": "bench", "keywords": [{"keyword": k, "score": 0.5, "hierarchy": None} for k in KEYWORDS]}
    spent = {"probe_hash": 0.0, "probe_hash_thumb": 0.0, "metadata_write": 0.0}
    number = 0

    def ingest(path: Path, hashing: HashStage) -> float:
        nonlocal number
        number += 1
        job = Job(number, number, str(path), str(path.parent), "", "probe", 0, 1, "bench")
        item = WorkItem(job=job, results=lambda stage: None, reduced_loader=lambda item: None)  # type: ignore[arg-type]
        started = time.perf_counter()
        probe.run(item)
        hashing.run(item)
        elapsed = time.perf_counter() - started
        probe.cache.drop(number)
        return elapsed

    try:
        ingest(paths[0], with_thumbs)  # warm up the decoders and the WebP encoder
        for round_ in range(rounds):
            for index, path in enumerate(paths):
                order = [("probe_hash", plain), ("probe_hash_thumb", with_thumbs)]
                for name, hashing in order if (index + round_) % 2 else reversed(order):
                    spent[name] += ingest(path, hashing)
                number += 1
                fresh = folder / f"write-{number}.jpg"  # a pristine copy: every write is a real one
                shutil.copyfile(path, fresh)
                job = Job(number, number, str(fresh), str(folder), "", "metadata", 0, 1, "bench")
                started = time.perf_counter()
                [outcome] = metadata.run_batch([WorkItem(job, {"tag": tag}.get, lambda _: None)])
                spent["metadata_write"] += time.perf_counter() - started
                assert isinstance(outcome, dict) and outcome["verified"], outcome
                fresh.unlink()
    finally:
        metadata.close()
    return {name: round(seconds * 1000 / (len(paths) * rounds), 2) for name, seconds in spent.items()}


def thumbnail_cost(folder: Path, count: int, rounds: int) -> dict[str, object]:
    figures: dict[str, object] = {}
    for label, size in (("2MP", (1632, 1224)), ("12MP", (4000, 3000))):
        log(f"ingest with and without thumbnails, interleaved, {count} {label} JPEGs x {rounds} rounds")
        paths = make_jpegs(folder / label, count, size)
        measured = interleaved_ingest(paths, folder / f"work-{label}", rounds)
        thumb = measured["probe_hash_thumb"] - measured["probe_hash"]
        ingest = measured["probe_hash"] + measured["metadata_write"]  # a floor: tag, dedup and rename come on top
        figures[label] = {
            **{f"{name}_ms": value for name, value in measured.items()},
            "thumb_ms": round(thumb, 2),
            "thumb_share_of_probe_hash": round(thumb / measured["probe_hash"], 3),
            "thumb_share_of_ingest_floor": round(thumb / (ingest + thumb), 3),
        }
    return figures


def fill(conn, photos: int) -> None:  # noqa: ANN001 - a sqlite3 connection
    rng = random.Random(1)
    cameras = ["iPhone 4", "D700", "EOS 5D", "X-T3", None]
    words = ["dog", "cat", "beach", "mountain", "car", "tree", "sky", "food"]
    with conn:
        conn.executemany(
            "INSERT INTO files (id, path, root, size, mtime_ns, inode, sha256, first_seen, last_seen)"
            " VALUES (?, ?, '/photos', 1, 1, ?, ?, 0, 0)",
            ((n, f"/photos/{n % 100:02d}/{n}.jpg", n, f"{n:064x}") for n in range(1, photos + 1)),
        )
        conn.executemany(
            "INSERT INTO media (file_id, width, height, taken, model) VALUES (?, 4000, 3000, ?, ?)",
            (
                (
                    n,
                    None
                    if n % 50 == 0
                    else f"20{rng.randint(0, 24):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    rng.choice(cameras),
                )
                for n in range(1, photos + 1)
            ),
        )
        conn.executemany(
            "INSERT INTO keywords (file_id, keyword, score, source, model) VALUES (?, ?, ?, 'auto', 'bench')",
            ((n, word, 0.5) for n in range(1, photos + 1) for word in rng.sample(words, 3)),
        )


def timed(client, path: str, requests: int) -> dict[str, float]:  # noqa: ANN001 - a TestClient
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = client.get(path() if callable(path) else path)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.status_code
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1)}


def page_times(folder: Path, photos: int, requests: int) -> dict[str, object]:
    from starlette.testclient import TestClient

    from daemon.config import load_config
    from daemon.runtime.app import App

    for name in ("drop", "library", "data"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    config.write_text(
        f'data_dir = "{folder / "data"}"\n[[watch]]\npath = "{folder / "drop"}"\n[library]\nroot = "{folder / "library"}"\n'
        "[tagging]\nenabled = false\n"
    )
    app = App(load_config(config))
    try:
        log(f"filling a store with {photos} photos")
        fill(app.store.conn, photos)
        client = TestClient(app.server.asgi, base_url=f"http://127.0.0.1:{app.server.port}")
        link = client.post("/v1/ui/login", headers={"Authorization": f"Bearer {app.token}"}).json()["url"]
        client.get(link)
        deep = app.store.conn.execute(
            "SELECT ifnull(taken, ''), file_id FROM media ORDER BY ifnull(taken, '') DESC, file_id DESC"
            " LIMIT 1 OFFSET ?",
            (photos // 2,),
        ).fetchone()
        rng = random.Random(2)
        log("timing pages")
        return {
            "photos": photos,
            "library_first_page": timed(client, "/library", requests),
            "library_middle_page": timed(client, f"/library?after={deep[0]}|{deep[1]}", requests),
            "library_keyword_camera": timed(client, "/library?keyword=beach&camera=D700", requests),
            "photo_page": timed(client, lambda: f"/photo/{rng.randint(1, photos)}", requests),
            "overview": timed(client, "/", requests),
        }
    finally:
        app.server.socket.close()
        app.pipeline.close()
        app.store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        emit(
            {
                "thumbnail": thumbnail_cost(Path(tmp) / "ingest", args.count, args.rounds),
                "pages": page_times(Path(tmp) / "pages", args.photos, args.requests),
            }
        )


if __name__ == "__main__":
    main()
