"""Moving one file without ever replacing another: a hard link then unlink within a filesystem (the link
fails if the target exists), copy + fsync + verify + unlink across filesystems.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path

PART_SUFFIX = ".image-engine-part"
NO_LINKS = frozenset(
    {errno.EPERM, errno.EACCES, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS, errno.EINVAL}
)


class TargetExists(FileExistsError):
    pass


def part_path(dest: Path) -> Path:
    """Where a cross-filesystem copy is written before it is verified (a dot-file: watchers ignore it)."""
    return dest.parent / f".{dest.name}{PART_SUFFIX}"


def move_file(src: Path, dest: Path) -> None:
    """Move `src` to `dest`, creating folders; raises TargetExists rather than replace anything."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except FileExistsError:
        raise TargetExists(f"{dest} already exists") from None
    except OSError as exc:
        if exc.errno == errno.EXDEV:
            _copy_across(src, dest)
            return
        if exc.errno not in NO_LINKS:
            raise
        _checked_rename(src, dest)  # filesystems without hard links (FAT, some SMB shares)
        return
    os.unlink(src)
    _sync_folder(dest.parent)
    _sync_folder(src.parent)


def _checked_rename(src: Path, dest: Path) -> None:
    if os.path.lexists(dest):
        raise TargetExists(f"{dest} already exists")
    os.rename(src, dest)
    _sync_folder(dest.parent)


def _copy_across(src: Path, dest: Path) -> None:
    part = part_path(dest)
    source_digest = hashlib.sha256()
    try:
        with open(src, "rb") as reader, open(part, "wb") as writer:
            for chunk in iter(lambda: reader.read(1 << 20), b""):
                source_digest.update(chunk)
                writer.write(chunk)
            writer.flush()
            os.fsync(writer.fileno())
        shutil.copystat(src, part)
        if file_sha256(part) != source_digest.hexdigest():
            raise OSError(errno.EIO, f"copy of {src} to {dest} did not verify (the data read back differs)")
        try:
            os.link(part, dest)
        except FileExistsError:
            raise TargetExists(f"{dest} already exists") from None
        except OSError as exc:
            if exc.errno not in NO_LINKS:
                raise
            _checked_rename(part, dest)
    finally:
        part.unlink(missing_ok=True)
    _sync_folder(dest.parent)
    os.unlink(src)
    _sync_folder(src.parent)


def file_sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def same_content(first: Path, second: Path, first_sha256: str | None = None) -> bool:
    """Byte-identical files (sizes first; `first_sha256`, when known, spares reading `first` again)."""
    try:
        if os.path.getsize(first) != os.path.getsize(second):
            return False
        return (first_sha256 or file_sha256(first)) == file_sha256(second)
    except OSError:
        return False


def _sync_folder(folder: Path) -> None:
    """Make a rename durable (POSIX); folders cannot be opened for fsync on Windows."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def prune_empty_folders(folder: Path, stop: Path) -> None:
    """Remove `folder` and its parents while empty, never `stop` itself or anything outside it."""
    stop = stop.resolve()
    current = folder
    while True:
        try:
            resolved = current.resolve()
        except OSError:
            return
        if resolved == stop or not resolved.is_relative_to(stop):
            return
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent
