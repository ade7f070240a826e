"""Token ownership among the server processes of one ``serve``, and forwarding between them.

Each process listens on a Unix socket ``writer-<id>.sock`` in a directory private to that
``serve`` (``WRITER_PEERS_DIR``); the sockets present are the members. A token belongs to one
member, chosen by rendezvous hashing (highest ``blake2b(member, token)``), so every process
agrees without coordination and a member joining or leaving moves only its share of the tokens.

Ownership is a performance device, never a correctness one: every writer still locks the
tokens' state rows. When two processes write the same tokens their transactions wait for each
other's locks and each catches its ledgers up from the other's change log; when each token has
one writer, neither happens.

Frames: a request is ``>I`` length + JSON (``id`` and the caller's fields); an answer is ``>I``
length, then ``>I`` id, ``>H`` status, ``>H`` header-JSON length, the headers, and the answer's
body bytes, passed through unparsed. Requests are multiplexed on one connection per peer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import os
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import structlog

from compliance_shield.domain import encoding

log = structlog.get_logger(__name__)

#: what the owner does with a forwarded request: (status, headers, body bytes); must not raise
Handler = Callable[[dict[str, Any]], Awaitable[tuple[int, dict[str, str], bytes]]]

_LENGTH = struct.Struct(">I")
_ANSWER = struct.Struct(">IHH")
_PREFIX = "writer-"
_SUFFIX = ".sock"
#: sun_path holds 108 bytes on Linux (104 on macOS), the terminating NUL included
_MAX_SOCKET_PATH = 103


class PeerUnreachable(Exception):
    """The owner could not be reached; nothing was sent (the caller may decide locally)."""


class PeerLost(Exception):
    """The connection to the owner broke after the request was sent: whether it was decided is
    unknown (the caller must not decide it again; a retry with the same key finds the answer)."""


class _Link:
    """One connection to a peer; requests are told apart by id."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count()
        self._waiting: dict[int, asyncio.Future[tuple[int, dict[str, str], bytes]]] = {}
        self.closed = False
        self._task = asyncio.create_task(self._read(), name="peer-link")

    async def call(self, fields: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        if self.closed:
            raise PeerUnreachable("the connection to the owner is closed")
        ident = next(self._ids)
        answer = asyncio.get_running_loop().create_future()
        self._waiting[ident] = answer
        frame = encoding.dumps({**fields, "id": ident})
        try:
            self._writer.write(_LENGTH.pack(len(frame)) + frame)
            await self._writer.drain()
            result: tuple[int, dict[str, str], bytes] = await answer
            return result
        except (ConnectionError, OSError) as exc:
            raise PeerLost(f"the connection to the owner broke: {exc!r}") from exc
        finally:
            self._waiting.pop(ident, None)

    async def _read(self) -> None:
        try:
            while True:
                (length,) = _LENGTH.unpack(await self._reader.readexactly(_LENGTH.size))
                frame = await self._reader.readexactly(length)
                ident, status, header_length = _ANSWER.unpack_from(frame)
                start = _ANSWER.size
                headers = encoding.loads(frame[start : start + header_length])
                waiting = self._waiting.get(ident)
                if waiting is not None and not waiting.done():
                    waiting.set_result((status, headers, frame[start + header_length :]))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self.closed = True
            for waiting in self._waiting.values():
                if not waiting.done():
                    waiting.set_exception(PeerLost("the owner closed the connection"))

    async def close(self) -> None:
        self.closed = True
        self._writer.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
            await self._task
            await self._writer.wait_closed()


class Peers:
    """This process as a member, the others it knows of, and the links to them."""

    def __init__(
        self, directory: Path, handler: Handler, *, refresh_seconds: float = 1.0, member_id: str | None = None
    ) -> None:
        #: this member's name (new for each process unless given)
        self.id = member_id or uuid4().hex[:16]
        self._directory = directory
        self._path = directory / f"{_PREFIX}{self.id}{_SUFFIX}"
        self._handler = handler
        self._refresh_seconds = refresh_seconds
        self._members: tuple[str, ...] = (self.id,)
        self._owners: dict[UUID, str] = {}
        self._links: dict[str, _Link] = {}
        self._connecting: dict[str, asyncio.Lock] = {}
        self._server: asyncio.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._answering: set[asyncio.Task[None]] = set()
        self._connections: set[asyncio.StreamWriter] = set()

    @property
    def members(self) -> tuple[str, ...]:
        return self._members

    @property
    def directory(self) -> Path:
        return self._directory

    async def start(self) -> None:
        if len(os.fsencode(self._path)) > _MAX_SOCKET_PATH:
            raise ValueError(f"WRITER_PEERS_DIR is too long for a Unix socket path: {self._directory}")
        self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._server = await asyncio.start_unix_server(self._serve, path=str(self._path))
        os.chmod(self._path, 0o600)  # the same user only: forwarded requests are already authenticated
        self.refresh()
        self._task = asyncio.create_task(self._refresh_loop(), name="peers-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._server is not None:
            self._server.close()
            self._path.unlink(missing_ok=True)
            self._server = None
        # callers waiting on this process learn at once that their answers will not come
        for task in list(self._answering):
            task.cancel()
        for connection in list(self._connections):
            connection.close()
        for link in list(self._links.values()):
            await link.close()
        self._links.clear()
        self._members = (self.id,)
        self._owners.clear()

    def refresh(self) -> None:
        """Re-read the members from the sockets present (this process always counts)."""
        found = {p.name[len(_PREFIX) : -len(_SUFFIX)] for p in self._directory.glob(f"{_PREFIX}*{_SUFFIX}")}
        members = tuple(sorted(found | {self.id}))
        if members != self._members:
            log.info("peers.members", members=len(members))
            self._members = members
            self._owners.clear()

    def owner(self, token_id: UUID) -> str:
        """The member that writes ``token_id`` (rendezvous hashing over the members)."""
        owner = self._owners.get(token_id)
        if owner is None:
            token = token_id.bytes
            owner = max(self._members, key=lambda m: hashlib.blake2b(token, digest_size=8, key=m.encode()).digest())
            self._owners[token_id] = owner
        return owner

    async def forward(self, member: str, fields: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        """Send ``fields`` to ``member``'s handler; its (status, headers, body)."""
        link = self._links.get(member)
        if link is None or link.closed:
            async with self._connecting.setdefault(member, asyncio.Lock()):  # one connection per peer
                link = self._links.get(member)
                if link is None or link.closed:
                    link = await self._connect(member)
        return await link.call(fields)

    async def _connect(self, member: str) -> _Link:
        path = self._directory / f"{_PREFIX}{member}{_SUFFIX}"
        try:
            reader, writer = await asyncio.open_unix_connection(str(path))
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            # nobody listens there: a process that ended without removing its socket
            with contextlib.suppress(OSError):
                if isinstance(exc, ConnectionRefusedError):
                    path.unlink()
            self.refresh()
            raise PeerUnreachable(f"peer {member} is not listening") from exc
        except OSError as exc:
            raise PeerUnreachable(f"peer {member}: {exc!r}") from exc
        link = _Link(reader, writer)
        self._links[member] = link
        return link

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                self.refresh()
            except OSError as exc:  # the directory went away: keep the last known members
                log.warning("peers.refresh_failed", error=repr(exc))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while True:
                (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
                fields = encoding.loads(await reader.readexactly(length))
                task = asyncio.create_task(self._answer(fields, writer))
                self._answering.add(task)
                task.add_done_callback(self._answering.discard)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._connections.discard(writer)
            writer.close()

    async def _answer(self, fields: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        try:
            status, headers, body = await self._handler(fields)
        except Exception as exc:  # the handler renders its errors; never leave a caller waiting
            log.exception("peers.handler_failed", error=repr(exc))
            status, headers = 500, {}
            body = encoding.dumps({"error": {"code": "INTERNAL_ERROR", "message": "internal error", "details": None}})
        header_bytes = encoding.dumps(headers)
        frame = _ANSWER.pack(fields["id"], status, len(header_bytes)) + header_bytes + body
        with contextlib.suppress(ConnectionError, OSError):
            writer.write(_LENGTH.pack(len(frame)) + frame)
            await writer.drain()
