"""Where a model label's broader keywords sit in the one keyword tree ("cat" of a tabby -> "Animals|Cats").

The label's own keyword keeps the model's path; the broader ones join the node they name, or its parent.
"""

from __future__ import annotations


def singular(word: str) -> str:
    """A plain English singular for matching keywords to tree nodes: cats -> cat, ponies -> pony, foxes -> fox."""
    word = word.casefold().strip()
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def broader_path(hierarchy: str | None, keyword: str) -> str | None:
    """The path for a broader keyword of a label whose own path is `hierarchy`.

    "cat" with "Animals|Cats|Tabby Cat" -> "Animals|Cats" (the node it names); "bird of prey" with
    "Animals|Birds|Kite" -> "Animals|Birds|bird of prey" (a sibling of the label); no hierarchy -> None.
    """
    if not hierarchy or "|" not in hierarchy:
        return None
    nodes = hierarchy.split("|")
    wanted = singular(keyword)
    for depth in range(len(nodes) - 1, 0, -1):
        if singular(nodes[depth - 1]) == wanted:
            return "|".join(nodes[:depth])
    return "|".join([*nodes[:-1], keyword])
