"""`image-engine scan` counts photos (not their sidecars); the service keeps a bounded history of scans; a rescan
asked for while one runs starts exactly once, after it."""

from __future__ import annotations

import threading

import pytest

from daemon.control.client import ApiError, ControlClient
from daemon.watch.scans import KEEP_FINISHED, ScanBook
from tests.support import Engine, copy_in, corpus, wait_for

SIDECAR = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag><rdf:li>farm</rdf:li></rdf:Bag>
</dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>"""


def test_a_scan_does_not_count_xmp_sidecars_as_new_files(engine_factory) -> None:
    engine: Engine = engine_factory()
    (engine.drop / "felix_316.xmp").write_text(SIDECAR, encoding="utf-8")
    copy_in([corpus() / "labelled" / "felix_316.jpg"], engine.drop)
    engine.wait_idle(1)
    for _ in range(2):
        result = engine.cli("scan")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "scanned 1 file(s): 0 new or changed, 0 missing"


def test_the_service_remembers_a_bounded_number_of_finished_scans(engine_factory) -> None:
    engine: Engine = engine_factory()
    client = ControlClient(engine.data)
    ids = [client.post("/scan")["scan"] for _ in range(KEEP_FINISHED + 10)]
    wait_for(lambda: client.get(f"/scan?id={ids[-1]}")["state"] == "done", 60, message="the last scan done")
    wait_for(lambda: all(client.get(f"/scan?id={i}")["state"] == "done" for i in ids[-5:]), 30, message="all done")
    client.post("/scan")  # finished scans are forgotten when a new one starts
    with pytest.raises(ApiError) as forgotten:
        client.get(f"/scan?id={ids[0]}")
    assert forgotten.value.status == 404 and "no such scan" in str(forgotten.value)
    assert client.get(f"/scan?id={ids[-1]}")["state"] == "done"


def test_a_rescan_asked_for_while_one_runs_starts_once_after_it() -> None:
    book = ScanBook()
    running = book.open_unless_running()
    assert running is not None
    gate = threading.Barrier(8)
    answers: list[object] = []

    def ask() -> None:
        gate.wait()
        answers.append(book.open_unless_running())

    askers = [threading.Thread(target=ask) for _ in range(8)]
    for thread in askers:
        thread.start()
    for thread in askers:
        thread.join()
    assert answers == [None] * 8, "none starts while a scan runs"
    assert book.finish(running, "done") is True, "the scan that ends starts the one asked for"
    follow_up = book.open_unless_running()
    assert follow_up is not None and follow_up["id"] == running["id"] + 1
    assert book.finish(follow_up, "done") is False, "asked for once: run once"
