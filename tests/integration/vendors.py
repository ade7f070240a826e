"""A local stand-in for Chainalysis, Marble and Ballerine speaking their documented shapes,
behind ``httpx.MockTransport``; each vendor can be switched down (503) or slow."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any
from urllib.parse import unquote

import httpx

CHAINALYSIS = "http://chainalysis.test"
KYT = "http://kyt.test"
MARBLE = "http://marble.test"
BALLERINE = "http://ballerine.test"


class Vendors:
    def __init__(self) -> None:
        self.sanctioned: dict[str, str] = {}
        self.kyt_processed = False
        self.kyt_alerts: list[dict[str, Any]] = []
        self.marble_outcome = "approve"
        self.marble_score = 0
        self.end_users: dict[str, str] = {}
        self.down: set[str] = set()
        self.slow: set[str] = set()
        self.calls: dict[str, int] = defaultdict(int)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        host = f"{request.url.scheme}://{request.url.host}"
        vendor = {CHAINALYSIS: "chainalysis", KYT: "kyt", MARBLE: "marble", BALLERINE: "ballerine"}[host]
        self.calls[vendor] += 1
        if vendor in self.slow:
            await asyncio.sleep(5)
        if vendor in self.down:
            return httpx.Response(503, json={"message": "Service Unavailable"})
        path = unquote(request.url.path)
        if vendor == "chainalysis" and request.headers.get("X-API-Key") and path.startswith("/api/v1/address/"):
            address = path.rsplit("/", 1)[1]
            listed = self.sanctioned.get(address)
            identifications = (
                [{"category": "sanctions", "name": listed, "description": "", "url": ""}] if listed else []
            )
            return httpx.Response(200, json={"identifications": identifications})
        if vendor == "kyt" and request.headers.get("Token"):
            if request.method == "POST" and path.endswith("/withdrawal-attempts"):
                body = json.loads(request.content)
                return httpx.Response(
                    202, json={**body, "updatedAt": None, "externalId": f"ext-{body['attemptIdentifier']}"}
                )
            if path.endswith("/alerts"):
                return httpx.Response(200, json={"alerts": self.kyt_alerts})
            if path.startswith("/api/kyt/v2/withdrawal-attempts/"):
                return httpx.Response(200, json={"updatedAt": "2026-03-02T10:00:00Z" if self.kyt_processed else None})
        if vendor == "marble" and request.method == "POST" and path == "/v1/decisions":
            body = json.loads(request.content)
            if not (body["trigger_object"].get("object_id") and body["trigger_object"].get("updated_at")):
                return httpx.Response(400, json={"code": "invalid_payload"})
            return httpx.Response(
                200,
                json={
                    "id": f"dec-{self.calls['marble']}",
                    "outcome": self.marble_outcome,
                    "score": self.marble_score,
                    "scenario": {"id": body["scenario_id"], "name": "transfers", "version": 1},
                },
            )
        if vendor == "ballerine" and path.startswith("/api/v1/external/end-users/"):
            end_user = path.rsplit("/", 1)[1]
            if end_user not in self.end_users:
                return httpx.Response(404, json={"message": "not found"})
            return httpx.Response(200, json={"id": end_user, "approvalState": self.end_users[end_user]})
        return httpx.Response(401, json={"message": "unauthorized"})
