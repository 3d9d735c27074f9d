"""Control API routes of taught keywords: teach from examples, list, untaught, export and import.

POST /teach {"keyword", "paths", "negative"}, GET /taught, POST /untaught {"keyword"}, GET /taught/export,
POST /taught/import {file contents}; GET /vocabulary[?all=1] (the model's keywords as the user judged them),
POST /vocabulary/keep {"keyword"} and POST /vocabulary/adjust {"keyword"}.
"""

from __future__ import annotations

import os
from typing import Any

from daemon.control.server import Handler
from daemon.learn import transfer
from daemon.learn.service import Learner, summary
from daemon.store import Store, feedback, learned

ANSWER_WITHIN_SECONDS = 120.0  # training takes seconds (plus importing scikit-learn once); the library is updated after


def learn_routes(store: Store, learner: Learner) -> dict[tuple[str, str], Handler]:
    def keyword_of(body: dict[str, Any]) -> str:
        keyword = " ".join(str(body.get("keyword") or "").split())
        if not keyword:
            raise ValueError("a keyword is needed, e.g. Felix")
        return keyword

    def teach(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        keyword = keyword_of(body)
        paths = [str(p) for p in body.get("paths") or []]
        found: dict[str, int] = {}
        unknown: list[str] = []
        for path in paths:
            ids, _ = learned.file_ids_for_paths(store.conn, [path, os.path.realpath(path)])
            if ids:
                found[path] = next(iter(ids.values()))
            else:
                unknown.append(path)
        if paths and not found:
            return 404, {
                "error": f"none of the photos is one the engine knows (is it inside a watched folder?): {unknown[0]}"
            }
        if found:
            learned.add_examples(store.conn, keyword, found.values(), 0 if body.get("negative") else 1)
        elif learned.classifier(store.conn, keyword) is None:
            return 404, {"error": f"{keyword} is not a taught keyword; give some example photos"}
        request = learner.submit(keyword)
        request.trained.wait(float(body.get("wait", ANSWER_WITHIN_SECONDS)))
        outcome = request.outcome or summary(store.conn, keyword)
        return 200, {**outcome, "unknown": unknown, "added": len(found)}

    def taught(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        conn = store.conn
        keywords = [summary(conn, info["keyword"]) for info in learned.classifiers(conn)]
        return 200, {"keywords": keywords, "learner": learner.status()}

    def untaught(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        keyword = keyword_of(body)
        if learned.classifier(store.conn, keyword) is None:
            return 404, {"error": f"{keyword} is not a taught keyword"}
        request = learner.submit(keyword, "forget")
        request.trained.wait(ANSWER_WITHIN_SECONDS)
        return 200, request.outcome or {"keyword": keyword}

    def export(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        wanted = [query["keyword"]] if query.get("keyword") else None
        return 200, transfer.export(store.conn, wanted)

    def import_(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        done = transfer.import_(store.conn, body)
        requests = [learner.submit(entry["keyword"], "apply") for entry in done]
        requests += [learner.submit(row["keyword"], "vocabulary") for row in body.get("vocabulary") or []]
        for request in requests:
            request.trained.wait(ANSWER_WITHIN_SECONDS)
        return 200, {
            "keywords": [{**entry, **summary(store.conn, entry["keyword"])} for entry in done],
            "vocabulary": len(body.get("vocabulary") or []),
        }

    def vocabulary(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"keywords": feedback.statistics(store.conn, every_keyword=query.get("all") in ("1", "true"))}

    def keep(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        """The user's word: go on proposing this keyword as configured, whatever the corrections say."""
        keyword = keyword_of(body)
        feedback.save_adjustment(store.conn, keyword, "kept", None, 0, 0, "kept as configured: you asked for it")
        return 200, {"keyword": keyword, "state": "kept"}

    def adjust(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        """Let the corrections adjust this keyword again (undoes `keep`)."""
        keyword = keyword_of(body)
        feedback.clear_adjustment(store.conn, keyword)
        request = learner.submit(keyword, "vocabulary")
        request.trained.wait(ANSWER_WITHIN_SECONDS)
        return 200, request.outcome or {"keyword": keyword}

    return {
        ("GET", "/vocabulary"): vocabulary,
        ("POST", "/vocabulary/keep"): keep,
        ("POST", "/vocabulary/adjust"): adjust,
        ("POST", "/teach"): teach,
        ("GET", "/taught"): taught,
        ("POST", "/untaught"): untaught,
        ("GET", "/taught/export"): export,
        ("POST", "/taught/import"): import_,
    }
