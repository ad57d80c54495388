"""The official Python MCP SDK (mcp==2.3.0) against the real credvault binary:
stdio, Streamable HTTP with both lifecycles (2025-11-25 initialize sessions and
2026-07-28 server/discover), and the legacy SSE transport.

Run by .ci/run after `cargo build`; CREDVAULT_BIN points at the binary.
"""

import json
import os
import subprocess
import tempfile
import threading

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

BIN = os.environ.get("CREDVAULT_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "credvault"))
MARKER = "PYSDKMARKERVALUE93"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def vault_env():
    with tempfile.TemporaryDirectory() as d:
        pw = os.path.join(d, "password")
        with open(pw, "w") as f:
            f.write("python sdk password\n")
        os.chmod(pw, 0o600)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": d,
            "CREDVAULT_PATH": os.path.join(d, "data", "vault.redb"),
            "CREDVAULT_PASSWORD_FILE": pw,
            "CREDVAULT_KDF_MEMORY_MIB": "8",
            "CREDVAULT_KDF_ITERATIONS": "1",
        }
        subprocess.run([BIN, "init"], env=env, check=True, capture_output=True)
        yield env


@pytest.fixture
def http_server(vault_env):
    token = subprocess.run([BIN, "token", "create", "--name", "python"], env=vault_env, check=True,
                           capture_output=True, text=True).stdout.strip()
    proc = subprocess.Popen([BIN, "serve", "--http", "127.0.0.1:0"], env=vault_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = None
    for line in proc.stderr:
        if line.startswith("credvault: listening on "):
            base = line.split("listening on ", 1)[1].strip()
            break
    assert base, "server did not start"
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    yield base, token
    proc.kill()
    proc.wait()


def structured(result):
    assert not result.is_error, text_of(result)
    return result.structured_content


def text_of(result):
    return result.content[0].text


async def exercise(session: ClientSession, tag: str):
    tools = await session.list_tools()
    assert sorted(t.name for t in tools.tools) == ["call_api", "create_secret", "delete_credential", "delete_secret", "list_credentials", "list_secrets", "request_credential", "store_credential"]
    for t in tools.tools:
        assert t.output_schema and t.input_schema["type"] == "object"

    stored = await session.call_tool("store_credential", {
        "service_id": "openai", "credential_type": "bearer", "credential_value": MARKER, "name": tag})
    body = structured(stored)
    assert body["service_name"] == "OpenAI" and body["name"] == tag
    assert json.loads(text_of(stored)) == body

    listed = structured(await session.call_tool("list_credentials", {}))
    assert any(c["name"] == tag for c in listed["credentials"])

    secret = structured(await session.call_tool("create_secret", {
        "name": f"PY_{tag.upper()}", "provider": "openai", "value": "sk-proj-abcdefghijklm0123456789"}))
    assert secret["masked_value"] == "sk-pro••••789"

    bad = await session.call_tool("store_credential", {"service_id": "openai", "credential_type": "oauth"})
    assert bad.is_error and bad.structured_content is None
    envelope = json.loads(text_of(bad))
    assert envelope["code"] == 422 and envelope["type"] == "validation_error"
    assert {e["loc"][0] for e in envelope["errors"]} == {"credential_type", "credential_value"}

    # call_api: the stored openai value may only go to api.openai.com.
    refused = await session.call_tool("call_api", {
        "service_id": "openai", "name": tag, "method": "GET", "url": "https://example.com/steal"})
    assert refused.is_error and refused.structured_content is None
    envelope = json.loads(text_of(refused))
    assert envelope["code"] == 403 and "api.openai.com" in envelope["detail"]
    plain = await session.call_tool("call_api", {
        "service_id": "openai", "name": tag, "method": "GET", "url": "http://api.openai.com/v1/models"})
    assert json.loads(text_of(plain))["code"] == 422

    for r in (stored, listed, secret, bad, refused, plain):
        assert MARKER not in str(r)


@pytest.mark.anyio
async def test_stdio(vault_env):
    params = StdioServerParameters(command=BIN, args=["serve"], env=vault_env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            await exercise(session, "stdio")


def http_client(token):
    return create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})


@pytest.mark.anyio
async def test_streamable_http_initialize_session(http_server):
    base, token = http_server
    async with http_client(token) as client:
        async with streamable_http_client(f"{base}/mcp", http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                result = await session.initialize()
                assert result.protocol_version == "2025-11-25"
                await exercise(session, "httplegacy")


@pytest.mark.anyio
async def test_streamable_http_stateless_discover(http_server):
    base, token = http_server
    async with http_client(token) as client:
        async with streamable_http_client(f"{base}/mcp", http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await session.discover()
                assert session.protocol_version == "2026-07-28"
                await exercise(session, "httpmodern")


@pytest.mark.anyio
async def test_legacy_sse(http_server):
    base, token = http_server
    async with sse_client(f"{base}/sse", headers={"Authorization": f"Bearer {token}"}) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            await exercise(session, "sse")


@pytest.mark.anyio
async def test_wrong_token_is_refused(http_server):
    base, _ = http_server
    async with create_mcp_http_client(headers={"Authorization": "Bearer cvt_nope"}) as client:
        r = await client.post(f"{base}/mcp", json={})
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
