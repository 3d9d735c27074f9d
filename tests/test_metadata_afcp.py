"""A user's keywords in a second IPTC block (an AFCP trailer, exiftool's `IPTC2`) survive the engine's write.

The file is a corpus JPEG with an AFCP trailer built here (exiftool edits AFCP but does not create it).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.metadata_support import copy, exif, item, make_stage, sha, tag_result

USERS = ["grandma's farm", "tractor"]


def with_afcp_keywords(photo: Path, keywords: list[str]) -> Path:
    """Append an AFCP trailer (big-endian "AXS!") holding one IPTC record with `keywords`."""
    iptc = b"\x1c\x02\x00\x00\x02\x00\x04"  # ApplicationRecordVersion 4
    for keyword in keywords:
        data = keyword.encode()
        iptc += b"\x1c\x02\x19" + struct.pack(">H", len(data)) + data
    body = photo.read_bytes()
    start = len(body)
    header = b"AXS!" + struct.pack(">HH", 1, 1) + bytes(4)  # version 1, one directory entry
    entry = b"IPTC" + struct.pack(">II", len(iptc), start + 24)
    photo.write_bytes(body + header + entry + iptc + b"AXS!" + struct.pack(">I", start) + bytes(4))
    return photo


@pytest.fixture
def stage(tmp_path: Path):
    made = make_stage(tmp_path)
    yield made
    made.close()


def test_a_keyword_only_in_an_afcp_iptc_block_is_kept(tmp_path: Path, stage) -> None:
    photo = with_afcp_keywords(copy("labelled/felix_316.jpg", tmp_path), USERS)
    assert exif(photo, "Keywords") == {"IPTC2:Keywords": USERS}, "exiftool reads the AFCP keywords"

    outcome = stage.run_batch([item(photo, tag_result("cat"))])[0]
    assert not isinstance(outcome, BaseException), outcome
    after = exif(photo, "Keywords", "XMP-dc:Subject")
    assert after["IPTC2:Keywords"] == [*USERS, "cat"], after
    assert after["IPTC:Keywords"] == [*USERS, "cat"] and after["XMP-dc:Subject"] == [*USERS, "cat"], after
    assert outcome["engine_keywords"] == ["cat"], "the user's keywords are not claimed as the engine's"

    written = sha(photo)
    again = stage.run_batch([item(photo, tag_result("cat"))])[0]
    assert not isinstance(again, BaseException), again
    assert sha(photo) == written, "a second run with the same tags writes nothing"
