"""Read and edit the XMP properties the engine uses inside an XMP packet, without exiftool (the fallback).

Only the known properties change; everything else in the packet (ratings, develop settings) is kept.
"""

from __future__ import annotations

import contextlib
import io
import xml.etree.ElementTree as ElementTree

from daemon.metadata import tag_names

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NAMESPACES = {
    "x": "adobe:ns:meta/",
    "rdf": RDF,
    "dc": "http://purl.org/dc/elements/1.1/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "MicrosoftPhoto": "http://ns.microsoft.com/photo/1.0/",
    "imageengine": "http://ns.image-engine.dev/xmp/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "Iptc4xmpCore": "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/",
}
# exiftool tag -> (namespace prefix, property, container or None for a simple value)
PROPERTIES = {
    tag_names.SUBJECT: ("dc", "subject", "Bag"),
    tag_names.DESCRIPTION: ("dc", "description", "Alt"),
    tag_names.HIERARCHY: ("lr", "hierarchicalSubject", "Bag"),
    tag_names.TAGS_LIST: ("digiKam", "TagsList", "Seq"),
    tag_names.LAST_KEYWORD: ("MicrosoftPhoto", "LastKeywordXMP", "Bag"),
    tag_names.ENGINE_KEYWORDS: ("imageengine", "Keywords", "Bag"),
    tag_names.ENGINE_HIERARCHY: ("imageengine", "Hierarchy", "Bag"),
    tag_names.ENGINE_CATEGORY: ("imageengine", "Category", None),
    tag_names.ENGINE_CAPTION: ("imageengine", "Caption", None),
    tag_names.ENGINE_MODEL: ("imageengine", "Model", None),
    tag_names.ENGINE_VERSION: ("imageengine", "Version", None),
    "XMP-photoshop:City": ("photoshop", "City", None),
    "XMP-photoshop:State": ("photoshop", "State", None),
    "XMP-photoshop:Country": ("photoshop", "Country", None),
    "XMP-iptcCore:CountryCode": ("Iptc4xmpCore", "CountryCode", None),
    "XMP-iptcCore:Location": ("Iptc4xmpCore", "Location", None),
    tag_names.ENGINE_TEXT: ("imageengine", "Text", None),
}
PACKET_ID = "W5M0MpCehiHzreSzNTczkc9d"
PADDING = (" " * 99 + "\n") * 20  # room for in-place edits by other tools, as the XMP spec recommends


for _prefix, _uri in NAMESPACES.items():
    ElementTree.register_namespace(_prefix, _uri)


class XmpError(Exception):
    """The packet is not XML we can safely edit."""


def _q(prefix: str, name: str) -> str:
    return f"{{{NAMESPACES[prefix]}}}{name}"


def parse(packet: bytes | None) -> ElementTree.Element:
    """The x:xmpmeta element of `packet` (a fresh one when None); its prefixes are kept for writing."""
    if not packet:
        meta = ElementTree.Element(_q("x", "xmpmeta"))
        ElementTree.SubElement(meta, _q("rdf", "RDF"))
        return meta
    try:
        for _, (prefix, uri) in ElementTree.iterparse(io.BytesIO(packet), events=("start-ns",)):
            if prefix and uri not in NAMESPACES.values() and not prefix.startswith("ns"):
                with contextlib.suppress(ValueError):
                    ElementTree.register_namespace(prefix, uri)
        root = ElementTree.fromstring(packet)
    except ElementTree.ParseError as exc:
        raise XmpError(f"its XMP packet is not well-formed XML ({exc})") from None
    if root.tag == _q("rdf", "RDF"):
        meta = ElementTree.Element(_q("x", "xmpmeta"))
        meta.append(root)
        return meta
    if root.find(_q("rdf", "RDF")) is None:
        raise XmpError("its XMP packet has no rdf:RDF element")
    return root


def read(meta: ElementTree.Element) -> dict[str, list[str]]:
    """The engine's properties as exiftool would name them: {"XMP-dc:Subject": [...], ...}."""
    tags: dict[str, list[str]] = {}
    for description in meta.iter(_q("rdf", "Description")):
        for tag, (prefix, name, container) in PROPERTIES.items():
            attribute = description.get(_q(prefix, name))
            if attribute is not None:
                tags.setdefault(tag, []).append(attribute)
            for element in description.findall(_q(prefix, name)):
                items = element.findall(f".//{_q('rdf', 'li')}")
                if container == "Alt":
                    items.sort(key=lambda li: li.get(XML_LANG) != "x-default")
                    items = items[:1]
                if items:
                    values = [li.text or "" for li in items]
                else:
                    values = [element.text.strip()] if element.text and element.text.strip() else []
                tags.setdefault(tag, []).extend(values)
    return tags


def write(meta: ElementTree.Element, writes: dict[str, list[str]]) -> None:
    """Replace each written property everywhere it occurs; [] deletes it."""
    rdf = meta.find(_q("rdf", "RDF"))
    assert rdf is not None
    descriptions = rdf.findall(_q("rdf", "Description"))
    if not descriptions:
        descriptions = [ElementTree.SubElement(rdf, _q("rdf", "Description"), {_q("rdf", "about"): ""})]
    for tag, values in writes.items():
        prefix, name, container = PROPERTIES[tag]
        for description in descriptions:
            description.attrib.pop(_q(prefix, name), None)
            for element in description.findall(_q(prefix, name)):
                description.remove(element)
        if not values:
            continue
        element = ElementTree.SubElement(descriptions[0], _q(prefix, name))
        if container is None:
            element.text = values[0]
            continue
        holder = ElementTree.SubElement(element, _q("rdf", container))
        for value in values[:1] if container == "Alt" else values:
            li = ElementTree.SubElement(holder, _q("rdf", "li"))
            li.text = value
            if container == "Alt":
                li.set(XML_LANG, "x-default")


def serialize(meta: ElementTree.Element) -> bytes:
    body = ElementTree.tostring(meta, encoding="unicode")
    return f'<?xpacket begin="\ufeff" id="{PACKET_ID}"?>\n{body}\n{PADDING}<?xpacket end="w"?>'.encode()
