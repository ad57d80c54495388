"""The examples a new user starts from (examples/), run against the real binary:
the Python SDK client, the Rust (rmcp) client as `cargo test` built it
(target/debug/examples/rmcp_client), and the Claude Desktop config, started the
way Claude Desktop starts it.

Run by .ci/run after `cargo test`; CREDVAULT_BIN points at the binary.
"""

import json
import os
import subprocess
import sys

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from test_sdk import BIN, vault_env  # noqa: F401

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")

RUST_EXAMPLE = os.environ.get("CREDVAULT_RMCP_EXAMPLE",
                              os.path.join(os.path.dirname(BIN), "examples", "rmcp_client"))
# The values the examples store: none may come back in their output.
VALUES = ["sk-example-not-a-real-key-0123456789", "ghp_example_not_a_real_token_0123456789",
          "example-secret-value-0123456789"]


@pytest.fixture
def anyio_backend():
    return "asyncio"


def run_example(argv, env):
    out = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    for v in VALUES:
        assert v not in out.stdout + out.stderr, "a stored value came back"
    return out.stdout


def test_python_example_stores_lists_and_asks_for_a_key(vault_env):
    out = run_example([sys.executable, os.path.join(ROOT, "examples", "python_client.py"), BIN], vault_env)
    assert "store_credential" in out.splitlines()[0]
    assert "stored: GitHub (" in out
    assert "secret: EXAMPLE_API_KEY exampl••••" in out
    assert "listed: github/example bearer" in out
    assert "enter the key at: http://127.0.0.1:" in out and "/enter/" in out


def test_rust_example_stores_lists_and_asks_for_a_key(vault_env):
    assert os.access(RUST_EXAMPLE, os.X_OK), f"{RUST_EXAMPLE} missing: `cargo test` builds it"
    out = run_example([RUST_EXAMPLE, BIN], vault_env)
    assert "request_credential" in out.splitlines()[0]
    assert "stored: OpenAI (" in out
    assert "listed: openai/example bearer" in out
    assert "enter the key at: http://127.0.0.1:" in out and "/enter/" in out


@pytest.mark.anyio
async def test_claude_desktop_config_starts_a_working_server(vault_env):
    with open(os.path.join(ROOT, "examples", "claude_desktop_config.json")) as f:
        server = json.load(f)["mcpServers"]["credvault"]
    assert os.path.basename(server["command"]) == "credvault"
    assert set(server["env"]) <= {"CREDVAULT_PASSWORD_FILE", "CREDVAULT_PATH", "CREDVAULT_STORE", "CREDVAULT_MEMBER"}
    # Claude Desktop runs command + args with env; here the paths are this test's.
    env = {**vault_env, **{k: vault_env[k] for k in server["env"]}}
    params = StdioServerParameters(command=BIN, args=server["args"], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name for t in (await session.list_tools()).tools}
            assert {"store_credential", "request_credential", "list_credentials"} <= tools
            listed = await session.call_tool("list_credentials", {})
            assert not listed.is_error, listed.content[0].text  # unlocked with the config's password file
            assert listed.structured_content["credentials"] == []
