"""Pure duplicate logic: when two images are the same picture, how links form groups, and which copy is kept.

No SQL and no I/O: the dedup stage and the dedup recorder feed it facts read from the store and get the same answer.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

KEEPER_RULES = ("pixels", "size", "taken", "metadata")  # the default order; "best_quality" may be added
CAMERA_TIME_SOURCES = ("DateTimeOriginal", "CreateDate")
# pHash looks at a 32x32 DCT: a smaller image, or one without any gradient (dHash 0: flat), says nothing about content.
MIN_SIDE = 32
MIRRORED = 360  # added to a link's rotation (degrees turned counter-clockwise) when the copy is mirrored too

Kind = Literal["exact", "near"]


@dataclass(frozen=True)
class Thresholds:
    """[dedup] settings that decide a pair (see config.example.toml for how they were measured)."""

    phash: int = 10
    dhash: int = 10
    similarity: float = 0.97
    embedding_phash: int = 14
    use_embeddings: bool = True

    @property
    def radius(self) -> int:
        """How far the hash index must look for candidates."""
        return max(self.phash, self.embedding_phash) if self.use_embeddings else self.phash


@dataclass(frozen=True)
class Facts:
    """What the store knows about one file, as far as duplicates go."""

    id: int
    path: str
    size: int
    width: int | None = None
    height: int | None = None
    taken: str | None = None
    taken_source: str | None = None
    sha256: str | None = None
    phash: int | None = None
    dhash: int | None = None
    metadata: int = 0  # how many of: camera capture time, make, model, GPS
    present: bool = True
    orientation: int | None = None  # EXIF Orientation; None/1 = upright as stored
    kept: bool = False  # its recorded dedup decision keeps it: filed already, or on its way
    quality: float | None = None  # the quality analyzer's score 0..100 (None: not measured)

    @property
    def rotated(self) -> bool:
        """Shown turned or mirrored by an EXIF tag: some programs ignore the tag, so such a copy is less safe."""
        return self.orientation not in (None, 0, 1)

    @property
    def pixels(self) -> int:
        return (self.width or 0) * (self.height or 0)

    @property
    def comparable(self) -> bool:
        """Perceptual hashes mean something for this image (big enough, not flat)."""
        return (
            self.phash is not None
            and self.dhash is not None
            and self.dhash != 0
            and min(self.width or 0, self.height or 0) >= MIN_SIDE
        )

    @property
    def camera_time(self) -> str | None:
        return self.taken if self.taken_source in CAMERA_TIME_SOURCES else None


@dataclass(frozen=True)
class Link:
    """Evidence that two files are the same picture; a < b."""

    a: int
    b: int
    kind: Kind
    phash: int | None = None
    dhash: int | None = None
    similarity: float | None = None
    rotation: int = 0
    # One is a crop of the other, or a screenshot showing it: the inner view's share of the outer's width (> 0: `a`
    # is the inner one, < 0: `b` is). Found by embedding and confirmed pixel by pixel (dedup/regions.py).
    contained: float | None = None

    def strength(self) -> tuple[int, int, int, float, int, int]:
        """Sort key, strongest first: exact, then closer hashes, then higher similarity."""
        return (
            0 if self.kind == "exact" else 1,
            self.phash if self.phash is not None else 64,
            self.dhash if self.dhash is not None else 64,
            -(self.similarity or 0.0),
            self.a,
            self.b,
        )

    def other(self, file_id: int) -> int:
        return self.b if file_id == self.a else self.a

    def describe(self) -> str:
        if self.kind == "exact":
            return "identical bytes (SHA-256)"
        parts = []
        if self.phash is not None:
            parts.append(f"pHash {self.phash}")
        if self.dhash is not None:
            parts.append(f"dHash {self.dhash}")
        if self.similarity is not None:
            parts.append(f"embedding similarity {self.similarity:.3f}")
        if self.contained is not None:
            parts.append(f"a crop or screenshot: the smaller view spans {abs(self.contained):.0%} of the other's width")
        if self.rotation:
            degrees = self.rotation % MIRRORED
            turned = f"rotated {degrees}°" if degrees else ""
            parts.append(turned if self.rotation < MIRRORED else " and ".join(filter(None, ["mirrored", turned])))
        return "near-duplicate (" + ", ".join(parts) + ")"


def pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


@dataclass(frozen=True)
class Verdict:
    link: Link | None
    why: str


def judge(
    new: Facts,
    other: Facts,
    thresholds: Thresholds,
    phash_distance: int | None,
    dhash_distance: int | None,
    similarity: float | None = None,
    rotation: int = 0,
    subsec: tuple[str | None, str | None] = (None, None),
) -> Verdict:
    """Is `other` the same picture as `new`? Distances are between `new` (possibly rotated) and `other`."""
    a, b = pair(new.id, other.id)
    if new.sha256 and new.sha256 == other.sha256:
        return Verdict(Link(a, b, "exact"), "identical bytes")
    if not (new.comparable and other.comparable) or phash_distance is None:
        return Verdict(None, "too small or featureless to compare by perceptual hash")
    apart = capture_gap(new, other, subsec)
    if apart:
        return Verdict(None, f"different shots: taken {apart} apart")
    by_hash = dhash_distance is not None and phash_distance <= thresholds.phash and dhash_distance <= thresholds.dhash
    by_embedding = (
        thresholds.use_embeddings
        and similarity is not None
        and phash_distance <= thresholds.embedding_phash
        and similarity >= thresholds.similarity
    )
    if by_hash or by_embedding:
        return Verdict(Link(a, b, "near", phash_distance, dhash_distance, similarity, rotation), "near-duplicate")
    return Verdict(None, f"not close enough (pHash {phash_distance}, dHash {dhash_distance})")


def capture_gap(new: Facts, other: Facts, subsec: tuple[str | None, str | None] = (None, None)) -> str | None:
    """How far apart two camera-recorded capture times are ("1 s"), or None when equal or unknown.

    Burst frames and bracketed exposures look alike but carry different capture times; copies keep theirs.
    """
    first, second = new.camera_time, other.camera_time
    if not first or not second:
        return None
    if first != second:
        try:
            seconds = abs((dt.datetime.fromisoformat(first) - dt.datetime.fromisoformat(second)).total_seconds())
        except ValueError:
            return "at different times"
        return _seconds(seconds)
    if subsec[0] and subsec[1] and subsec[0] != subsec[1]:
        return f"0.{subsec[0]} vs 0.{subsec[1]} s past the same second"
    return None


def _seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# -- groups ----------------------------------------------------------------------------------------------------


@dataclass
class Group:
    id: int
    members: list[int]
    keeper: int
    keeper_reason: str


@dataclass
class Plan:
    """Groups of an affected set of files after a change: who is grouped with whom and who is kept."""

    groups: dict[int, Group] = field(default_factory=dict)
    membership: dict[int, int | None] = field(default_factory=dict)
    # One new identical copy joins a stored group that it leaves as it was (store.dedup.join_plan): only the
    # newcomer's membership is written, and facts are known for the few files its decision names.
    joined: int | None = None

    def group_of(self, file_id: int) -> Group | None:
        group_id = self.membership.get(file_id)
        return None if group_id is None else self.groups[group_id]


def components(
    members: Iterable[int],
    links: Iterable[Link],
    distinct: set[tuple[int, int]],
    facts: dict[int, Facts] | None = None,
) -> list[set[int]]:
    """Connected groups, strongest links first. A link is skipped when it would put together two files marked
    distinct, or two files with different camera capture times (a burst frame linked through a copy that lost its
    EXIF must not join the other frame's group: one picture has one capture time)."""
    parent = {member: member for member in members}
    sets = {member: {member} for member in parent}
    # A component holds at most one camera capture time (links that would bring a second one are skipped), so two
    # components are apart by time when both have one and they differ: no pair-by-pair check (a group of 200
    # identical copies made each plan cost 200 x 200 comparisons).
    clock = {member: facts[member].camera_time if facts and member in facts else None for member in parent}
    partners: dict[int, set[int]] = {}
    for x, y in distinct:
        partners.setdefault(x, set()).add(y)
        partners.setdefault(y, set()).add(x)

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def apart(small: int, large: int) -> bool:
        if clock[small] and clock[large] and clock[small] != clock[large]:
            return True
        members = sets[large]
        return any(not members.isdisjoint(partners[x]) for x in sets[small] if x in partners)

    for link in sorted(links, key=Link.strength):
        if link.a not in parent or link.b not in parent:
            continue
        first, second = root(link.a), root(link.b)
        if first == second:
            continue
        small, large = (first, second) if len(sets[first]) <= len(sets[second]) else (second, first)
        if apart(small, large):
            continue
        parent[small] = large
        sets[large] |= sets.pop(small)
        clock[large] = clock[large] or clock[small]
    return [members for key, members in sets.items() if parent[key] == key]


def plan(facts: dict[int, Facts], links: Iterable[Link], distinct: set[tuple[int, int]], rules: Iterable[str]) -> Plan:
    """Group the files in `facts` (present ones only); a group's id is its oldest member's file id."""
    rules = list(rules)
    present = [file_id for file_id, fact in facts.items() if fact.present]
    result = Plan(membership=dict.fromkeys(facts))
    for component in components(present, links, distinct, facts):
        if len(component) < 2:
            continue
        members = sorted(component)
        keeper, reason = choose_keeper([facts[member] for member in members], rules)
        group = Group(members[0], members, keeper, reason)
        result.groups[group.id] = group
        for member in members:
            result.membership[member] = group.id
    return result


def keeper_key(fact: Facts, rules: list[str]) -> tuple:
    key: list = []
    for rule in rules:
        if rule == "pixels":
            key.append(-fact.pixels)
        elif rule == "size":
            # An orientation tag changes a few bytes, not the picture: the upright copy wins before byte counts.
            key.append((fact.rotated, -fact.size))
        elif rule == "taken":
            key.append(fact.taken or "9999")
        elif rule == "metadata":
            key.append(-fact.metadata)
        elif rule == "best_quality":
            key.append(-(fact.quality if fact.quality is not None else -1.0))
    key.append((not fact.kept, fact.id))  # all else equal, the copy kept before, else the one the engine saw first
    return tuple(key)


def as_content(members: list[Facts], rules: list[str]) -> list[Facts]:
    """Each member as its content's best copy ranks (same SHA-256 = same content), keeping its own id and `kept`.

    Identical copies differ only in what happened to the files: our own metadata write grows one (files.size
    follows it, the SHA-256 of the bytes judged does not), a copy dropped later has another mtime. Ranked as they
    are, the copy judged first and the copy judged last could each name the other as the keeper, and neither was
    filed; ranked as one content, the copy kept before (else the first seen) wins, in whatever order they come.
    """
    keys = {fact.id: keeper_key(fact, rules)[:-1] for fact in members}  # the rules' part, without the tie-break
    best: dict[str, Facts] = {}
    for fact in members:
        if fact.sha256 and (fact.sha256 not in best or keys[fact.id] < keys[best[fact.sha256].id]):
            best[fact.sha256] = fact
    return [
        replace(best[fact.sha256], id=fact.id, path=fact.path, kept=fact.kept, present=fact.present)
        if fact.sha256 and keys[fact.id] != keys[best[fact.sha256].id]
        else fact
        for fact in members
    ]


def choose_keeper(members: list[Facts], rules: list[str]) -> tuple[int, str]:
    """The copy to keep by the rule list, and why in words: the first rule that set it apart from the next best
    copy that is not byte-identical to it (identical copies only differ in when the engine saw them)."""
    ranked = sorted(as_content(members, rules), key=functools.partial(keeper_key, rules=rules))
    best = ranked[0]
    twins = [fact for fact in ranked[1:] if best.sha256 and fact.sha256 == best.sha256]
    others = [fact for fact in ranked[1:] if not (best.sha256 and fact.sha256 == best.sha256)]
    first = "kept before" if any(twin.id < best.id for twin in twins) else "first seen"
    reason = "first seen (the copies are otherwise equal)"
    if others:
        runner_up = others[0]
        for rule in rules:
            if keeper_key(best, [rule])[0] != keeper_key(runner_up, [rule])[0]:
                reason = _why(rule, best, runner_up)
                break
        if twins:
            reason += f"; of its identical copies, the {first}"
    elif twins:
        reason = f"{first} of identical copies"
    return best.id, reason


def _why(rule: str, best: Facts, other: Facts) -> str:
    if rule == "pixels":
        return f"largest image ({best.width}x{best.height} vs {other.width}x{other.height})"
    if rule == "size":
        if best.rotated != other.rotated:
            return f"stored upright (EXIF orientation {best.orientation or 1} vs {other.orientation})"
        return f"largest file ({_bytes_apart(best.size, other.size)})"
    if rule == "taken":
        return f"taken earliest ({best.taken} vs {other.taken or 'unknown'})"
    if rule == "best_quality":
        theirs = "not measured" if other.quality is None else f"{other.quality:g}"
        return f"best quality (score {best.quality:g} vs {theirs})"
    return f"most metadata ({best.metadata} of 4 fields vs {other.metadata})"


def _bytes(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    return f"{size / 1000:.0f} kB"


def _bytes_apart(larger: int, smaller: int) -> str:
    """Two sizes that read differently: exact byte counts where rounding would show the same number twice."""
    if _bytes(larger) != _bytes(smaller):
        return f"{_bytes(larger)} vs {_bytes(smaller)}"
    return f"{larger:,} vs {smaller:,} bytes, {larger - smaller:,} more"


# -- the stage's result ----------------------------------------------------------------------------------------


def decide(
    file: Facts,
    group: Group | None,
    facts: dict[int, Facts],
    links: Iterable[Link],
    action: str,
    alone: str = "no duplicates found",
    choice: str | None = None,
) -> dict:
    """The `dedup` result contract for one file (see the brief): what later stages do with it, and why.

    `choice`: the user's word on this copy ('keep' or 'trash', daemon/store/dedup_choices.py), above the policy."""
    result = {
        "group": None,
        "keeper": True,
        "duplicate_of": None,
        "kind": None,
        "reason": alone,
        "action": action,
        "skip_filing": False,
        "move_to_duplicates": False,
    }
    if group is None:
        return result
    result["group"] = group.id
    keeper = facts[group.keeper]
    if keeper.id == file.id:
        count = len(group.members) - 1
        result["reason"] = f"kept in group {group.id} ({count} other cop{'y' if count == 1 else 'ies'}): "
        result["reason"] += group.keeper_reason
        return chosen(result, choice)
    exact = bool(file.sha256) and file.sha256 == keeper.sha256
    mine = [link for link in links if file.id in (link.a, link.b)]
    direct = [link for link in mine if keeper.id in (link.a, link.b)]
    evidence = min(direct or mine, key=Link.strength, default=None)
    how = evidence.describe() if evidence else "linked through another copy"
    # An identical copy seen earlier (a non-keeper too) is filed already or on its way: this one is not filed twice.
    twins = sorted(
        m for m in group.members if m < file.id and file.sha256 and m in facts and facts[m].sha256 == file.sha256
    )
    reason = f"{'exact' if exact else 'near'} duplicate of {keeper.path}: {how}; kept: {group.keeper_reason}"
    if twins and not exact:
        reason += f"; identical to {facts[twins[0]].path}, seen first"
    result.update(
        keeper=False,
        duplicate_of=keeper.path,
        kind="exact" if exact else "near",
        reason=reason,
        skip_filing=(exact or bool(twins)) and action != "move",
        move_to_duplicates=action == "move",
    )
    return chosen(result, choice)


def chosen(result: dict, choice: str | None) -> dict:
    """The decision with the user's choice on top: 'trash' files the copy under the duplicates folder whatever the
    policy; 'keep' keeps it where it is (no duplicate keyword, no move)."""
    if choice == "trash":
        result.update(choice=choice, skip_filing=False, move_to_duplicates=True)
        result["reason"] = f"trashed by you (filed under the duplicates folder); {result['reason']}"
    elif choice == "keep":
        result.update(choice=choice, skip_filing=False, move_to_duplicates=False)
        result["reason"] = f"kept by you; {result['reason']}"
    return result
