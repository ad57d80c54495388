"""Calling credvault from Python with the official MCP SDK (pip install "mcp>=2.3"),
over stdio: store a key, create a named secret, list what is stored (never
values), and ask the person to type a key into credvault's one-time local page
instead of the chat.

    CREDVAULT_PASSWORD_FILE=~/.config/credvault/password python examples/python_client.py /path/to/credvault

The server gets this process's CREDVAULT_* variables. `.ci/run` runs this
example against the built binary (tests/python/test_examples.py).
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def call(session: ClientSession, tool: str, args: dict) -> dict:
    result = await session.call_tool(tool, args)
    if result.is_error:  # the error envelope: {"code", "type", "detail", "errors"?}
        raise RuntimeError(f"{tool}: {result.content[0].text}")
    return result.structured_content


async def main(binary: str) -> None:
    env = {k: v for k, v in os.environ.items() if k.startswith("CREDVAULT_") or k in ("HOME", "PATH")}
    params = StdioServerParameters(command=binary, args=["serve"], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:  # no elicitation callback: links come back
            await session.initialize()
            tools = await session.list_tools()
            print("tools:", ", ".join(t.name for t in tools.tools))

            stored = await call(session, "store_credential", {
                "service_id": "github", "credential_type": "bearer",
                "credential_value": "ghp_example_not_a_real_token_0123456789", "name": "example"})
            print(f"stored: {stored['service_name']} ({stored['id']})")  # metadata only, never the value

            secret = await call(session, "create_secret", {
                "name": "EXAMPLE_API_KEY", "provider": "custom",
                "value": "example-secret-value-0123456789"})
            print(f"secret: {secret['name']} {secret['masked_value']}")  # masked: never more than 3/8 of it

            for c in (await call(session, "list_credentials", {}))["credentials"]:
                print(f"listed: {c['service']}/{c['name']} {c['credential_type']}")

            asked = await call(session, "request_credential", {
                "service_id": "openai", "credential_type": "bearer", "name": "example"})
            if asked["status"] == "pending_user_action":
                print("enter the key at:", asked["url"])
                if sys.stdin.isatty():
                    input("(press Enter once it is saved) ")
                    listed = await call(session, "list_credentials", {"service_id": "openai"})
                    print("openai:", json.dumps(listed["credentials"]))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "credvault"))
