"""Sanctions lists as versioned data: imports of the real files (excerpts: ``tests/fixtures/sanctions``),
one transaction per version, address screening from memory on the check path, the ``lists``
commands and ``lists update`` against a local HTTP server serving the published files."""

from __future__ import annotations

import asyncio
import functools
import http.server
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from support import Headers, hold, make_party, make_token, policy_document, publish_document, transfer, unique
from typer.testing import CliRunner

from compliance_shield.bootstrap import Container
from compliance_shield.cli import app as cli
from compliance_shield.domain.screening import EntityKind, ListAddress, ListEntity, ParsedList
from compliance_shield.errors import ListInvalid

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "sanctions"
TORNADO = "0x8589427373D6D84E98730D7795D8f6f8731FDA16"  # OFAC SDN, ETH (ofac-crypto files)
ANDREYEV_ETH = "0x8576aCC5C05D6Ce88f4e49bf65BdF0C62F91353C"  # in the SDN remarks of entry 29703
runner = CliRunner()


def files(folder: str, suffix: str | None = None) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (DATA / folder).iterdir() if suffix is None or p.suffix == suffix}


async def _active(conn: asyncpg.Connection | Any, source: str) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM sanctions_list_versions WHERE source = $1 AND status = 'active'", source)
    assert row is not None, f"no active version of {source}"
    return row


async def test_ofac_csv_set_imports_as_one_version_with_counts(container: Container) -> None:
    result = await container.lists.import_files(
        "ofac-sdn", files("ofac-sdn"), actor="test", published_on=date(2021, 7, 15), origin="test fixtures"
    )
    assert result.status in ("imported", "unchanged")  # another test may have imported it already
    assert (result.entity_count, result.name_count, result.address_count) == (11, 32, 56)
    async with container.pool.acquire() as conn:
        version = await _active(conn, "ofac-sdn")
        assert version["label"] == result.label
        assert version["label"].startswith("ofac-sdn:2021-07-15:")
        assert version["content_hash"].startswith("sha256:")
        assert await conn.fetchval(
            "SELECT count(*) FROM sanctions_list_entities WHERE version_id = $1", version["id"]
        ) == 11  # fmt: skip
        stored = await conn.fetchrow(
            "SELECT name, kind, aliases, nationalities FROM sanctions_list_entities WHERE version_id = $1 AND uid = $2",
            version["id"],
            "306",
        )
        assert (stored["name"], stored["kind"]) == ("BANCO NACIONAL DE CUBA", "entity")
        assert "NATIONAL BANK OF CUBA" in stored["aliases"]
        assert await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'sanctions.list_imported' AND payload->>'label' = $1",
            version["label"],
        ) == 1  # fmt: skip
    # the same content again is not a new version
    again = await container.lists.import_files("ofac-sdn", files("ofac-sdn"), actor="test")
    assert (again.status, again.label) == ("unchanged", result.label)
    # the address from the remarks (cut across sdn_comments.csv) is screened from memory
    hits = container.snapshot.sanctions[ANDREYEV_ETH.lower()]
    assert any(h.list_version == result.label and h.entity == "ANDREYEV, Anton Nikolaeyvich" for h in hits)


async def test_a_malformed_file_leaves_no_version_behind(container: Container) -> None:
    source = unique("bad").lower()
    with pytest.raises(ListInvalid) as caught:
        await container.lists.import_files(
            source, {"list.csv": b"name,addresses\nGood Name,0x" + b"ab" * 20 + b"\nBad Name,0x12 34\n"}, actor="test"
        )
    assert caught.value.errors[0]["field"] == "list.csv:3"
    # a failure inside the import transaction (here the database refuses a mixed-case EVM key)
    # rolls the whole version back: version row, entities and addresses
    parsed = ParsedList(
        source=source,
        format="operator",
        entities=(ListEntity(uid="1", kind=EntityKind.ENTITY, name="Acme Mixer"),),
        addresses=(ListAddress(address="0x" + "AB" * 20, asset="ETH", entity_uid="1"),),
    )
    with pytest.raises(asyncpg.CheckViolationError):
        await container.lists._store(parsed, "sha256:" + "0" * 64, None, "test")
    async with container.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM sanctions_list_versions WHERE source = $1", source) == 0
        assert await conn.fetchval(
            """SELECT count(*) FROM sanctions_list_entities e
               LEFT JOIN sanctions_list_versions v ON v.id = e.version_id WHERE v.id IS NULL"""
        ) == 0  # fmt: skip


async def test_a_new_version_supersedes_the_active_one(container: Container) -> None:
    source = unique("internal").lower()
    first = await container.lists.import_files(
        source, {"l.csv": b"name,addresses\nAcme Mixer,0x" + b"cd" * 20 + b"\n"}, actor="test"
    )
    second = await container.lists.import_files(source, {"l.csv": b"name,addresses\nOther Co,\n"}, actor="test")
    assert (first.status, second.status, second.previous) == ("imported", "imported", first.label)
    versions = await container.lists.versions(source)
    assert [(v["label"], v["status"]) for v in versions] == [(second.label, "active"), (first.label, "superseded")]
    # the superseded version's address is no longer screened (other lists may carry it too)
    hits = container.snapshot.sanctions.get("0x" + "cd" * 20, ())
    assert first.label not in {hit.list_version for hit in hits}


async def test_a_transfer_to_an_ofac_listed_eth_address_is_rejected_naming_the_list_version(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, container: Container
) -> None:
    result = await container.lists.import_files("ofac-crypto", files("ofac-crypto", ".txt"), actor="test")
    label = result.label
    policy = await publish_document(
        client, admin, policy_document([{"rule": "sanctioned_address"}, {"rule": "sufficient_balance"}])
    )
    token = await make_token(client, admin, policy)
    seller, seller_address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 100)

    rejected = await client.post(
        "/v1/compliance/transfer-check", json=transfer(token["id"], seller_address, TORNADO, 5), headers=checker
    )
    body = rejected.json()
    assert body["status"] == "REJECTED", body
    assert [r["code"] for r in body["reasons"]] == ["SANCTIONED_ADDRESS"]
    assert body["restriction_code"] == 9
    trace = next(r for r in body["rules"] if r["rule"] == "sanctioned_address")
    assert trace["details"]["hits"][0]["list_version"] == label
    assert label in trace["message"]

    # a transfer without a hit still records every list version it was screened against
    _, buyer = await make_party(client, admin)
    approved = await client.post(
        "/v1/compliance/transfer-check", json=transfer(token["id"], seller_address, buyer, 5), headers=checker
    )
    assert approved.json()["status"] == "APPROVED", approved.json()
    async with container.pool.acquire() as conn:
        facts = await conn.fetchval(
            "SELECT facts FROM transfer_compliance_checks WHERE id = $1::uuid", approved.json()["id"]
        )
    assert label in facts["sanctions"]["list_versions"]

    screened = await client.get(f"/v1/screening/addresses/{TORNADO.upper().replace('0X', '0x')}", headers=admin)
    assert screened.status_code == 200, screened.text
    assert screened.json()["sanctioned"] is True
    assert {(h["source"], h["list_version"], h["asset"]) for h in screened.json()["hits"]} >= {
        ("ofac-crypto", label, "ETH")
    }
    tron = await client.get("/v1/screening/addresses/TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre", headers=admin)
    assert tron.json()["sanctioned"] is True
    wrong_case = await client.get("/v1/screening/addresses/tbhtjqay4dhhmt3dncejynrz4sdlofLre", headers=admin)
    assert wrong_case.json()["sanctioned"] is False  # base58 is case-sensitive
    assert (await client.get(f"/v1/screening/addresses/{TORNADO}", headers=checker)).status_code == 403


# -- the command line -------------------------------------------------------------------------


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)


async def _invoke(*args: str) -> Any:
    """Run the CLI in a thread: its commands start their own event loop."""
    return await asyncio.to_thread(runner.invoke, cli, list(args))


async def test_lists_import_and_versions_commands(cli_env: None) -> None:
    imported = await _invoke("lists", "import", str(DATA / "un" / "UN_consolidated.xml"), "--source", "un")
    assert imported.exit_code == 0, imported.output
    assert "un:2026-02-27:" in imported.output
    listed = await _invoke("lists", "versions", "--source", "un")
    assert listed.exit_code == 0, listed.output
    assert "active" in listed.output
    bad = await _invoke(
        "lists", "import", str(DATA / "ofac-sdn" / "add.csv"), "--source", "ofac-sdn", "--format", "ofac-csv"
    )
    assert bad.exit_code == 1
    assert "LIST_INVALID" in bad.output
    assert "missing from the OFAC CSV set" in bad.output


@pytest.fixture
def publisher() -> Iterator[str]:
    """A local HTTP server publishing the fixture list files (the stand-in for the publishers)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(DATA))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_lists_update_downloads_and_imports(cli_env: None, publisher: str, container: Container) -> None:
    csv_urls = [
        f"--url=ofac-sdn={publisher}/ofac-sdn/{name}" for name in ("sdn.csv", "add.csv", "alt.csv", "sdn_comments.csv")
    ]
    updated = await _invoke("lists", "update", f"--url=un={publisher}/un/UN_consolidated.xml", *csv_urls)
    assert updated.exit_code == 0, updated.output
    assert "un:2026-02-27:" in updated.output
    assert "ofac-sdn:" in updated.output
    async with container.pool.acquire() as conn:
        version = await _active(conn, "ofac-sdn")
        assert version["entity_count"] == 11
    missing = await _invoke("lists", "update", f"--url=un={publisher}/un/missing.xml")
    assert missing.exit_code == 1
    assert "SERVICE_UNAVAILABLE" in missing.output
    unknown = await _invoke("lists", "update", "--source", "nowhere")
    assert unknown.exit_code != 0


async def test_parties_not_yet_re_screened_are_screened_for_the_check(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, container: Container, database_url: str
) -> None:
    """After a list of names is imported, a party the re-screening sweep has not reached yet is
    screened by the check itself (not stored); a list of addresses only needs no name screening."""
    policy = await publish_document(
        client, admin, policy_document([{"rule": "sanctioned_party"}, {"rule": "sufficient_balance"}])
    )
    token = await make_token(client, admin, policy)
    seller, seller_address = await make_party(client, admin)
    buyer, buyer_address = await make_party(client, admin)
    listed_name = unique("Meridian Tumbler Holdings")
    listed, listed_address = await make_party(client, admin, name=listed_name, type="entity")
    await hold(client, admin, token["id"], seller["id"], 100)

    async def check(to: str) -> dict[str, Any]:
        body = transfer(token["id"], seller_address, to, 1)
        return dict((await client.post("/v1/compliance/transfer-check", json=body, headers=checker)).json())

    assert (await check(listed_address))["status"] == "APPROVED"  # not listed yet
    # the parties' rows stay locked, so no re-screening sweep can reach them (it skips locked rows)
    parties = [seller["id"], buyer["id"], listed["id"]]
    blocker = await asyncpg.connect(database_url)
    try:
        async with blocker.transaction():
            await blocker.execute("SELECT 1 FROM investors WHERE id = ANY($1::uuid[]) FOR UPDATE", parties)
            addresses_only = await container.lists.import_files(
                unique("crypto").lower(), files("ofac-crypto", ".txt"), actor="test", list_format="ofac-crypto"
            )
            # (the import applies the new versions to this process's snapshot before it returns)
            assert addresses_only.label in container.snapshot.list_versions
            assert addresses_only.label not in container.snapshot.name_list_versions
            names = await container.lists.import_files(
                unique("names").lower(), {"l.csv": f"name,addresses\n{listed_name},\n".encode()}, actor="test"
            )
            assert names.label in container.snapshot.name_list_versions

            cleared = await check(buyer_address)
            assert cleared["status"] == "APPROVED", cleared
            refused = await check(listed_address)
            assert refused["status"] == "REJECTED", refused
            assert [r["code"] for r in refused["reasons"]] == ["SANCTIONED_PARTY"]
            async with container.pool.acquire() as conn:
                facts = await conn.fetchval(
                    "SELECT facts FROM transfer_compliance_checks WHERE id = $1::uuid", refused["id"]
                )
                stored = await conn.fetchval(
                    "SELECT screening_list_versions FROM investors WHERE id = $1::uuid", listed["id"]
                )
            # the decision records the screening it used; the investor's stored one awaits the sweep
            assert names.label in facts["receiver"]["investor"]["screening"]["list_versions"]
            assert names.label not in stored
    finally:
        await blocker.close()
