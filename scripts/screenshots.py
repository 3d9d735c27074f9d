"""Screenshots of each review app page, for the README: a real engine on copies of corpus photos, Debian's chromium.

Usage: python scripts/screenshots.py OUT_FOLDER   (needs ../shared/corpus, the SqueezeNet model in
../shared/models, chromium at /usr/bin/chromium and playwright: `pip install -e '.[web-test]'`).
The photos are copied to a temporary folder (the corpus is never touched); each page is shot at 1280x800 and
saved as an 8-bit palette PNG (a few tens of kB each) so the README stays light.
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
    "photos/Nikon D5000.jpg",
    "photos/Sony DSC-HX5V (2).jpg",
    "photos/Canon EOS 7D.jpg",
    "faces/obama.jpg",
    "faces/Keanu_Reeves_(15290511881).jpg",
    "faces/1024px-Flickr_-_Josh_Jensen_-_Keanu_Reeves.jpg",
    "faces/1024px-Flickr_-_Bucajack_-_Keanu_Reeves_-_TIFF_09.jpg",
    "labelled/african_elephants.jpg",
    "labelled/skimage_coffee.png",
    "labelled/felix_101.jpg",
    "labelled/domestic_dog.jpg",
    "labelled/american_black_bear.jpg",
    "duplicates/HTC Desire.jpg",
    "duplicates/HTC Desire.webp",
    "duplicates/Nikon D1X.jpg",
    "duplicates/Nikon D1X.webp",
    "broken/african_elephants_truncated_file.jpg",
]
SIZE = {"width": 1280, "height": 800}


def main(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    squeezenet = MODELS / "squeezenet1.0-fp16-onnx"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "drop").mkdir()
        for name in PHOTOS:
            shutil.copyfile(CORPUS / name, folder / "drop" / Path(name).name)
        settings = (
            f'[tagging]\nbackend = "onnx"\nmodel = "{squeezenet}/SqueezeNet_fp16.onnx"\n'
            f'labels = "{squeezenet}/Labels.txt"\n[rename]\nenabled = true\n[people]\nenabled = true\n'
        )
        engine = Engine(folder, write_config(folder, settings)).start()
        try:
            engine.wait_idle(len(PHOTOS) - 1, timeout=300)
            engine.cli("people", "recluster")  # group the faces now rather than when idle for a while
            link = engine.cli("ui", "--print-url").stdout.strip()
            base = link.split("/login")[0]
            photo = engine.query("SELECT id FROM files WHERE path LIKE '%apple iphone 4%' COLLATE NOCASE")[0]["id"]
            keyword = engine.query("SELECT keyword FROM keywords GROUP BY keyword ORDER BY COUNT(*) DESC LIMIT 1")
            pages = [
                ("overview", "/"),
                ("activity", "/activity"),
                ("library", "/library"),
                ("photo", f"/photo/{photo}"),
                ("keywords", "/keywords"),
                ("duplicates", "/duplicates"),
                ("people", "/people"),
                ("teach", "/teach"),
                ("search", f"/search?q={keyword[0]['keyword']}" if keyword else "/search"),
            ]
            with sync_playwright() as driver:
                browser = driver.chromium.launch(
                    executable_path="/usr/bin/chromium", args=["--no-sandbox", "--headless=new", "--disable-gpu"]
                )
                page = browser.new_page(viewport=SIZE)
                page.goto(link)
                for name, path in pages:
                    page.goto(base + path)
                    page.wait_for_load_state("networkidle")
                    target = out / f"{name}.png"
                    page.screenshot(path=str(target))
                    shrink(target)
                    print(target, target.stat().st_size)
                browser.close()
        finally:
            engine.stop()


def shrink(path: Path) -> None:
    """A palette PNG of the screenshot: text and flat colours survive 256 colours; thumbnails dither a little."""
    from PIL import Image

    with Image.open(path) as shot:
        small = shot.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
