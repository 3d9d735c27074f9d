"""Watch modes: polling roots, counting inotify watches, network filesystems, and companion groups."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer

from daemon.config import WatchConfig
from daemon.store import Store
from daemon.watch.intake import Intake
from daemon.watch.observer import (
    NETWORK_FILESYSTEMS,
    WatchManager,
    count_folders,
    filesystem_type,
    own_inotify_watches,
)
from tests.support import Engine, corpus, wait_for


def test_polling_root_processes_new_files(engine_factory, tmp_path: Path) -> None:
    engine: Engine = engine_factory(start=False)
    text = engine.config.read_text().replace('mode = "drop"', 'mode = "drop"\npolling = true\npoll_interval = 0.5')
    engine.config.write_text(text)
    engine.start()
    watching = engine.status()["watching"]
    assert watching[0]["polling"] is True and "polling = true" in watching[0]["reason"]
    shutil.copy2(corpus() / "labelled" / "Nikon_D70.jpg", engine.drop / "polled.jpg")
    wait_for(lambda: engine.job_states().get(str(engine.drop / "polled.jpg")) == "done", 30)


def test_inotify_places_one_watch_per_folder_and_we_can_count_them(tmp_path: Path) -> None:
    for index in range(25):
        (tmp_path / f"a{index}" / "b").mkdir(parents=True)
    folders = count_folders(tmp_path, recursive=True, ignore=[])
    assert folders == 51
    before = own_inotify_watches()
    observer = Observer()
    observer.schedule(FileSystemEventHandler(), str(tmp_path), recursive=True)
    observer.start()
    try:
        assert own_inotify_watches() - before == folders
    finally:
        observer.stop()
        observer.join()


def inotify_masks() -> list[int]:
    masks = []
    for fd in os.listdir("/proc/self/fdinfo"):
        try:
            lines = Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines()
        except OSError:
            continue
        masks += [int(line.split("mask:")[1].split()[0], 16) for line in lines if line.startswith("inotify wd:")]
    return masks


def test_reading_a_watched_photo_queues_no_inotify_event(tmp_path: Path) -> None:
    """Probing 100,000 photos must not fill the kernel's event queue (an overflow means a full rescan)."""
    in_access, in_close_write, in_close_nowrite, in_open = 0x1, 0x8, 0x10, 0x20
    (tmp_path / "drop" / "sub").mkdir(parents=True)
    store = Store(tmp_path / "db.sqlite")
    manager = WatchManager([WatchConfig(tmp_path / "drop")], Intake(store, "probe", 0, []), store, [])
    before = len(inotify_masks())
    manager.start()
    try:
        masks = inotify_masks()
        assert len(masks) - before == 2  # one watch per folder
        for mask in masks[-2:]:
            assert mask & in_close_write, hex(mask)  # a finished copy is still seen at once
            assert not mask & (in_access | in_open | in_close_nowrite), hex(mask)
    finally:
        manager.stop()
        store.close()


def test_filesystem_type_reads_mounts() -> None:
    assert filesystem_type(Path("/proc")) == "proc"
    assert filesystem_type(Path("/")) not in NETWORK_FILESYSTEMS
    assert {"cifs", "nfs", "nfs4", "fuse.sshfs"} <= NETWORK_FILESYSTEMS


def test_companions_settle_as_a_group_before_the_photo_is_queued(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    intake = Intake(store, "probe", settle_seconds=0.2, ignore=[])
    folder = tmp_path / "drop"
    folder.mkdir()
    photo = folder / "IMG_0001.jpg"
    shutil.copy2(corpus() / "labelled" / "Nikon_D70.jpg", photo)
    sidecar = folder / "IMG_0001.xmp"
    intake.submit(str(photo), str(folder), closed=True)
    with open(sidecar, "w") as handle:
        handle.write("<x:xmpmeta")
        intake.submit(str(sidecar), str(folder), writing=True)
        for _ in range(5):
            intake.settle_once()
            time.sleep(0.1)
        assert store.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0  # waits for its companion
        handle.write("/>")
    intake.submit(str(sidecar), str(folder), closed=True)
    intake.settle_once()
    rows = store.conn.execute("SELECT files.path FROM jobs JOIN files ON files.id = jobs.file_id").fetchall()
    assert [row[0] for row in rows] == [str(photo)]  # the sidecar travels with the photo, it gets no job
    store.close()


def test_intake_is_thread_safe_under_a_burst(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    intake = Intake(store, "probe", settle_seconds=0, ignore=[])
    folder = tmp_path / "drop"
    folder.mkdir()
    source = (corpus() / "labelled" / "Nikon_D70.jpg").read_bytes()
    paths = []
    for index in range(300):
        path = folder / f"{index}.jpg"
        path.write_bytes(source)
        paths.append(path)
    threads = [
        threading.Thread(target=lambda chunk=chunk: [intake.submit(str(p), str(folder), closed=True) for p in chunk])
        for chunk in (paths[::2], paths[1::2])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    while intake.pending_count():
        intake.settle_once()
    assert store.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 300
    os.remove(paths[0])
    store.close()


def test_a_folder_made_while_the_watch_starts_is_watched_not_taken_for_a_lack_of_inotify_watches(
    tmp_path: Path, monkeypatch
) -> None:
    """The rename stage files a photo into a new folder just as the library's watch starts: the count of folders
    then has one more than the watches placed a moment before. Once seemed "watches ran out" and polled for good."""
    import daemon.watch.observer as observer

    library = tmp_path / "library"
    (library / "2024").mkdir(parents=True)
    counted = observer.count_folders

    def filed_meanwhile(root: Path, recursive: bool, ignore: list[str]) -> int:
        (library / "2024" / "12").mkdir(exist_ok=True)  # a photo's new folder, made after the watches were placed
        return counted(root, recursive, ignore)

    monkeypatch.setattr(observer, "count_folders", filed_meanwhile)
    store = Store(tmp_path / "db.sqlite")
    manager = observer.WatchManager(
        [WatchConfig(path=library)], Intake(store, "probe", settle_seconds=0.2, ignore=[]), store, []
    )
    manager.start()
    try:
        [root] = manager.roots
        assert not root.polling, root.reason
    finally:
        manager.stop()
        store.close()
