"""The review app in a real browser (Debian's chromium driven by playwright) on real photos and the real engine.

One engine for the module (the SqueezeNet ONNX tagger from ../shared/models, metadata written by exiftool):
log in through the one-time link, check the overview against `status --json`, reject a keyword and read the file
back, retry a failed job, and see the refusals (no cookie, a foreign Origin, a rebound host name).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.metadata_support import exif
from tests.support import MODELS, Engine, corpus, need, wait_for, write_config

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
SQUEEZENET = MODELS / "squeezenet1.0-fp16-onnx"
PHOTOS = [
    "labelled/african_elephants.jpg",
    "labelled/skimage_coffee.png",
    "photos/Apple iPhone 4.jpg",
    "duplicates/HTC Desire.jpg",
    "duplicates/HTC Desire.webp",
]
BROKEN = "broken/african_elephants_truncated_file.jpg"
KEYWORD_FIELDS = ("XMP-dc:Subject", "IPTC:Keywords", "XMP-lr:HierarchicalSubject")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    need(SQUEEZENET, "the SqueezeNet ONNX model")
    folder = tmp_path_factory.mktemp("web")
    model, labels = SQUEEZENET / "SqueezeNet_fp16.onnx", SQUEEZENET / "Labels.txt"
    config = write_config(folder, f'[tagging]\nbackend = "onnx"\nmodel = "{model}"\nlabels = "{labels}"\n')
    running = Engine(folder, config)
    running.drop.mkdir(parents=True)
    for name in [*PHOTOS, BROKEN]:
        target = running.drop / Path(name).name
        shutil.copyfile(corpus() / name, target)
    running.start()
    try:
        running.wait_idle(len(PHOTOS) + 1, timeout=120)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        import playwright.sync_api as playwright_api
    except ImportError:
        pytest.fail("playwright is missing: pip install -e '.[web-test]' (scripts/setup-test.sh does)")
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (scripts/apt-packages.txt)")
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--headless=new",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--host-resolver-rules=MAP rebound.example 127.0.0.1",
            ],
        )
        yield launched
        launched.close()


def logged_in(browser: Any, engine: Engine) -> tuple[Any, Any, list[str]]:
    """A fresh browser profile logged in through the one-time link: (context, tab, console errors)."""
    context = browser.new_context()
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    link = engine.cli("ui", "--print-url")
    assert link.returncode == 0, link.stderr
    response = tab.goto(link.stdout.strip())
    assert response.ok and tab.url.endswith("/"), tab.url
    return context, tab, errors


@pytest.fixture
def page(browser: Any, engine: Engine) -> Iterator[Any]:
    """A logged-in tab; any console error (a CSP violation, a failed fetch) fails the test."""
    context, tab, errors = logged_in(browser, engine)
    yield tab
    context.close()
    assert not errors, errors


def origin(engine: Engine) -> str:
    return f"http://127.0.0.1:{json.loads((engine.data / 'control.json').read_text())['port']}"


def file_id(engine: Engine, name: str) -> int:
    return engine.query("SELECT id FROM files WHERE path = ?", (str(engine.drop / name),))[0]["id"]


def images_shown(page: Any, selector: str) -> None:
    """Every image under `selector` loaded and decoded (polled from here: the CSP forbids in-page eval)."""
    script = "(images) => images.every((image) => image.complete && image.naturalWidth > 0)"
    wait_for(lambda: page.eval_on_selector_all(selector, script), 15, message=f"images {selector}")


def keywords_in_file(path: Path) -> set[str]:
    found = exif(path, *KEYWORD_FIELDS)
    return {value.rsplit("|", 1)[-1].casefold() for tag in KEYWORD_FIELDS for value in found.get(tag, [])}


def test_overview_after_login_matches_status_and_its_buttons_work(page: Any, engine: Engine) -> None:
    response = page.goto(origin(engine) + "/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    status = engine.status()
    for state, count in status["jobs"].items():
        assert page.inner_text(f"#job-counts td[data-state={state}]") == str(count), state
    assert f"{status['files']} photos known" in page.inner_text("section.state")
    assert str(engine.drop) in page.inner_text("#watching")
    assert "truncated" in page.inner_text("#errors")
    bars = [int(bar.get_attribute("data-count")) for bar in page.locator("#hourly rect").all()]
    done = engine.query("SELECT COUNT(*) AS n FROM jobs WHERE state = 'done' AND finished_at >= unixepoch() - 86400")
    assert len(bars) == 24 and sum(bars) == done[0]["n"] == len(PHOTOS)

    page.click("#pause")
    page.wait_for_selector("#resume")
    assert engine.status()["state"] == "paused"
    assert page.inner_text("#engine-state") == "paused"
    page.click("#resume")
    page.wait_for_selector("#pause")
    assert engine.status()["state"] == "running"


def test_library_grid_is_newest_first_with_thumbnails_made_while_ingesting(page: Any, engine: Engine) -> None:
    rows = engine.query(
        "SELECT files.id, files.sha256, media.taken FROM files JOIN media ON media.file_id = files.id"
        " WHERE files.present = 1 AND files.sha256 IS NOT NULL"
    )
    assert len(rows) == len(PHOTOS)
    for row in rows:  # made by the hash stage from probe's reduced copy, before anyone looked
        assert (engine.data / "thumbs" / row["sha256"][:2] / f"{row['sha256']}-320.webp").is_file()
    newest_first = [r["id"] for r in sorted(rows, key=lambda r: (r["taken"] or "", r["id"]), reverse=True)]

    page.goto(origin(engine) + "/library")
    cells = page.locator("#grid a.cell")
    assert [int(cells.nth(i).get_attribute("data-file")) for i in range(cells.count())] == newest_first
    images_shown(page, "#grid img")
    source = cells.first.locator("img").get_attribute("src")
    image = page.request.get(origin(engine) + source)
    assert image.status == 200 and image.headers["content-type"] == "image/webp"
    assert "immutable" in image.headers["cache-control"] and image.headers["etag"]
    again = page.request.get(origin(engine) + source, headers={"If-None-Match": image.headers["etag"]})
    assert again.status == 304

    page.goto(origin(engine) + "/library?camera=iPhone%204")
    assert page.locator("#grid a.cell").count() == 1
    page.click("#grid a.cell")
    assert "Apple iPhone 4" in page.inner_text(".facts dl")
    assert "mlat=41.85300&mlon=12.48883" in page.get_attribute("#map", "href")


def test_a_rejected_keyword_leaves_the_file_and_stays_gone_after_tagging_again(page: Any, engine: Engine) -> None:
    photo = engine.drop / "african_elephants.jpg"
    number = file_id(engine, photo.name)
    page.goto(f"{origin(engine)}/photo/{number}")
    first = page.locator("#keywords tr[data-keyword]").first
    keyword = first.get_attribute("data-keyword")
    assert keyword and keyword.casefold() in keywords_in_file(photo), (keyword, exif(photo, *KEYWORD_FIELDS))
    thumb = page.wait_for_selector("img.preview")
    assert page.evaluate("(image) => image.complete && image.naturalWidth > 0", thumb)

    first.locator("button.reject").click()
    page.wait_for_selector("#keywords .message")
    assert "rejected" in page.inner_text("#keywords .message")
    assert page.locator(f'#keywords tr[data-keyword="{keyword}"]').count() == 0
    wait_for(lambda: keyword.casefold() not in keywords_in_file(photo), 60, message=f"{keyword} gone from the file")
    engine.wait_idle(len(PHOTOS) + 1)

    tag_runs = len(engine.query("SELECT 1 FROM stage_runs WHERE stage = 'tag'"))
    os.utime(photo, (photo.stat().st_atime, photo.stat().st_mtime + 60))  # the file changed: tag it again
    assert engine.cli("scan").returncode == 0
    wait_for(lambda: len(engine.query("SELECT 1 FROM stage_runs WHERE stage = 'tag'")) > tag_runs, 60, message="tag")
    engine.wait_idle(len(PHOTOS) + 1)
    assert keyword.casefold() not in keywords_in_file(photo), exif(photo, *KEYWORD_FIELDS)
    stored = engine.query("SELECT keyword FROM keywords WHERE file_id = ?", (number,))
    assert stored and keyword.casefold() not in {row["keyword"].casefold() for row in stored}
    page.reload()
    assert keyword in page.inner_text("#rejected")
    assert page.locator(f'#keywords tr[data-keyword="{keyword}"]').count() == 0
    shown = engine.cli("tags", str(photo))
    assert shown.returncode == 0 and f"rejected by you (never written again): {keyword}" in shown.stdout, shown


def test_a_keyword_the_user_adds_is_written_to_the_file_as_theirs(page: Any, engine: Engine) -> None:
    photo = engine.drop / "skimage_coffee.png"
    page.goto(f"{origin(engine)}/photo/{file_id(engine, photo.name)}")
    page.fill("#add-keyword input[name=keyword]", "Morning Coffee")
    page.click("#add-keyword button")
    page.wait_for_selector('#keywords tr[data-keyword="Morning Coffee"]')
    assert "user" in page.inner_text('#keywords tr[data-keyword="Morning Coffee"]')
    auto = page.locator("#keywords tr[data-keyword]:has(button.accept)").first
    accepted = auto.get_attribute("data-keyword")
    auto.locator("button.accept").click()
    page.wait_for_selector(f'#keywords tr[data-keyword="{accepted}"] >> text=user')
    wait_for(lambda: "morning coffee" in keywords_in_file(photo), 60, message="the added keyword in the file")
    shown = engine.cli("tags", str(photo))
    assert shown.returncode == 0 and "user  Morning Coffee" in shown.stdout, shown
    assert f"user  {accepted}" in shown.stdout, shown

    page.fill("#edit-category input[name=category]", "Breakfast")
    page.click("#edit-category button")
    page.wait_for_selector("#category .message")
    wait_for(
        lambda: (
            "Breakfast"  # the category node of the one keyword tree (README "Keyword tree")
            in exif(photo, "XMP-lr:HierarchicalSubject").get("XMP-lr:HierarchicalSubject", [])
        ),
        60,
        message="the user's category in the file",
    )
    page.goto(f"{origin(engine)}/library?category=Breakfast")
    assert page.locator("#grid a.cell").count() == 1
    page.goto(f"{origin(engine)}/photo/{file_id(engine, photo.name)}")
    page.fill("#edit-caption textarea", "A cup of espresso on a red saucer")
    page.click("#edit-caption button")
    page.wait_for_selector("#caption .message")
    assert "yours" in page.inner_text("#edit-caption small")
    wait_for(
        lambda: exif(photo, "XMP-dc:Description").get("XMP-dc:Description") == ["A cup of espresso on a red saucer"],
        60,
        message="the user's caption in the file",
    )


def test_search_finds_keywords_and_more_like_this_lists_the_other_photos(page: Any, engine: Engine) -> None:
    coffee = file_id(engine, "skimage_coffee.png")
    page.goto(f"{origin(engine)}/photo/{coffee}")
    if page.locator('#keywords tr[data-keyword="Morning Coffee"]').count() == 0:
        page.fill("#add-keyword input[name=keyword]", "Morning Coffee")
        page.click("#add-keyword button")
        page.wait_for_selector('#keywords tr[data-keyword="Morning Coffee"]')
    page.goto(f"{origin(engine)}/search?q=MORNING")
    found = page.locator("#grid a.cell")
    assert [int(found.nth(i).get_attribute("data-file")) for i in range(found.count())] == [coffee]
    assert 'backend = "clip"' in page.inner_text(".note")  # text through the tagger needs CLIP: it says so

    elephants = file_id(engine, "african_elephants.jpg")
    page.goto(f"{origin(engine)}/photo/{elephants}")
    page.click("#more-like-this")
    page.wait_for_url(f"**/photo/{elephants}/similar")
    similar = page.locator("#grid a.cell")
    shown = {int(similar.nth(i).get_attribute("data-file")) for i in range(similar.count())}
    assert len(shown) == len(PHOTOS) - 1 and elephants not in shown


def test_renaming_a_keyword_on_the_keywords_page_rewrites_the_files(page: Any, engine: Engine) -> None:
    [old] = engine.query(  # the rarest automatic keyword among the photos (format keywords are off by default)
        "SELECT keyword, (SELECT COUNT(*) FROM keywords AS k WHERE k.keyword = keywords.keyword) AS n FROM keywords"
        " WHERE source = 'auto' ORDER BY n, keyword LIMIT 1"
    )
    keyword = old["keyword"]
    carriers = [
        Path(row["path"])
        for row in engine.query(
            "SELECT DISTINCT files.path FROM keywords JOIN files ON files.id = keywords.file_id WHERE keyword = ?",
            (keyword,),
        )
    ]
    assert all(keyword.casefold() in keywords_in_file(path) for path in carriers)
    page.goto(origin(engine) + "/keywords")
    row = page.locator(f'tr[data-keyword="{keyword}"]')
    assert row.locator("td").nth(1).inner_text() == str(len(carriers))
    row.locator("input[name=replacement]").fill("Renamed Keyword")
    row.locator("form.rename button").click()
    page.wait_for_selector("#vocabulary-list .message")
    assert f"on {len(carriers)} photo(s)" in page.inner_text("#vocabulary-list .message")
    assert page.locator(f'tr[data-keyword="{keyword}"]').count() == 0
    for path in carriers:
        wait_for(
            lambda p=path: (lambda found: "renamed keyword" in found and keyword.casefold() not in found)(
                keywords_in_file(p)
            ),
            60,
            message=f"{path.name} rewritten with the new name",
        )
    engine.wait_idle(len(PHOTOS) + 1)


def test_excluding_a_keyword_and_adding_a_synonym_hold_across_tagging_again(page: Any, engine: Engine) -> None:
    [best] = engine.query(  # the photo with the most automatic keywords left after the tests before
        "SELECT files.path, files.id FROM keywords JOIN files ON files.id = keywords.file_id"
        " WHERE source = 'auto' GROUP BY files.id ORDER BY COUNT(*) DESC, files.id LIMIT 1"
    )
    photo, number = Path(best["path"]), best["id"]
    words = [
        row["keyword"]
        for row in engine.query(
            "SELECT keyword FROM keywords WHERE file_id = ? AND source = 'auto' ORDER BY score DESC", (number,)
        )
    ]
    excluded, meant = words[0], words[1]
    page.on("dialog", lambda dialog: dialog.accept())  # "Exclude …: remove it from N photo(s)?"
    page.goto(origin(engine) + "/keywords")
    page.locator(f'tr[data-keyword="{excluded}"] button.exclude').click()
    page.wait_for_selector("#vocabulary-list .message")
    assert f"“{excluded}” excluded" in page.inner_text("#vocabulary-list .message")
    page.wait_for_selector("#keywords-progress >> text=rewritten.", timeout=60_000)  # the progress line ends
    row = page.locator(f'tr[data-keyword="{meant}"]')
    row.locator("select[name=action]").select_option("synonym")
    row.locator("input[name=replacement]").fill("Tusker")
    row.locator("form.rename button").click()
    page.wait_for_selector("#vocabulary-list >> text=is now a synonym of")
    assert "Tusker → " + meant in page.inner_text("#keyword-rules")
    wait_for(lambda: excluded.casefold() not in keywords_in_file(photo), 60, message=f"{excluded} gone from the file")
    engine.wait_idle(len(PHOTOS) + 1)

    tag_runs = len(engine.query("SELECT 1 FROM stage_runs WHERE stage = 'tag'"))
    os.utime(photo, (photo.stat().st_atime, photo.stat().st_mtime + 120))  # the file changed: tag it again
    assert engine.cli("scan").returncode == 0
    wait_for(lambda: len(engine.query("SELECT 1 FROM stage_runs WHERE stage = 'tag'")) > tag_runs, 60, message="tag")
    engine.wait_idle(len(PHOTOS) + 1)
    found = keywords_in_file(photo)
    assert excluded.casefold() not in found and meant.casefold() in found, exif(photo, *KEYWORD_FIELDS)
    stored = {
        row["keyword"].casefold() for row in engine.query("SELECT keyword FROM keywords WHERE file_id = ?", (number,))
    }
    assert excluded.casefold() not in stored and meant.casefold() in stored


def test_a_duplicate_group_side_by_side_and_not_duplicates_from_the_keyboard(page: Any, engine: Engine) -> None:
    listed = json.loads(engine.cli("dupes", "--json").stdout)
    [group] = listed["groups"]
    page.goto(origin(engine) + "/duplicates")
    figures = page.locator(".side-by-side figure")
    assert figures.count() == 2
    keeper = page.locator(".side-by-side figure.keeper")
    assert keeper.count() == 1 and Path(group["keeper"]).name in keeper.inner_text()
    assert group["why"] in page.inner_text("#duplicates-view")
    assert page.locator(".side-by-side dd.differs").count() >= 2  # the two files differ in size at least
    images_shown(page, "figure img")

    page.keyboard.press("n")
    page.wait_for_selector("#duplicates-view .message")
    assert "not duplicates (remembered)" in page.inner_text("#duplicates-view .message")
    assert "No duplicate groups." in page.inner_text("#duplicates-view")
    assert json.loads(engine.cli("dupes", "--json").stdout)["groups"] == []


def test_a_duplicate_trashed_from_the_keyboard_lands_in_the_trash_folder_and_undo_lists_it(
    browser: Any, tmp_path: Path
) -> None:
    config = write_config(tmp_path, "[rename]\nenabled = true\n")
    filing = Engine(tmp_path, config)
    filing.drop.mkdir(parents=True)
    pairs = [
        "duplicates/HTC Desire.jpg",
        "duplicates/HTC Desire.webp",
        "duplicates/Nikon D1X.jpg",
        "duplicates/Nikon D1X.webp",
    ]
    for name in pairs:
        shutil.copyfile(corpus() / name, filing.drop / Path(name).name)
    filing.start()
    try:
        filing.wait_idle(len(pairs))
        groups = json.loads(filing.cli("dupes", "--json").stdout)["groups"]
        assert len(groups) == 2
        others = {m["file"]: m["path"] for group in groups for m in group["members"] if not m["keeper"]}
        context, page, errors = logged_in(browser, filing)
        confirmations: list[str] = []
        page.on("dialog", lambda dialog: (confirmations.append(dialog.message), dialog.accept()))
        page.goto(f"{origin(filing)}/duplicates")
        assert "2 file(s) move" in page.inner_text("#resolve-suggested")
        first = int(page.get_attribute(".side-by-side", "data-group"))
        page.keyboard.press("d")  # keep the suggested copy, trash the rest
        page.wait_for_selector("#duplicates-view .message")
        assert "trashed 1: 1 file(s) move to the duplicates folder" in page.inner_text("#duplicates-view .message")
        assert int(page.get_attribute(".side-by-side", "data-group")) != first  # on to the group not decided yet
        page.click("#resolve-suggested")  # the rest: the confirmation says how many files move
        page.wait_for_selector("#duplicates-view >> text=trashed 1: 1 file(s) move")
        assert len(confirmations) == 1 and "1 file(s) move to" in confirmations[0], confirmations

        trash = filing.library / "Duplicates"
        wait_for(lambda: len(list(trash.rglob("*.webp"))) == 2, 30, message="the trashed copies in the trash folder")
        filing.wait_idle(len(pairs))
        moved = sorted(trash.rglob("*.webp"))
        assert not any(Path(path).exists() for path in others.values())
        undo = filing.cli("undo", "--all", "--dry-run")
        for path in moved:
            assert f"would move back: {path} -> " in undo.stdout, undo.stdout
        page.reload()
        assert page.locator("figure.chosen-trash").count() == 1 and page.locator("#resolve-suggested").count() == 0
        page.keyboard.press("a")  # keep all: the trashed copy is kept now; it stays filed until `undo`
        page.wait_for_selector("#duplicates-view .message")
        assert "move it back with `undo`" in page.inner_text("#duplicates-view .message")
        context.close()
        assert not errors, errors
    finally:
        filing.stop()


def test_a_failed_job_is_retried_from_activity(page: Any, engine: Engine) -> None:
    [job] = engine.query("SELECT id FROM jobs WHERE state = 'failed'")
    runs = len(engine.query("SELECT 1 FROM stage_runs WHERE job_id = ?", (job["id"],)))
    page.goto(f"{origin(engine)}/activity")
    page.select_option("#filters select[name=folder]", str(engine.library))  # nothing was filed there
    page.wait_for_selector("#jobs >> text=No jobs match.")
    page.select_option("#filters select[name=folder]", str(engine.drop))
    page.wait_for_selector("#jobs tr.done")
    page.select_option("#filters select[name=state]", "failed")
    page.wait_for_selector("#jobs tr.done", state="detached")
    assert page.locator("#jobs tr[data-job]").count() == 1
    row = page.locator(f'tr[data-job="{job["id"]}"]')
    assert "truncated" in row.locator(".reason").inner_text()
    row.locator("button.retry").click()
    page.wait_for_selector("#jobs .message")
    assert "Queued again" in page.inner_text("#jobs .message")
    wait_for(
        lambda: len(engine.query("SELECT 1 FROM stage_runs WHERE job_id = ?", (job["id"],))) > runs,
        30,
        message="the failed job ran again",
    )


def test_no_cookie_a_foreign_origin_and_a_rebound_host_are_refused(browser: Any, engine: Engine) -> None:
    stranger = browser.new_context()
    refused = stranger.new_page().goto(origin(engine) + "/library")
    assert refused.status == 401 and "image-engine ui" in refused.text()
    assert refused.headers["content-security-policy"]
    stranger.close()

    context, page, _ = logged_in(browser, engine)  # refusals show as console errors here: expected
    port = origin(engine).rsplit(":", 1)[1]
    rebound = page.goto(f"http://rebound.example:{port}/")  # DNS rebinding: a foreign name on 127.0.0.1
    assert rebound.status == 403

    attacker = _attacker_site(f"{origin(engine)}/actions/pause")
    try:
        page.goto(f"http://127.0.0.1:{attacker.server_address[1]}/")  # same site (ports differ), other origin
        with page.expect_response(lambda answer: "/actions/pause" in answer.url) as answered:
            page.click("button")
        assert answered.value.status == 403
    finally:
        attacker.shutdown()
        attacker.server_close()
        context.close()
    assert engine.status()["state"] == "running"


def _attacker_site(target: str) -> ThreadingHTTPServer:
    """Another origin on loopback whose page posts a form to the review app (cookies go along: same site)."""
    html = f'<form method="post" action="{target}"><button>win a prize</button></form>'.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_filing_move_is_undone_from_the_photo_page(browser: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path, "[rename]\nenabled = true\n")
    filing = Engine(tmp_path, config)
    filing.drop.mkdir(parents=True)
    shutil.copyfile(corpus() / "photos" / "Apple iPhone 4.jpg", filing.drop / "Apple iPhone 4.jpg")
    filing.start()
    try:
        filing.wait_idle(1)
        [row] = filing.query("SELECT id, path FROM files WHERE present = 1")
        filed = Path(row["path"])
        assert filed.is_relative_to(filing.library) and filed.is_file()
        context, page, errors = logged_in(browser, filing)
        page.on("dialog", lambda dialog: dialog.accept())  # the confirmation that says where it goes back to
        page.goto(f"{origin(filing)}/photo/{row['id']}")
        page.click("#renames button.undo")
        page.wait_for_selector("#renames .message")
        assert "Moved back (1 file(s))" in page.inner_text("#renames .message")
        assert (filing.drop / "Apple iPhone 4.jpg").is_file() and not filed.exists()
        context.close()
        assert not errors, errors
    finally:
        filing.stop()
