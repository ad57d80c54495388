"""request_credential (DESIGN §9) with the official Python SDK (mcp==2.3.0),
which declares URL + form elicitation whenever an elicitation callback is
given: the 2025-11-25 path (elicitation/create in URL mode, then
notifications/elicitation/complete), the 2026-07-28 path (InputRequiredResult,
retried by the SDK with the input response and requestState), decline, a
client without elicitation (pending_user_action), and forged state.

The callback plays the person: it "opens" the link by POSTing the page's form
with httpx, the way a browser on a no-referrer page does (Origin: null).
"""

import asyncio
import json
import os
import re

import httpx2 as httpx
import mcp.types as types
import pytest
from mcp import Client, ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from test_sdk import BIN, MARKER, http_client, http_server, structured, text_of, vault_env  # noqa: F401

BROWSER_HEADERS = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def anyio_backend():
    return "asyncio"


def value(tag):
    return f"sk-{tag}-{MARKER}-entered"


async def open_and_submit(url, val, hosts=""):
    """What the person does: load the page, type the key, press Store."""
    async with httpx.AsyncClient() as c:
        page = await c.get(url)
        assert page.status_code == 200, page.text
        assert 'type="password"' in page.text
        assert page.headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
        r = await c.post(url, data={"allowed_hosts": hosts, "value": val, "action": "store"}, headers=BROWSER_HEADERS)
        assert r.status_code == 200, r.text
        assert val not in r.text
        return r


class Person:
    """An elicitation callback that records what it was asked and answers `action`."""

    def __init__(self, val, action="accept", delay=0.0):
        self.val, self.action, self.delay = val, action, delay
        self.asked = []
        self.tasks = []

    async def __call__(self, context, params):
        self.asked.append(params)
        assert params.mode == "url", params
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/enter/[A-Za-z0-9_-]{43}", params.url), params.url
        if self.action != "accept":
            return types.ElicitResult(action=self.action)
        if self.delay:
            # Accept first and type the key a moment later, as a real person does.
            async def later():
                await asyncio.sleep(self.delay)
                await open_and_submit(params.url, self.val)
            self.tasks.append(asyncio.create_task(later()))
        else:
            await open_and_submit(params.url, self.val)
        return types.ElicitResult(action="accept")


def stdio_params(env):
    return StdioServerParameters(command=BIN, args=["serve"], env=env)


async def names(session):
    listed = structured(await session.call_tool("list_credentials", {}))
    return sorted(f'{c["service"]}/{c["name"]}' for c in listed["credentials"])


def assert_no_leak(val, *things):
    for t in things:
        assert val not in str(t) and MARKER not in str(t)


@pytest.mark.anyio
async def test_url_elicitation_2025_11_25_over_stdio(vault_env):
    val = value("stdio")
    person = Person(val, delay=0.3)
    completed = []

    async def on_message(message):
        if isinstance(message, types.ElicitCompleteNotification):
            completed.append(message.params.elicitation_id)

    async with stdio_client(stdio_params(vault_env)) as (read, write):
        async with ClientSession(read, write, elicitation_callback=person, message_handler=on_message) as session:
            init = await session.initialize()
            assert init.protocol_version == "2025-11-25"
            result = await session.call_tool("request_credential", {"service_id": "openai", "credential_type": "bearer", "name": "entered"})
            body = structured(result)
            assert body["status"] == "stored" and body["success"] is True
            assert (body["service"], body["name"], body["replaced"]) == ("openai", "entered", False)
            assert len(person.asked) == 1 and person.asked[0].elicitation_id
            await asyncio.gather(*person.tasks)
            for _ in range(50):
                if completed:
                    break
                await asyncio.sleep(0.05)
            assert completed == [person.asked[0].elicitation_id]
            assert await names(session) == ["openai/entered"]
            assert_no_leak(val, result, person.asked)


@pytest.mark.anyio
async def test_url_elicitation_2026_07_28_over_http(http_server):
    base, token = http_server
    val = value("modern")
    person = Person(val)
    async with http_client(token) as http:
        transport = streamable_http_client(f"{base}/mcp", http_client=http)
        # The high-level Client drives InputRequiredResult rounds through the callback.
        async with Client(transport, elicitation_callback=person) as client:
            assert client.protocol_version == "2026-07-28"
            result = await client.call_tool("request_credential", {"service_id": "github", "credential_type": "bearer", "name": "modern"})
            body = structured(result)
            assert body["status"] == "stored" and body["service_name"] == "GitHub"
            assert len(person.asked) == 1
            assert person.asked[0].url.startswith(base + "/enter/"), "served on the --http port"
            session = client.session
            assert await names(session) == ["github/modern"]

            # The same exchange by hand: the first round's result, then forged or rebound state.
            args = {"service_id": "github", "credential_type": "bearer"}
            first = await session.call_tool("request_credential", args, allow_input_required=True)
            assert isinstance(first, types.InputRequiredResult), first
            assert first.request_state and list(first.input_requests) == ["credential"]
            accept = {"credential": {"action": "accept"}}
            forged = await session.call_tool("request_credential", args, request_state=first.request_state[:-2] + "xx",
                                             input_responses=accept, allow_input_required=True)
            assert forged.is_error and json.loads(text_of(forged))["code"] == 400
            other = await session.call_tool("request_credential", {"service_id": "stripe", "credential_type": "bearer"},
                                            request_state=first.request_state, input_responses=accept,
                                            allow_input_required=True)
            assert other.is_error and json.loads(text_of(other))["code"] == 400
            # Declined in the retry: 403, and the link is dead.
            declined = await session.call_tool("request_credential", args, request_state=first.request_state,
                                               input_responses={"credential": {"action": "decline"}},
                                               allow_input_required=True)
            assert json.loads(text_of(declined))["detail"] == "the user declined"
            url = first.input_requests["credential"].params.url
            async with httpx.AsyncClient() as c:
                assert (await c.get(url)).status_code == 410
            assert await names(session) == ["github/modern"]
            assert_no_leak(val, result, first, forged, other, declined)


@pytest.mark.anyio
@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_declined_stores_nothing_and_kills_the_link(vault_env, action):
    person = Person(value("declined"), action=action)
    async with stdio_client(stdio_params(vault_env)) as (read, write):
        async with ClientSession(read, write, elicitation_callback=person) as session:
            await session.initialize()
            result = await session.call_tool("request_credential", {"service_id": "openai", "credential_type": "bearer"})
            assert result.is_error and result.structured_content is None
            envelope = json.loads(text_of(result))
            assert (envelope["code"], envelope["type"], envelope["detail"]) == (403, "forbidden", "the user declined")
            async with httpx.AsyncClient() as c:
                late = await c.post(person.asked[0].url, data={"value": value("late")}, headers=BROWSER_HEADERS)
                assert late.status_code == 410
            assert await names(session) == []


@pytest.mark.anyio
async def test_without_elicitation_the_agent_gets_the_link(vault_env):
    val = value("pending")
    async with stdio_client(stdio_params(vault_env)) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            result = await session.call_tool("request_credential", {"service_id": "custom.acme", "credential_type": "api_key",
                                                                    "allowed_hosts": ["api.acme.example"]})
            body = structured(result)
            assert body["status"] == "pending_user_action"
            assert set(body) == {"status", "url", "expires_at", "message"}
            assert await names(session) == []
            await open_and_submit(body["url"], val, hosts="api.acme.example\napi2.acme.example:8443")
            assert await names(session) == ["custom.acme/default"]
            assert_no_leak(val, result)
    # The sweep: nothing of the value on disk but sealed.
    with open(vault_env["CREDVAULT_PATH"], "rb") as f:
        assert val.encode() not in f.read()
