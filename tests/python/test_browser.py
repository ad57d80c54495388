"""The entry page in a real browser: Debian's Chromium, headless, driven by
playwright-core (tests/browser/entry.mjs) with JavaScript disabled.

An agent (the Python SDK, no elicitation: the common case) asks for a key and
gets the link; the browser opens it, edits the hosts, types the key and
submits; the credential is then listed, and the key is nowhere but sealed.

.ci/run installs chromium and playwright-core and sets CREDVAULT_BROWSER_NODE
(node) and CREDVAULT_BROWSER_DIR (the npm prefix holding playwright-core's
node_modules; the script is copied there to resolve it); without them (a
developer machine without a browser) the test is skipped, and .ci/run makes a
skip fail by setting CREDVAULT_BROWSER_REQUIRED=1.
"""

import glob
import json
import os
import shutil
import subprocess

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from test_sdk import BIN, MARKER, structured, vault_env  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "browser", "entry.mjs")
SHOTS = os.path.abspath(os.path.join(HERE, "..", "..", "target", "browser"))


@pytest.fixture
def anyio_backend():
    return "asyncio"


def browser_or_skip():
    node = os.environ.get("CREDVAULT_BROWSER_NODE")
    modules = os.environ.get("CREDVAULT_BROWSER_DIR")
    if not (node and modules and os.path.exists("/usr/bin/chromium")):
        if os.environ.get("CREDVAULT_BROWSER_REQUIRED"):
            pytest.fail("the browser test needs chromium and playwright-core (see .ci/run)")
        pytest.skip("no chromium/playwright-core here (.ci/run installs them)")
    return node, modules


@pytest.mark.anyio
async def test_a_person_enters_a_key_in_chromium(vault_env):
    node, modules = browser_or_skip()
    value = f"sk-browser-{MARKER}-typed"
    log = os.path.join(vault_env["HOME"], "server.log")
    params = StdioServerParameters(command=BIN, args=["serve"], env=vault_env)
    with open(log, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                asked = structured(await session.call_tool("request_credential", {
                    "service_id": "custom.weather", "credential_type": "api_key", "name": "browser",
                    "allowed_hosts": ["api.weather.example"]}))
                assert asked["status"] == "pending_user_action"
                os.makedirs(SHOTS, exist_ok=True)
                # ESM resolves bare imports from the script's own directory upward.
                script = os.path.join(modules, "credvault-entry.mjs")
                shutil.copy(SCRIPT, script)
                run = subprocess.run([node, script, asked["url"], value, "api.weather.example,backup.weather.example:8443", SHOTS],
                                     capture_output=True, text=True, timeout=120)
                assert run.returncode == 0, run.stderr
                report = json.loads(run.stdout.strip().splitlines()[-1])
                print("browser report:", json.dumps(report))
                print("screenshots:", ", ".join(f"{p} ({os.path.getsize(p)} bytes)" for p in sorted(glob.glob(f"{SHOTS}/entry-*.png"))))
                assert report["getStatus"] == 200 and report["title"] == "credvault: enter a key"
                assert report["csp"] == "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
                assert report["proposed"] == "api.weather.example"
                # What a real browser sends on the form POST from a no-referrer page.
                assert report["post"] == {"origin": "null", "secFetchSite": "same-origin"}, report
                assert report["postStatus"] == 200 and report["confirmation"] == "Key stored", report
                assert report["mayGoTo"] == "api.weather.example, backup.weather.example:8443", "the person's hosts"
                assert report["againStatus"] == 410 and "already used" in report["againText"]
                assert value not in run.stdout

                listed = structured(await session.call_tool("list_credentials", {}))
                assert [(c["service"], c["name"]) for c in listed["credentials"]] == [("custom.weather", "browser")]
                assert value not in str(listed)
    with open(vault_env["CREDVAULT_PATH"], "rb") as f:
        assert value.encode() not in f.read()
    with open(log, "rb") as f:
        assert value.encode() not in f.read()
