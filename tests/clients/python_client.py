#!/usr/bin/env python3
"""The official MCP Python SDK as a client of a generated server, headless, through the whole
OAuth flow: 401 -> protected-resource metadata -> authorization-server metadata -> dynamic
client registration -> authorize (S256 PKCE, state, resource, scope) -> token -> MCP session.

Runs with mcp 2.x (`--mode legacy`: initialize handshake; `--mode auto`: `server/discover`
first, falling back to initialize) and with mcp 1.x (always initialize; `--mode` ignored).

    python_client.py URL [--mode legacy|auto] [--sign-in USER] [--follow] [--call NAME JSON]...

The client asks for no scope of its own: the SDK takes the scope from the server's 401
challenge, and when a tool answers 403 insufficient_scope it authorizes again with the scope
the challenge names (step-up). The generated server approves at once (`--login auto`), so the
"browser" is one GET of the authorize URL whose `Location` carries the code; with `--sign-in
USER` (a `--login users` server) it fills in the sign-in form that GET answers instead, with the
password from MCPGEN_E2E_PASSWORD, and approves. With `--follow` (a `--login oidc` server) it is a
browser with cookies that follows the redirects through the OpenID provider and back, and
approves the consent page; a page that is neither (a refusal) fails the run with its text.

Prints one line `RESULT {json}` (what the Rust test asserts on) and exits 0; any failure to
connect, authorize or call raises and exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from html.parser import HTMLParser
import re
from urllib.parse import parse_qs, urljoin, urlparse

import anyio

try:  # mcp >= 2.0: httpx fork "httpx2", high-level Client, AuthorizationCodeResult
    import httpx2 as httpx
    from mcp import Client
    from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider, TokenStorage
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    MCP2 = True
except ImportError:  # mcp 1.x: plain httpx, ClientSession, callback returns (code, state)
    import httpx
    from mcp import ClientSession
    from mcp.client.auth import OAuthClientProvider, TokenStorage
    from mcp.client.streamable_http import streamablehttp_client

    MCP2 = False

from importlib.metadata import version as dist_version

from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

REDIRECT_URI = "http://127.0.0.1:33418/callback"  # never contacted; must match DCR + authorize


class InMemoryTokenStorage(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class FormFields(HTMLParser):
    """The first form of a page: its action and the values of its hidden inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._done = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = a.get("action") or ""
        elif tag == "input" and not self._done and a.get("type") == "hidden" and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._done = True


class HeadlessBrowser:
    """The user agent: GET the authorize URL without following the redirect, keep the query of
    `Location`, hand it back to the SDK from the callback handler. With a user to sign in as,
    the GET answers the sign-in form, which it submits (name, password, approve) as a person
    would, the CSRF cookie included."""

    def __init__(self, sign_in: str | None = None, follow: bool = False) -> None:
        self._query: dict[str, list[str]] | None = None
        self.authorize_urls: list[str] = []
        self.sign_in = sign_in
        self.follow = follow
        self.visited: list[str] = []

    async def redirect_handler(self, authorization_url: str) -> None:
        self.authorize_urls.append(authorization_url)
        async with httpx.AsyncClient(follow_redirects=False, timeout=30) as http:
            if self.follow:
                resp = await self.follow_and_approve(http, authorization_url)
            else:
                resp = await http.get(authorization_url)
            if resp.status_code == 200 and self.sign_in and not self.follow:
                form = FormFields()
                form.feed(resp.text)
                if form.action is None:
                    raise RuntimeError(f"no sign-in form: {resp.text[:300]}")
                fields = dict(form.fields)
                fields.update(
                    username=self.sign_in,
                    password=os.environ["MCPGEN_E2E_PASSWORD"],
                    action="approve",
                )
                target = str(resp.url.join(form.action))
                resp = await http.post(target, data=fields)
        if resp.status_code not in (301, 302, 303, 307, 308):
            raise RuntimeError(f"authorize did not redirect: {resp.status_code} {resp.text[:300]}")
        location = resp.headers["location"]
        if not location.startswith(REDIRECT_URI):
            raise RuntimeError(f"redirected to unexpected place: {location}")
        query = parse_qs(urlparse(location).query)
        if "error" in query:
            raise RuntimeError(f"authorization error: {query}")
        self._query = query

    async def follow_and_approve(self, http, url: str):
        """`--follow`: follows redirects with cookies (to the OpenID provider, whose test
        interactions sign in without UI, and back), submits the consent page's form with
        `action=approve`, and returns the response that redirects to the client; any other
        page (a refusal) raises with its status and text."""
        resp = await http.get(url)
        for _ in range(20):
            self.visited.append(str(resp.url))
            if resp.status_code in (301, 302, 303, 307, 308):
                location = urljoin(str(resp.url), resp.headers["location"])
                if location.startswith(REDIRECT_URI):
                    return resp
                resp = await http.get(location)
                continue
            form = FormFields()
            form.feed(resp.text)
            if resp.status_code != 200 or form.action is None:
                raise RuntimeError(f"refused: {resp.status_code} {page_text(resp.text)}")
            fields = dict(form.fields)
            fields["action"] = "approve"
            resp = await http.post(urljoin(str(resp.url), form.action), data=fields)
        raise RuntimeError(f"too many redirects: {self.visited}")

    async def callback_handler(self):
        assert self._query is not None, "redirect_handler did not run"
        q = {k: v[0] for k, v in self._query.items()}
        if MCP2:
            return AuthorizationCodeResult(code=q["code"], state=q.get("state"), iss=q.get("iss"))
        return q["code"], q.get("state")


def page_text(html: str) -> str:
    """A page's text without tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def make_provider(server_url: str, browser: HeadlessBrowser, storage: TokenStorage) -> OAuthClientProvider:
    metadata = OAuthClientMetadata(
        client_name="mcpgen-e2e-python",
        redirect_uris=[REDIRECT_URI],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
        scope=None,  # the SDK picks it from the WWW-Authenticate challenge
    )
    return OAuthClientProvider(
        server_url=server_url,
        client_metadata=metadata,
        storage=storage,
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    )


def text_of(result) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


async def session_calls(client, calls: list[tuple[str, dict]]) -> dict:
    tools = await client.list_tools()
    out = {"tools": [t.name for t in tools.tools], "calls": []}
    for name, args in calls:
        result = await client.call_tool(name, args)
        is_error = getattr(result, "is_error", None)
        if is_error is None:
            is_error = getattr(result, "isError", False)
        out["calls"].append({"name": name, "is_error": bool(is_error), "text": text_of(result)})
    return out


async def run(
    url: str, mode: str, calls: list[tuple[str, dict]], sign_in: str | None, follow: bool
) -> dict:
    browser = HeadlessBrowser(sign_in, follow)
    storage = InMemoryTokenStorage()
    provider = make_provider(url, browser, storage)
    if MCP2:
        async with create_mcp_http_client(auth=provider) as http:
            async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
                out = await session_calls(client, calls)
                out["protocol_version"] = client.protocol_version
                out["server_name"] = client.server_info.name if client.server_info else None
    else:
        async with streamablehttp_client(url, auth=provider) as (read, write, _sid):
            async with ClientSession(read, write) as client:
                init = await client.initialize()
                out = await session_calls(client, calls)
                out["protocol_version"] = init.protocolVersion
                out["server_name"] = init.serverInfo.name
    out["sdk"] = f"mcp {dist_version('mcp')}"
    out["mode"] = mode if MCP2 else "initialize"
    out["authorize_urls"] = browser.authorize_urls
    out["visited"] = browser.visited
    out["token_scope"] = storage.tokens.scope if storage.tokens else None
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--mode", choices=["legacy", "auto"], default="legacy")
    p.add_argument("--call", nargs=2, action="append", default=[], metavar=("NAME", "JSON"))
    p.add_argument("--sign-in", metavar="USER", help="sign in through the form as USER")
    p.add_argument(
        "--follow",
        action="store_true",
        help="login oidc: follow redirects with cookies through the provider, approve the consent page",
    )
    a = p.parse_args()
    calls = [(name, json.loads(args)) for name, args in a.call]
    out = anyio.run(run, a.url, a.mode, calls, a.sign_in, a.follow)
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    try:
        main()
    except BaseException as e:  # anyio wraps failures in exception groups: show the leaves
        import traceback

        traceback.print_exception(e, file=sys.stderr)
        sys.exit(1)
