"""The delete tools' confirmation (DESIGN §10) with the official Python SDK,
which declares form elicitation whenever a callback is given: a yes/no form
naming what goes, on 2025-11-25 (elicitation/create) and 2026-07-28
(InputRequiredResult, retried by the high-level Client). Declined → 403 and
nothing deleted; accepted → deleted.
"""

import json

import mcp.types as types
import pytest
from mcp import Client, ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from test_sdk import BIN, MARKER, http_client, http_server, structured, text_of, vault_env  # noqa: F401


@pytest.fixture
def anyio_backend():
    return "asyncio"


class Person:
    """Answers the confirmation form with `confirm` (or declines)."""

    def __init__(self, answer):
        self.answer = answer
        self.asked = []

    async def __call__(self, context, params):
        self.asked.append(params)
        assert params.mode == "form", params
        assert params.requested_schema["properties"]["confirm"]["type"] == "boolean"
        if self.answer == "decline":
            return types.ElicitResult(action="decline")
        return types.ElicitResult(action="accept", content={"confirm": self.answer})


async def setup(session):
    for name in ("keep", "drop"):
        structured(await session.call_tool("store_credential", {
            "service_id": "openai", "credential_type": "bearer", "name": name,
            "credential_value": f"sk-{name}-{MARKER}"}))
    structured(await session.call_tool("create_secret", {
        "name": "PY_DELETE_ME", "provider": "openai", "value": f"sk-secret-{MARKER}-0123"}))


async def names(session):
    listed = structured(await session.call_tool("list_credentials", {"service_id": "openai"}))
    return sorted(c["name"] for c in listed["credentials"])


@pytest.mark.anyio
@pytest.mark.parametrize("answer", [False, "decline"])
async def test_declined_delete_over_stdio_2025(vault_env, answer):
    person = Person(answer)
    params = StdioServerParameters(command=BIN, args=["serve"], env=vault_env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, elicitation_callback=person) as session:
            assert (await session.initialize()).protocol_version == "2025-11-25"
            await setup(session)
            refused = await session.call_tool("delete_credential", {"service_id": "openai", "name": "drop"})
            assert refused.is_error and json.loads(text_of(refused))["code"] == 403
            assert "openai/drop" in person.asked[0].message
            assert await names(session) == ["drop", "keep"]
            refused = await session.call_tool("delete_secret", {"name": "PY_DELETE_ME"})
            assert refused.is_error and json.loads(text_of(refused))["code"] == 403
            listed = structured(await session.call_tool("list_secrets", {}))
            assert [s["name"] for s in listed["secrets"]] == ["PY_DELETE_ME"]


@pytest.mark.anyio
async def test_confirmed_delete_over_stdio_2025(vault_env):
    person = Person(True)
    params = StdioServerParameters(command=BIN, args=["serve"], env=vault_env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, elicitation_callback=person) as session:
            await session.initialize()
            await setup(session)
            done = structured(await session.call_tool("delete_credential", {"service_id": "openai", "name": "drop"}))
            assert (done["deleted"], done["service"], done["name"]) == (True, "openai", "drop")
            assert await names(session) == ["keep"]
            done = structured(await session.call_tool("delete_secret", {"name": "PY_DELETE_ME"}))
            assert done["deleted"] and done["name"] == "PY_DELETE_ME"
            assert len(person.asked) == 2
            missing = await session.call_tool("delete_credential", {"service_id": "openai", "name": "drop"})
            assert json.loads(text_of(missing))["code"] == 404
            assert len(person.asked) == 2, "nothing to confirm for a credential that is not there"


@pytest.mark.anyio
async def test_confirmation_over_http_2026(http_server):
    base, token = http_server
    async with http_client(token) as http:
        no = Person(False)
        async with Client(streamable_http_client(f"{base}/mcp", http_client=http), elicitation_callback=no) as client:
            assert client.protocol_version == "2026-07-28"
            await setup(client.session)
            refused = await client.call_tool("delete_credential", {"service_id": "openai", "name": "drop"})
            assert refused.is_error and json.loads(text_of(refused))["code"] == 403
            assert len(no.asked) == 1
            assert await names(client.session) == ["drop", "keep"]
        yes = Person(True)
        async with Client(streamable_http_client(f"{base}/mcp", http_client=http), elicitation_callback=yes) as client:
            done = structured(await client.call_tool("delete_credential", {"service_id": "openai", "name": "drop"}))
            assert done["deleted"] is True
            assert await names(client.session) == ["keep"]
            # A forged requestState is refused and deletes nothing.
            first = await client.session.call_tool("delete_credential", {"service_id": "openai", "name": "keep"},
                                                    allow_input_required=True)
            assert isinstance(first, types.InputRequiredResult)
            forged = await client.session.call_tool(
                "delete_credential", {"service_id": "openai", "name": "keep"},
                request_state=first.request_state[:-3] + "abc",
                input_responses={"confirm": {"action": "accept", "content": {"confirm": True}}},
                allow_input_required=True)
            assert forged.is_error and json.loads(text_of(forged))["code"] == 400
            assert await names(client.session) == ["keep"]
            # A confirmation is for the record as it was: deleted and stored
            # again under the same name, the old state no longer deletes it.
            done = structured(await client.call_tool("delete_credential", {"service_id": "openai", "name": "keep"}))
            assert done["deleted"] is True
            structured(await client.session.call_tool("store_credential", {
                "service_id": "openai", "credential_type": "bearer", "name": "keep",
                "credential_value": f"sk-again-{MARKER}"}))
            stale = await client.session.call_tool(
                "delete_credential", {"service_id": "openai", "name": "keep"},
                request_state=first.request_state,
                input_responses={"confirm": {"action": "accept", "content": {"confirm": True}}},
                allow_input_required=True)
            assert stale.is_error and json.loads(text_of(stale))["code"] == 400
            assert await names(client.session) == ["keep"]
