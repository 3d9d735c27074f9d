"""The metadata stage: keywords, category and caption written into each photo (or its XMP sidecar), then verified.

A JPEG costs one exiftool pass (the write): its fields are read before and after in Python (quick_read); other files
are read by exiftool. A failed check puts the original back, and the photo's keywords go to a sidecar instead.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from daemon import __version__
from daemon.config import MetadataConfig
from daemon.errors import PermanentError, RetryableError, StageError, WaitingError
from daemon.metadata import fallback, quick_read, targets
from daemon.metadata.failures import name_too_long, short_cause, write_failure
from daemon.metadata.findings import analyzer_keywords, burst_marks, ocr_text
from daemon.metadata.guard import Guard
from daemon.metadata.people import NamedFaces
from daemon.metadata.plan import Options, Plan, make_plan, verify
from daemon.metadata.tag_names import FILE_TYPE, READ_TAGS
from daemon.metadata.wanted import Wanted, place_fields, wanted_from
from daemon.pipeline.base import Stage, WorkItem
from daemon.store import metadata as metadata_store
from daemon.store.queue import Job
from daemon.tools.exiftool import TEMP_SUFFIX, Command, ExifTool, ExifToolError, Outcome

log = logging.getLogger("image_engine.metadata")
JPEG_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe"})
INSTALL_HINT = "install exiftool (Debian/Ubuntu: apt install libimage-exiftool-perl; macOS: brew install exiftool)"
WAIT_FOR_EXIFTOOL = 600.0


class MetadataResult(TypedDict, total=False):
    written: list[str]  # the fields written (empty: already up to date)
    target: str  # the photo, or its XMP sidecar
    sidecar: bool
    keywords: list[str]
    engine_keywords: list[str]
    verified: bool
    reason: str
    stat: dict[str, int]  # size, mtime_ns, inode after our write: its watcher echo is no change
    fallback: str  # why the photo's keywords went to a sidecar instead of the photo itself


@dataclass
class _Work:
    index: int
    item: WorkItem
    wanted: Wanted
    target: targets.Target | None = None
    existing: dict[str, list[str]] | None = None
    plan: Plan | None = None
    guard: Guard | None = None
    warnings: str = ""
    fallback: bool = False  # a sidecar because the photo's own metadata would not read back after writing


class MetadataStage(Stage):
    name = "metadata"
    pool = "files"

    def __init__(
        self,
        config: MetadataConfig,
        dedup_keyword: str,
        scratch: Path,
        places_write: bool = False,
        text_description: bool = False,
    ):
        self.config = config
        self.places_write = places_write
        self.text_description = text_description  # [ocr] write_description
        self.dedup_keyword = dedup_keyword
        self.scratch = scratch
        self.batch_size = config.batch_size
        self.tool = ExifTool(config.exiftool)
        self._warned = False
        self.people: tuple[bool, bool] | None = None  # [people] (write_keywords, write_regions) when people is on

    def close(self) -> None:
        self.tool.close()

    def ready(self) -> bool:
        return self.tool.pid is not None or self.tool.path is None

    def prepare(self) -> None:
        _ = self.tool.version  # starts exiftool (Perl start-up) before any file is touched

    def run_batch(self, items: list[WorkItem]) -> list[dict[str, Any] | BaseException]:
        outcomes: list[dict[str, Any] | BaseException | None] = [None] * len(items)
        work: list[_Work] = []
        for index, item in enumerate(items):
            wanted = wanted_from(
                item.result("tag"), item.result("dedup"), self.dedup_keyword, item.result("corrections")
            )
            if self.places_write:
                wanted.place = place_fields(item.result("probe").get("place"))
            wanted.text = ocr_text(item.result("analyze"))
            wanted.keywords.extend(analyzer_keywords(item.result("analyze")))
            best, lost = burst_marks(item.result("burst"))
            wanted.keywords.extend(best)
            wanted.withdrawn.extend(lost)
            if self.people is not None:
                wanted.people = NamedFaces.from_result(item.result("people"))
                wanted.withdrawn += wanted.people.withdrawn  # People|Old and the flat keyword the engine wrote
            if item.result("rename").get("deleted"):  # [rename] duplicates = "delete" removed this copy
                outcomes[index] = _result(
                    item.path, [], verified=False, reason="deleted as a duplicate: nothing to write"
                )
            elif wanted.empty:
                outcomes[index] = _result(
                    item.path, [], verified=False, reason="no keywords, category, caption or text"
                )
            else:
                work.append(_Work(index, item, wanted))
        while work:  # items sharing one sidecar (photo.cr2 + photo.nef -> photo.xmp) go in separate rounds
            round_, seen, later = [], set(), []
            for entry in work:
                try:
                    entry.target = self.choose(entry.item.path)  # again each round: a sidecar may exist now
                except StageError as exc:
                    outcomes[entry.index] = exc
                    continue
                (later if entry.target.path in seen else round_).append(entry)
                seen.add(entry.target.path)
            self.write_round(round_, outcomes)
            work = later
        return [outcome if outcome is not None else RuntimeError("no outcome") for outcome in outcomes]

    def choose(self, photo: Path) -> targets.Target:
        return targets.choose(photo, self.config.sidecar_naming, self.config.sidecar_for_readonly)

    def record(self, conn: sqlite3.Connection, job: Job, result: MetadataResult) -> None:  # type: ignore[override]
        metadata_store.record_metadata(conn, job, result)

    def write_round(self, work: list[_Work], outcomes: list[Any]) -> None:
        if not work:
            return
        if self.tool.path is not None:
            try:
                self.with_exiftool(work, outcomes)
                return
            except ExifToolError as exc:
                self.warn_missing(str(exc))
        else:
            self.warn_missing(f"exiftool not found ({self.config.exiftool or 'exiftool on PATH'})")
        for entry in work:
            if outcomes[entry.index] is not None:
                continue
            try:
                outcomes[entry.index] = self.without_exiftool(entry)
            except Exception as exc:  # noqa: BLE001 - each item's error is its own
                outcomes[entry.index] = exc

    def warn_missing(self, why: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "exiftool unavailable: JPEG metadata is written with piexif, other formats wait",
                extra={"event": "exiftool_missing", "error": f"{why}; {INSTALL_HINT}"},
            )

    # --- with exiftool: one round trip per step for the whole batch ---

    def with_exiftool(self, work: list[_Work], outcomes: list[Any]) -> None:
        live = self._checked(work, outcomes)
        planned = self._read_and_plan(live, outcomes)  # those already up to date are done here
        guarded, commands = self._protected(planned, outcomes)
        written = self._written(guarded, commands, outcomes)
        unverified = self._verify_written(written, outcomes)
        if unverified:  # the photo's own metadata would not take the write (a malformed XMP packet): a sidecar
            self.with_exiftool(self._to_sidecars(unverified, outcomes), outcomes)

    def _to_sidecars(self, unverified: list[tuple[_Work, str]], outcomes: list[Any]) -> list[_Work]:
        moved = []
        for entry, problems in unverified:
            why = f"the photo's own metadata did not read back after writing ({problems}); the photo is unchanged"
            try:
                target = targets.sidecar_of(entry.target.photo, self.config.sidecar_naming, why)
            except StageError as exc:
                outcomes[entry.index] = exc
                continue
            moved.append(_Work(entry.index, entry.item, entry.wanted, target, fallback=True))
            log.warning(
                "keywords go to a sidecar",
                extra={"event": "metadata_sidecar_fallback", "path": str(entry.target.photo), "error": why},
            )
        return moved

    def _checked(self, work: list[_Work], outcomes: list[Any]) -> list[_Work]:
        """The entries whose target may be written (see `check`); the others get their error."""
        live = []
        for entry in work:
            try:
                self.check(entry)
                live.append(entry)
            except StageError as exc:
                outcomes[entry.index] = exc
            except OSError as exc:  # e.g. a name too long for the temp file: this photo's fault, not the batch's
                outcomes[entry.index] = _file_error(entry.target.path, exc)
        return live

    def _read_and_plan(self, live: list[_Work], outcomes: list[Any]) -> list[_Work]:
        """Each entry's fields (JPEGs read in Python, the rest in one exiftool read for the batch), then its plan;
        returns the entries with something to write."""
        quick = {id(entry): self._quick_read(entry) for entry in live}
        slow = [path for entry in live if quick[id(entry)] is None for path in entry.target.reads]
        reads = iter(self.tool.read(slow, READ_TAGS) if slow else [])
        planned = []
        for entry in live:
            found = quick[id(entry)] or [next(reads) for _ in entry.target.reads]
            try:
                entry.existing = _merge_reads(entry, found)
                entry.plan = make_plan(entry.existing, entry.wanted, self.options(entry))
            except StageError as exc:
                outcomes[entry.index] = exc
                continue
            if entry.plan.changes:
                planned.append(entry)
            else:
                outcomes[entry.index] = self.success(entry, reason="already up to date")
        return planned

    @staticmethod
    def _quick_read(entry: _Work) -> list[dict[str, list[str]]] | None:
        if entry.target.sidecar or _has_people(entry):
            return None
        found = quick_read.read(entry.target.path)
        return None if found is None else [found]

    def _protected(self, planned: list[_Work], outcomes: list[Any]) -> tuple[list[_Work], list[Command]]:
        """Each target guarded (its original kept aside), with its exiftool command."""
        guarded, commands = [], []
        for entry in planned:
            try:
                entry.guard = Guard(entry.target.path, self.scratch).protect()
            except OSError as exc:
                outcomes[entry.index] = _file_error(entry.target.path, exc)
                continue
            guarded.append(entry)
            commands.append(
                targets.exiftool_command(entry.plan, entry.target, self.config.keep_mtime, self.config.backups)
            )
        return guarded, commands

    def _written(self, guarded: list[_Work], commands: list[Command], outcomes: list[Any]) -> list[_Work]:
        """One exiftool write for the batch; a failed write puts that original back."""
        written = []
        try:
            results = self.tool.run(commands)
        except BaseException:
            for entry in guarded:
                entry.guard.restore()
            raise
        for entry, outcome in zip(guarded, results, strict=True):
            error = _write_error(entry, outcome)
            if error is not None:
                entry.guard.restore()
                outcomes[entry.index] = error
            else:
                entry.warnings = "; ".join(outcome.warnings)
                written.append(entry)
        return written

    def _verify_written(self, written: list[_Work], outcomes: list[Any]) -> list[tuple[_Work, str]]:
        """Each write read back (JPEGs from the written bytes; the rest, and any that do not check out there, by one
        exiftool read for the batch). A write that did not take puts the original back; a photo written in place
        is returned with the problems, for a sidecar."""
        checked = {id(entry): self._quick_verify(entry) for entry in written}
        doubtful = [entry for entry in written if not checked[id(entry)]]
        try:
            readbacks = (
                self.tool.read_each(
                    [
                        (
                            entry.target.path,
                            sorted(set(entry.plan.writes) | set(entry.plan.absent) | set(entry.plan.present)),
                        )
                        for entry in doubtful
                    ]
                )
                if doubtful
                else []
            )
        except BaseException:
            for entry in written:
                entry.guard.restore()
            raise
        slow = dict(zip((id(entry) for entry in doubtful), readbacks, strict=True))
        unverified = []
        for entry in written:
            readback = slow.get(id(entry))
            problems = [readback.message] if isinstance(readback, Outcome) else verify(entry.plan, readback or {})
            if checked[id(entry)]:
                problems = []
            if problems:
                entry.guard.restore()
                said = f"; exiftool said: {entry.warnings}" if entry.warnings else ""
                if not entry.target.sidecar:
                    unverified.append((entry, "; ".join(problems[:3]) + said))
                    continue
                outcomes[entry.index] = PermanentError(
                    f"{entry.target.path}: the metadata did not read back after writing ({'; '.join(problems[:3])})"
                    f"{said}; the original is back, unchanged"
                )
                continue
            entry.guard.release()
            if self.config.keep_mtime and not entry.target.sidecar and entry.guard.mtime_ns is not None:
                os.utime(entry.target.path, ns=(time.time_ns(), entry.guard.mtime_ns))  # exiftool -P keeps seconds
            outcomes[entry.index] = self.success(entry, reason="written and verified")
        return unverified

    @staticmethod
    def _quick_verify(entry: _Work) -> bool:
        """True when the written bytes say what the plan wrote (False: not a JPEG we read, or a doubt)."""
        found = None if entry.target.sidecar or _has_people(entry) else quick_read.read(entry.target.path)
        return found is not None and not verify(entry.plan, found)

    def check(self, entry: _Work) -> None:
        target = entry.target
        if not target.sidecar and target.photo.suffix.lower() in JPEG_SUFFIXES:
            damage = targets.jpeg_damage(target.photo)
            if damage:
                raise PermanentError(f"{target.photo} {damage}; metadata not written")
        too_long = name_too_long(target.path)
        if too_long:
            raise PermanentError(too_long)
        targets.clear_stale_temp(target.path)

    def options(self, entry: _Work, exif_writable: bool = True, fallback_mode: bool = False) -> Options:
        file_type = (entry.existing or {}).get(FILE_TYPE, [""])[0]
        in_place = not entry.target.sidecar
        return Options(
            mode=self.config.mode,
            hierarchy_root=self.config.hierarchy_root,
            digikam_tags=self.config.digikam_tags,
            version=__version__,
            iptc=in_place and not fallback_mode and file_type in targets.IPTC_TYPES,
            exif_text=in_place and exif_writable,
            create_exif_text=fallback_mode and exif_writable,
            text_description=self.text_description,
            people_keywords=bool(self.people and self.people[0]),
            people_regions=bool(self.people and self.people[1]) and not fallback_mode,
        )

    def success(self, entry: _Work, reason: str) -> dict[str, Any]:
        plan = entry.plan
        result = _result(
            entry.target.path,
            plan.fields,
            verified=True,
            reason=reason if not entry.target.sidecar else f"{reason} (sidecar: {entry.target.why})",
        )
        result.update(sidecar=entry.target.sidecar, keywords=plan.keywords, engine_keywords=plan.engine_keywords)
        if entry.fallback:
            result["fallback"] = entry.target.why
        # Also when up to date with our keywords in the file, or after the engine died at this stage before (touched):
        # a write that a crash kept from being recorded, whatever it wrote (a category alone, a place).
        if not entry.target.sidecar and (plan.changes or plan.engine_keywords or entry.item.job.touched):
            info = os.stat(entry.target.path)
            result["stat"] = {"size": info.st_size, "mtime_ns": info.st_mtime_ns, "inode": info.st_ino}
        return result

    # --- without exiftool: JPEG through piexif and our own XMP segment; the rest waits ---

    def without_exiftool(self, entry: _Work) -> dict[str, Any]:
        target = entry.target
        if target.sidecar or target.photo.suffix.lower() not in JPEG_SUFFIXES:
            kind = f"the sidecar {target.path.name}" if target.sidecar else f"{target.photo.suffix} files"
            raise WaitingError(
                f"exiftool is not installed and is needed to write {kind}; {INSTALL_HINT}", WAIT_FOR_EXIFTOOL
            )
        self.check(entry)
        data = target.photo.read_bytes()
        try:
            entry.existing, exif_writable = fallback.read(data)
            entry.plan = make_plan(entry.existing, entry.wanted, self.options(entry, exif_writable, fallback_mode=True))
            if not entry.plan.writes:
                return self.success(entry, reason="already up to date")
            new = fallback.apply(data, entry.plan.writes)
            problems = verify(entry.plan, fallback.read(new)[0])
        except fallback.FallbackError as exc:
            raise WaitingError(f"{target.photo}: needs exiftool, {exc}; {INSTALL_HINT}", WAIT_FOR_EXIFTOOL) from None
        if problems:
            raise PermanentError(f"{target.photo}: the metadata did not read back ({'; '.join(problems)}); unchanged")
        _replace_bytes(target.photo, new, self.config.keep_mtime, self.config.backups)
        return self.success(entry, reason="written with piexif (exiftool not installed) and verified")


def _has_people(entry: _Work) -> bool:
    """Named faces (or names taken back): face regions and PersonInImage are read by exiftool, which flattens the
    region structures into the fields the plan compares (quick_read does not read them)."""
    people = entry.wanted.people
    return people is not None and bool(people.faces or people.withdrawn)


def _merge_reads(entry: _Work, found: list[dict[str, list[str]] | Outcome]) -> dict[str, list[str]]:
    """The union of what the photo and its sidecars say; a file exiftool cannot read fails the job."""
    merged: dict[str, list[str]] = {}
    for path, tags in zip(entry.target.reads, found, strict=True):
        if isinstance(tags, Outcome):
            raise PermanentError(f"exiftool cannot read {path}: {tags.message}")
        if path != entry.target.photo and FILE_TYPE in tags:
            tags = {key: values for key, values in tags.items() if key != FILE_TYPE}
        for key, values in tags.items():
            if key in merged:  # a second file (photo + sidecar): add only what the first did not say
                values = [value for value in values if value not in merged[key]]
            merged.setdefault(key, []).extend(values)
    return merged


def _file_error(target: Path, exc: OSError) -> StageError:
    if exc.errno == errno.ENAMETOOLONG:
        return PermanentError(
            f"{target}: the name is too long to write metadata ({len(target.name.encode())} bytes; exiftool's"
            f" temporary {target.name}{TEMP_SUFFIX} must fit in 255); rename the file shorter, it is retried then"
        )
    return RetryableError(f"{target}: {exc.strerror or exc}; metadata not written yet")


def _write_error(entry: _Work, outcome: Outcome) -> StageError | None:
    if outcome.status == 0 and not outcome.errors:
        return None
    if outcome.status == -1:
        return RetryableError(write_failure(entry.target.path, outcome.message, retried=True))
    if "no space" in outcome.message.lower() or "disk full" in outcome.message.lower():
        return WaitingError(f"disk full: {short_cause(entry.target.path, outcome.message)}; free some space", 60.0)
    return PermanentError(write_failure(entry.target.path, outcome.message))


def _replace_bytes(path: Path, data: bytes, keep_mtime: bool, backups: bool) -> None:
    """Write `data` over `path` atomically (temp file beside it, then rename), keeping mode and mtime."""
    before = os.stat(path)
    temp = path.with_name(f".{path.name}.image-engine-tmp")
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        shutil.copymode(path, temp)
        if keep_mtime:
            os.utime(temp, ns=(before.st_atime_ns, before.st_mtime_ns))
        backup = path.with_name(path.name + "_original")
        if backups and not backup.exists():
            os.link(path, backup)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _result(target: Path, written: list[str], verified: bool, reason: str) -> dict[str, Any]:
    return {"written": written, "target": str(target), "keywords": [], "verified": verified, "reason": reason}
