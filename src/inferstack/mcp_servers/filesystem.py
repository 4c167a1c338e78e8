"""`inferstack mcp filesystem`: `SandboxedFilesystem` served as MCP tools, every path confined to one root.

Tools: read_file, write_file, list_directory, create_directory, delete_path, get_path_info. Results are structured
(JSON with an output schema); a refused path or a missing file is an MCP tool error with a clear message.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import anyio
from mcp.server import MCPServer
from mcp_types import ToolAnnotations
from pydantic import Field

from inferstack import __version__
from inferstack.mcp_servers.assembly import McpService
from inferstack.mcp_servers.settings import FilesystemServerSettings
from inferstack.mcp_servers.tool_calls import ToolCalls
from inferstack.tools.filesystem import (
    DirectoryCreated,
    DirectoryListing,
    FileContent,
    FileWritten,
    PathDeleted,
    PathInfo,
    SandboxedFilesystem,
    SandboxRootError,
)

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Read and write UTF-8 text files inside one sandbox directory. Paths are relative to the sandbox root "
    "(for example 'notes/todo.txt'; '.' is the root). Paths that lead outside the root are refused."
)

SandboxPath = Annotated[str, Field(description="A path relative to the sandbox root, such as 'notes/todo.txt'.")]

_READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def open_sandbox(settings: FilesystemServerSettings) -> SandboxedFilesystem:
    """The sandbox at `settings.root`, creating the directory if it does not exist yet."""
    if settings.root is None:
        raise SandboxRootError("no sandbox root is configured: pass --root DIR or set mcp.filesystem.root")
    root = settings.root.expanduser()
    if not root.exists():
        try:
            root.mkdir(parents=True)
        except OSError as exc:
            raise SandboxRootError(f"cannot create the sandbox root {str(root)!r}: {exc.strerror}") from None
        log.info("created the sandbox root %s", root)
    return SandboxedFilesystem(root, max_file_bytes=settings.max_file_bytes)


def build_filesystem_service(settings: FilesystemServerSettings) -> McpService:
    sandbox = open_sandbox(settings)
    calls = ToolCalls("filesystem")
    server: MCPServer[Any] = MCPServer("inferstack-filesystem", version=__version__, instructions=INSTRUCTIONS)

    @server.tool(annotations=_READ_ONLY)
    @calls.instrument
    async def read_file(path: SandboxPath) -> FileContent:
        """Read a whole UTF-8 text file. Files over the size limit and binary files are refused, not cut."""
        return await anyio.to_thread.run_sync(sandbox.read_file, path)

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False))
    @calls.instrument
    async def write_file(
        path: SandboxPath,
        content: Annotated[str, Field(description="The text to write (UTF-8).")],
        append: Annotated[bool, Field(description="Add to the end instead of replacing the file.")] = False,
    ) -> FileWritten:
        """Create or replace a text file (or append to it); missing parent directories are created."""
        return await anyio.to_thread.run_sync(lambda: sandbox.write_file(path, content, append=append))

    @server.tool(annotations=_READ_ONLY)
    @calls.instrument
    async def list_directory(
        path: Annotated[str, Field(description="A directory relative to the sandbox root; '.' is the root.")] = ".",
    ) -> DirectoryListing:
        """List a directory's entries (name, type, size of files), sorted by name."""
        return await anyio.to_thread.run_sync(sandbox.list_directory, path)

    @server.tool(
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        )
    )
    @calls.instrument
    async def create_directory(path: SandboxPath) -> DirectoryCreated:
        """Create a directory and any missing parents; `created` is false if it already existed."""
        return await anyio.to_thread.run_sync(sandbox.create_directory, path)

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False))
    @calls.instrument
    async def delete_path(path: SandboxPath) -> PathDeleted:
        """Delete a file, a symlink (not its target) or an empty directory. The sandbox root cannot be deleted."""
        return await anyio.to_thread.run_sync(sandbox.delete_path, path)

    @server.tool(annotations=_READ_ONLY)
    @calls.instrument
    async def get_path_info(path: SandboxPath) -> PathInfo:
        """Type, size, modification time (UTC) and permissions of a file or directory."""
        return await anyio.to_thread.run_sync(sandbox.get_path_info, path)

    def health() -> tuple[bool, dict[str, Any]]:
        ready = sandbox.root.is_dir()
        return ready, {"root_exists": ready, "max_file_bytes": sandbox.max_file_bytes}

    return McpService(name="filesystem", server=server, tool_calls=calls, health=health)
