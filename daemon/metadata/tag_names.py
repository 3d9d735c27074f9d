"""The exiftool tag names the metadata stage reads and writes: the keyword, caption and place fields other programs
use, the engine's own XMP-imageengine record of what it wrote, and the IPTC limits.
"""

from __future__ import annotations

from daemon.metadata import people as people_fields

FILE_TYPE = "File:FileType"
SUBJECT = "XMP-dc:Subject"
IPTC_KEYWORDS = "IPTC:Keywords"
HIERARCHY = "XMP-lr:HierarchicalSubject"
TAGS_LIST = "XMP-digiKam:TagsList"
LAST_KEYWORD = "XMP-microsoft:LastKeywordXMP"
XP_KEYWORDS = "IFD0:XPKeywords"
DESCRIPTION = "XMP-dc:Description"
IPTC_CAPTION = "IPTC:Caption-Abstract"
EXIF_DESCRIPTION = "IFD0:ImageDescription"
IPTC_CHARSET = "IPTC:CodedCharacterSet"
ENGINE_KEYWORDS = "XMP-imageengine:ImageEngineKeywords"
ENGINE_HIERARCHY = "XMP-imageengine:ImageEngineHierarchy"
ENGINE_CATEGORY = "XMP-imageengine:ImageEngineCategory"
ENGINE_CAPTION = "XMP-imageengine:ImageEngineCaption"
ENGINE_MODEL = "XMP-imageengine:ImageEngineModel"
ENGINE_VERSION = "XMP-imageengine:ImageEngineVersion"
# The place from GPS ([places] write): written only where the file has no value of its own.
PLACE_TAGS = {
    "XMP-photoshop:City": "city",
    "XMP-photoshop:State": "region",
    "XMP-photoshop:Country": "country",
    "XMP-iptcCore:CountryCode": "country_code",
    "XMP-iptcCore:Location": "city",
}
ENGINE_TEXT = "XMP-imageengine:ImageEngineText"

# What is read before planning (-a: every copy, e.g. two XMP blocks, is seen). Named tags cost exiftool less
# than whole groups; all of IPTC is read to tell Latin-1 text from UTF-8 (see _latin1_iptc).
ENGINE_TAGS = (
    ENGINE_KEYWORDS,
    ENGINE_HIERARCHY,
    ENGINE_CATEGORY,
    ENGINE_CAPTION,
    ENGINE_MODEL,
    ENGINE_VERSION,
    ENGINE_TEXT,
)
READ_TAGS = (
    FILE_TYPE,
    SUBJECT,
    DESCRIPTION,
    HIERARCHY,
    TAGS_LIST,
    LAST_KEYWORD,
    *ENGINE_TAGS,
    "IPTC:all",
    XP_KEYWORDS,
    EXIF_DESCRIPTION,
    *PLACE_TAGS,
    *people_fields.READ_TAGS,
)
IPTC_KEYWORD_BYTES = 64  # IPTC IIM limits: longer values are truncated by exiftool, so they go to XMP only
IPTC_CAPTION_BYTES = 2000
