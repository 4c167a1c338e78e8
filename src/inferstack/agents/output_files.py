"""`file_read` / `file_write` for the agent, through the filesystem MCP server rooted at the output directory.

Paths are checked here too (relative, no `..`, no drive or absolute path) so a bad path is refused before it
reaches the server; the server's own root sandbox is the second line.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from inferstack.agents.mcp_tools import McpToolClient
from inferstack.core.errors import InvalidRequestError

MAX_PATH_CHARS = 255


def checked_relative_path(path: str) -> str:
    """`path` normalised as a relative POSIX path inside the output directory, or `InvalidRequestError`."""
    candidate = path.strip().replace("\\", "/")
    if not candidate or len(candidate) > MAX_PATH_CHARS or "\x00" in candidate:
        raise InvalidRequestError("file path must be 1..255 characters", param="path")
    pure = PurePosixPath(candidate)
    if pure.is_absolute() or ":" in pure.parts[0]:
        raise InvalidRequestError("file path must be relative to the output directory", param="path")
    if any(part == ".." for part in pure.parts):
        raise InvalidRequestError("file path must not contain '..'", param="path")
    return str(pure)


class OutputFiles:
    def __init__(self, client: McpToolClient) -> None:
        self.client = client

    async def read(self, path: str) -> Any:
        return await self.client.call("read_file", {"path": checked_relative_path(path)})

    async def write(self, path: str, content: str, append: bool = False) -> Any:
        arguments = {"path": checked_relative_path(path), "content": content, "append": append}
        return await self.client.call("write_file", arguments)
