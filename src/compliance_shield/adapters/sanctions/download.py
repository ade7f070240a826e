"""Downloading list files from their publishers (an injected ``httpx.AsyncClient``).

``OFFICIAL_SOURCES`` names where each well-known source is published. A ``ListSource`` may
point elsewhere (a mirror, or a local server in tests); a source with several files (the OFAC
CSV set) lists one URL per file, and each file is named by the last segment of its URL path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from compliance_shield.errors import ServiceUnavailable, ValidationFailed

#: the largest list file accepted (SDN.XML is ~30 MB today)
MAX_BYTES = 256 * 1024 * 1024

Progress = Callable[[str, int, int | None], None]
"""Called with (file name, bytes received so far, total bytes when the server says)."""


@dataclass(frozen=True, slots=True)
class ListSource:
    name: str
    format: str
    urls: tuple[str, ...]


OFFICIAL_SOURCES: dict[str, ListSource] = {
    "ofac-sdn": ListSource(
        "ofac-sdn",
        "ofac-xml",
        ("https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/SDN.XML",),
    ),
    "un": ListSource("un", "un-xml", ("https://scsanctions.un.org/resources/xml/en/consolidated.xml",)),
}


def file_name(url: str) -> str:
    path = urlsplit(url).path.rstrip("/")
    name = path.rsplit("/", 1)[-1]
    if not name:
        raise ValidationFailed(f"the URL {url} names no file", field="url")
    return name.lower() if name.lower().endswith(".csv") else name


async def fetch(client: httpx.AsyncClient, url: str, progress: Progress | None = None) -> tuple[str, bytes]:
    """Download one file (following redirects); raise ``ServiceUnavailable`` when it cannot be had."""
    name = file_name(url)
    chunks: list[bytes] = []
    received = 0
    try:
        async with client.stream("GET", url, follow_redirects=True) as response:
            if response.status_code != 200:
                raise ServiceUnavailable(f"{url} answered HTTP {response.status_code}")
            length = response.headers.get("content-length")
            total = int(length) if length and length.isdigit() else None
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > MAX_BYTES:
                    raise ServiceUnavailable(f"{url} is larger than {MAX_BYTES} bytes")
                chunks.append(chunk)
                if progress is not None:
                    progress(name, received, total)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(f"could not download {url}: {exc!r}") from exc
    return name, b"".join(chunks)
