"""Policies through the API: drafts, immutable versions, templates, and invalid documents."""

from __future__ import annotations

import httpx
import pytest
from support import Headers, policy_document

pytestmark = pytest.mark.integration


async def test_an_invalid_document_is_refused_with_the_path_of_each_error(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    document = policy_document([{"rule": "max_holders", "params": {"max_holders": 0}}, {"rule": "no_such_rule"}])
    response = await client.post("/v1/policies", json={"document": document}, headers=admin)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "POLICY_INVALID"
    fields = {d["field"] for d in error["details"]}
    assert {"rules[0].params.max_holders", "rules[1].rule"} <= fields
    yaml_text = await client.post("/v1/policies", json={"document": "name: [unclosed"}, headers=admin)
    assert yaml_text.status_code == 422
    unknown = await client.post("/v1/policies", json={"template": "no-such-template"}, headers=admin)
    assert unknown.status_code == 404


async def test_publishing_freezes_a_version_identified_by_its_hash(client: httpx.AsyncClient, admin: Headers) -> None:
    document = policy_document([{"rule": "wallet_bound"}])
    draft = (await client.post("/v1/policies", json={"document": document}, headers=admin)).json()
    first = (await client.post(f"/v1/policies/{draft['id']}/publish", headers=admin)).json()
    assert first["current_version"] == 1
    again = (await client.post(f"/v1/policies/{draft['id']}/publish", headers=admin)).json()
    assert again["current_version"] == 1  # the same content is the same version
    changed = document | {"escalation_threshold": 50}
    await client.post("/v1/policies", json={"document": changed}, headers=admin)
    second = (await client.post(f"/v1/policies/{draft['id']}/publish", headers=admin)).json()
    assert second["current_version"] == 2
    hashes = [v["content_hash"] for v in second["versions"]]
    assert len(set(hashes)) == 2
    assert all(h.startswith("sha256:") for h in hashes)
    templates = (await client.get("/v1/policies/templates", headers=admin)).json()
    assert {t["name"] for t in templates} >= {
        "india-private-placement",
        "india-aif",
        "india-sm-reit",
        "india-listed-equity",
    }
