"""The review app's Duplicates page: one group at a time, side by side, the fields that differ highlighted.

Decisions go through the control API's own handlers (`dupes --keep/--trash/--not-duplicates`): a trashed copy is
filed under the duplicates folder through the rename journal (`image-engine undo` moves it back), and "not a
duplicate" is remembered for good.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from daemon.store import Store, review
from daemon.web.api import Handler

if TYPE_CHECKING:
    from collections.abc import Callable

    from daemon.web.kinds import Page, Renderer

COMPARED = ("size", "pixels", "taken", "camera", "keywords")


class Duplicates:
    def __init__(self, app: Renderer, store: Store, api: dict[tuple[str, str], Handler]):
        self.app = app
        self.store = store
        self.api = api

    def routes(self, page: Callable[[Page], Any]) -> list[Route]:
        if ("GET", "/dupes") not in self.api:
            return []
        return [
            Route("/duplicates", page(self.show)),
            Route("/duplicates/distinct", page(self.distinct), methods=["POST"]),
            Route("/duplicates/choose", page(self.choose), methods=["POST"]),
            Route("/duplicates/suggested", page(self.suggested), methods=["POST"]),
            Route("/duplicates/resolve", page(self.resolve), methods=["POST"]),
        ]

    def listing(self) -> dict[str, Any]:
        return self.api[("GET", "/dupes")]({}, {})[1]

    def show(self, request: Request, form: dict[str, str]) -> Response:
        return self.render(request, int(request.query_params.get("at") or 0), "")

    def distinct(self, request: Request, form: dict[str, str]) -> Response:
        """The whole group (`group`), or one photo (`path`: it is no duplicate of the others), for good."""
        at = int(form.get("at") or 0)
        if form.get("path"):
            self.api[("POST", "/dupes/distinct")]({}, {"paths": [form["path"]]})
            return self.render(request, at, f"{_name(form['path'])}: not a duplicate of the others (remembered).")
        group = int(form["group"])
        self.api[("POST", "/dupes/distinct")]({}, {"groups": [group]})
        return self.render(request, at, f"Group {group}: not duplicates (remembered).")

    def choose(self, request: Request, form: dict[str, str]) -> Response:
        """One photo kept or trashed (`keep` / `trash`: its path), or the whole group: `all` = keep (`a`) or
        trash-rest (`d`: keep the suggested copy, trash the others). Then on to the next undecided group."""
        at = int(form.get("at") or 0)
        body: dict[str, list[str]] = {"keep": [], "trash": []}
        for choice in body:
            if form.get(choice):
                body[choice].append(form[choice])
        if form.get("all"):
            group = self.group_named(int(form.get("group") or 0))
            if group is None:
                return self.render(request, at, "That group is gone (the groups changed meanwhile).")
            for member in group["members"]:
                trash = form["all"] == "trash-rest" and not member["keeper"] and member["present"]
                body["trash" if trash else "keep"].append(member["path"])
        code, answer = self.api[("POST", "/dupes/choose")]({}, body)
        if code != 200:
            return self.render(request, at, answer.get("error", "refused"))
        return self.render(request, at, _said(answer), after_decision=True)

    def suggested(self, request: Request, form: dict[str, str]) -> Response:
        """Every undecided group: keep the suggested copy, trash the others (the button asked, with the count)."""
        code, answer = self.api[("POST", "/dupes/choose")]({}, {"suggested": True})
        return self.render(request, 0, _said(answer) if code == 200 else answer.get("error", "refused"))

    def resolve(self, request: Request, form: dict[str, str]) -> Response:
        outcome = self.api[("POST", "/dupes/resolve")]({}, {})[1]
        moved = sum(outcome.get("requeued", {}).values())
        message = f"The [dedup] action ({outcome['action']}) is applied: {moved} photo(s) go through it again."
        return self.render(request, 0, message)

    def group_named(self, group_id: int) -> dict[str, Any] | None:
        groups = self.listing()["groups"]
        return next((group for group in groups if group["group"] == group_id), None)

    def render(self, request: Request, at: int, message: str, after_decision: bool = False) -> Response:
        listing = self.listing()
        groups = listing["groups"]
        if after_decision and groups:  # on to the next group nobody decided on yet, if any
            order = [(at + step) % len(groups) for step in range(len(groups))]
            at = next((i for i in order if not _decided(groups[i])), at)
        at = max(0, min(at, len(groups) - 1))
        group = groups[at] if groups else None
        details: dict[int, dict[str, Any]] = {}
        differing: set[str] = set()
        if group:
            for member in group["members"]:
                info = review.photo(self.store.conn, member["file"]) or {}
                words = sorted({k["keyword"].casefold() for k in (info.get("tags") or {}).get("keywords", [])})
                details[member["file"]] = {
                    "size": member["size"],
                    "pixels": f"{member['width']}×{member['height']}",
                    "taken": member["taken"] or "unknown",
                    "camera": " ".join(filter(None, [info.get("make"), info.get("model")])) or "unknown",
                    "keywords": ", ".join(words) or "none",
                }
            for field in COMPARED:
                if len({details[m["file"]][field] for m in group["members"]}) > 1:
                    differing.add(field)
        return self.app.render(
            request,
            "duplicates.html",
            group=group,
            at=at,
            count=len(groups),
            undecided=sum(not _decided(g) for g in groups),
            details=details,
            differing=differing,
            action=listing["action"],
            pending=listing["pending"],
            suggested_moves=listing.get("suggested_moves", 0),
            trash_folder=listing.get("trash_folder", ""),
            message=message,
        )


def _decided(group: dict[str, Any]) -> bool:
    return any(member.get("choice") for member in group["members"])


def _name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _said(answer: dict[str, Any]) -> str:
    moving = answer.get("requeued", {}).get("rename", 0)
    said = f"Kept {answer['kept']}, trashed {answer['trashed']}: {moving} file(s) move to the duplicates folder"
    said += " (`image-engine undo` moves them back)." if moving else "."
    for item in answer.get("not_applied", []):
        said += f" Not applied to {_name(item['path'])}: {item['why']}."
    return said
