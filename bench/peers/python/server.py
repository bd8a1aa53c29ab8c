"""The Python SDK's stateless Streamable HTTP server (JSON responses) with one tool, `greet`.

`python server.py PORT`; POST /mcp serves MCP, GET /healthz answers `ok`. Installed by
bench/run into .venv from PyPI (requirements.txt).
"""

import sys

import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import PlainTextResponse

mcp = MCPServer("bench", version="0.1.0", log_level="WARNING")


@mcp.tool()
def greet(name: str) -> str:
    """Say hello to someone by name."""
    return f"Hello, {name}!"


@mcp.custom_route("/healthz", methods=["GET"])
async def healthz(_: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = mcp.streamable_http_app(stateless_http=True, json_response=True)

if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8793
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
