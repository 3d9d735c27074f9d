"""Screenshots of each review app page, for the README: a real engine on corpus photos, Debian's chromium.

Usage: python scripts/screenshots.py OUT_FOLDER   (needs ../shared/corpus, the SqueezeNet model in
../shared/models, chromium at /usr/bin/chromium and playwright: `pip install -e '.[web-test]'`).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import CORPUS, MODELS, Engine, write_config  # noqa: E402 - after the path is set

PHOTOS = [
    "photos/Apple iPhone 4.jpg",
    "labelled/african_elephants.jpg",
    "labelled/skimage_coffee.png",
    "labelled/felix_316.jpg",
    "broken/african_elephants_truncated_file.jpg",
]
PAGES = [("overview", "/"), ("activity", "/activity"), ("library", "/library")]


def main(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    squeezenet = MODELS / "squeezenet1.0-fp16-onnx"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "drop").mkdir()
        for name in PHOTOS:
            shutil.copyfile(CORPUS / name, folder / "drop" / Path(name).name)
        tagging = f'[tagging]\nbackend = "onnx"\nmodel = "{squeezenet}/SqueezeNet_fp16.onnx"\nlabels = "{squeezenet}/Labels.txt"\n'
        engine = Engine(folder, write_config(folder, tagging)).start()
        try:
            engine.wait_idle(len(PHOTOS), timeout=180)
            link = engine.cli("ui", "--print-url").stdout.strip()
            base = link.split("/login")[0]
            elephants = engine.query("SELECT id FROM files WHERE path LIKE '%/african_elephants.jpg'")[0]["id"]
            with sync_playwright() as driver:
                browser = driver.chromium.launch(
                    executable_path="/usr/bin/chromium", args=["--no-sandbox", "--headless=new", "--disable-gpu"]
                )
                page = browser.new_page(viewport={"width": 1200, "height": 860})
                page.goto(link)
                for name, path in [*PAGES, ("photo", f"/photo/{elephants}")]:
                    page.goto(base + path)
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(out / f"{name}.png"), full_page=name != "photo")
                    print(out / f"{name}.png")
                browser.close()
        finally:
            engine.stop()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
