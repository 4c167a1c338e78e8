"""`SandboxedFilesystem`: text-file operations confined to one root directory, with size limits.

Every path is resolved the way the kernel would (symlinks followed, `..` applied after them) and must land
inside the root, or it is refused before anything is touched. Results and errors show root-relative paths only.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Literal

from pydantic import BaseModel, ConfigDict

from inferstack.core.errors import (
    InferstackError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
)

MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255  # NAME_MAX on Linux and macOS
MAX_LIST_ENTRIES = 1000
DEFAULT_MAX_FILE_BYTES = 1024 * 1024

# O_NOFOLLOW: a symlink swapped in after the check is refused, not followed. O_NONBLOCK: a FIFO cannot hang us.
_OPEN_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class SandboxRootError(InvalidRequestError):
    """The sandbox root is missing, not a directory, or the whole filesystem."""


class InvalidPathError(InvalidRequestError):
    """The path text is unusable (NUL byte, too long, not Unicode) or runs into a symbolic-link loop."""


class PathOutsideRootError(PermissionDeniedError):
    """The path resolves outside the root: absolute elsewhere, `..` past the root, or through a symlink."""


class PathNotFoundError(NotFoundError):
    """Nothing exists at the path."""


class WrongPathTypeError(InvalidRequestError):
    """A directory where a file is needed (or the reverse), a non-empty directory, or non-UTF-8 content."""


class FileTooLargeError(PayloadTooLargeError):
    """The file, or the content to write, is over the size limit; nothing is truncated."""


EntryType = Literal["file", "directory", "symlink", "other"]


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class FileContent(_Result):
    path: str
    content: str
    size_bytes: int


class FileWritten(_Result):
    path: str
    bytes_written: int
    size_bytes: int
    appended: bool


class DirectoryEntry(_Result):
    name: str
    type: EntryType
    size_bytes: int | None = None


class DirectoryListing(_Result):
    path: str
    entries: list[DirectoryEntry]
    total_entries: int
    truncated: bool


class DirectoryCreated(_Result):
    path: str
    created: bool


class PathDeleted(_Result):
    path: str
    type: EntryType


class PathInfo(_Result):
    path: str
    name: str
    type: EntryType
    size_bytes: int
    modified: str
    permissions: str
    is_symlink: bool


@dataclass(frozen=True)
class _Located:
    entry: Path  # the directory entry the path names; a final symlink is not followed
    target: Path  # what the entry resolves to; equals `entry` unless the entry is a symlink
    shown: str  # root-relative, for results and messages


def _entry_type(mode: int) -> EntryType:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "directory"
    return "file" if stat.S_ISREG(mode) else "other"


def _quoted(path: str) -> str:
    return repr(path if len(path) <= 200 else path[:200] + "...")


class SandboxedFilesystem:
    """File operations on UTF-8 text under `root`; see the module docstring for the confinement rules."""

    def __init__(self, root: Path, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> None:
        try:
            resolved = Path(root).resolve(strict=True)
        except OSError as exc:
            raise SandboxRootError(f"sandbox root {os.fspath(root)!r} is unusable: {exc.strerror}") from None
        if not resolved.is_dir():
            raise SandboxRootError(f"sandbox root {os.fspath(root)!r} is not a directory")
        if resolved == resolved.parent:
            raise SandboxRootError("the sandbox root cannot be the filesystem root")
        if max_file_bytes < 1:
            raise SandboxRootError("max_file_bytes must be at least 1")
        self._root = resolved
        self.max_file_bytes = max_file_bytes

    @property
    def root(self) -> Path:
        return self._root

    def read_file(self, path: str) -> FileContent:
        """The whole file as UTF-8 text; refused (never truncated) past `max_file_bytes`."""
        where = self._locate(path)
        with self._open_regular_file(where, os.O_RDONLY, "rb", "read") as (handle, _):
            data = handle.read(self.max_file_bytes + 1)
        if len(data) > self.max_file_bytes:
            raise FileTooLargeError(f"{_quoted(where.shown)} is larger than the {self.max_file_bytes}-byte read limit")
        try:
            content = data.decode("utf-8")
        except UnicodeDecodeError:
            raise WrongPathTypeError(f"{_quoted(where.shown)} is not UTF-8 text; only text files can be read") from None
        return FileContent(path=where.shown, content=content, size_bytes=len(data))

    def write_file(self, path: str, content: str, *, append: bool = False) -> FileWritten:
        """Create or replace (or append to) a UTF-8 text file; missing parent directories are created."""
        data = content.encode("utf-8")
        if len(data) > self.max_file_bytes:
            raise FileTooLargeError(f"content is {len(data)} bytes; the write limit is {self.max_file_bytes}")
        where = self._locate(path)
        if where.target == self._root:
            raise WrongPathTypeError("'.' is the sandbox root directory; give a file path such as 'notes.txt'")
        try:
            where.target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._os_error(exc, where, "create the parent directories of") from None
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else 0)
        with self._open_regular_file(where, flags, "wb", "write") as (handle, existing):
            if append and existing.st_size + len(data) > self.max_file_bytes:
                raise FileTooLargeError(
                    f"appending {len(data)} bytes would make {_quoted(where.shown)} "
                    f"{existing.st_size + len(data)} bytes; the limit is {self.max_file_bytes}"
                )
            try:
                if not append:
                    handle.truncate(0)
                handle.write(data)
                handle.flush()
            except OSError as exc:
                raise self._os_error(exc, where, "write") from None
            size = os.fstat(handle.fileno()).st_size
        return FileWritten(path=where.shown, bytes_written=len(data), size_bytes=size, appended=append)

    def list_directory(self, path: str = ".") -> DirectoryListing:
        """Entries sorted by name (symlinks reported as such, not followed), at most `MAX_LIST_ENTRIES`."""
        where = self._locate(path)
        if not stat.S_ISDIR(self._stat(where).st_mode):
            raise WrongPathTypeError(f"{_quoted(where.shown)} is not a directory; use read_file for files")
        try:
            with os.scandir(where.target) as scan:
                found = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            raise self._os_error(exc, where, "list") from None
        entries: list[DirectoryEntry] = []
        for item in found[:MAX_LIST_ENTRIES]:
            try:
                mode = item.stat(follow_symlinks=False)
            except OSError:
                continue  # removed while listing
            kind = _entry_type(mode.st_mode)
            entries.append(
                DirectoryEntry(name=item.name, type=kind, size_bytes=mode.st_size if kind == "file" else None)
            )
        return DirectoryListing(
            path=where.shown, entries=entries, total_entries=len(found), truncated=len(found) > MAX_LIST_ENTRIES
        )

    def create_directory(self, path: str) -> DirectoryCreated:
        """Create the directory and any missing parents; `created` is false if it already existed."""
        where = self._locate(path)
        if where.target.is_dir():
            return DirectoryCreated(path=where.shown, created=False)
        if where.target.is_symlink() or where.target.exists():
            raise WrongPathTypeError(f"{_quoted(where.shown)} already exists and is not a directory")
        try:
            where.target.mkdir(parents=True)
        except FileExistsError:
            if where.target.is_dir():
                return DirectoryCreated(path=where.shown, created=False)
            raise WrongPathTypeError(f"a parent of {_quoted(where.shown)} is a file, not a directory") from None
        except OSError as exc:
            raise self._os_error(exc, where, "create") from None
        return DirectoryCreated(path=where.shown, created=True)

    def delete_path(self, path: str) -> PathDeleted:
        """Delete a file, a symlink (never its target) or an empty directory; the root itself is refused."""
        where = self._locate(path)
        if where.entry == self._root:
            raise PermissionDeniedError("refusing to delete the sandbox root itself")
        try:
            kind = _entry_type(where.entry.lstat().st_mode)
            if kind == "directory":
                where.entry.rmdir()
            else:
                where.entry.unlink()
        except OSError as exc:
            raise self._os_error(exc, where, "delete") from None
        return PathDeleted(path=where.shown, type=kind)

    def get_path_info(self, path: str) -> PathInfo:
        """Type, size, modification time (UTC, ISO 8601) and permissions of what the path resolves to."""
        where = self._locate(path)
        info = self._stat(where)
        return PathInfo(
            path=where.shown,
            name=where.entry.name if where.entry != self._root else ".",
            type=_entry_type(info.st_mode),
            size_bytes=info.st_size,
            modified=datetime.fromtimestamp(info.st_mtime, tz=UTC).isoformat(timespec="seconds"),
            permissions=stat.filemode(info.st_mode),
            is_symlink=where.entry.is_symlink(),
        )

    # -- confinement ---------------------------------------------------------------------------------------------

    def _locate(self, path: str) -> _Located:
        self._check_text(path)
        candidate = self._root / path  # an absolute `path` replaces the root here, and is then checked like any other
        if candidate.name in ("", ".."):
            entry = self._resolve(candidate, path)
        else:
            entry = self._resolve(candidate.parent, path) / candidate.name
        self._require_inside(entry, path)
        target = self._resolve(entry, path)
        self._require_inside(target, path)
        return _Located(entry=entry, target=target, shown=entry.relative_to(self._root).as_posix() or ".")

    @staticmethod
    def _check_text(path: str) -> None:
        if not isinstance(path, str):
            raise InvalidPathError("the path must be a string")
        if "\x00" in path:
            raise InvalidPathError("the path contains a NUL byte")
        if len(path) > MAX_PATH_CHARS:
            raise InvalidPathError(f"the path is {len(path)} characters long; the limit is {MAX_PATH_CHARS}")
        try:
            names = [name.encode("utf-8") for name in path.split("/")]
        except UnicodeEncodeError:
            raise InvalidPathError("the path is not valid Unicode text") from None
        if any(len(name) > MAX_NAME_BYTES for name in names):
            raise InvalidPathError(f"a name in the path is longer than {MAX_NAME_BYTES} bytes")

    @staticmethod
    def _resolve(path: Path, original: str) -> Path:
        try:
            try:
                return path.resolve(strict=True)
            except (FileNotFoundError, NotADirectoryError):
                return path.resolve()  # the part that does not exist yet is taken as written
        except RuntimeError:  # Python < 3.13 reports a symlink loop this way
            raise InvalidPathError(f"{_quoted(original)} runs into a symbolic link loop") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InvalidPathError(f"{_quoted(original)} runs into a symbolic link loop") from None
            raise InvalidPathError(f"cannot resolve {_quoted(original)}: {exc.strerror}") from None

    def _require_inside(self, resolved: Path, original: str) -> None:
        if not resolved.is_relative_to(self._root):
            raise PathOutsideRootError(
                f"{_quoted(original)} is outside the sandbox root; use a path relative to the root, "
                "such as 'notes/todo.txt'"
            )

    # -- system calls --------------------------------------------------------------------------------------------

    @contextmanager
    def _open_regular_file(
        self, where: _Located, flags: int, mode: Literal["rb", "wb"], action: str
    ) -> Iterator[tuple[BinaryIO, os.stat_result]]:
        try:
            fd = os.open(where.target, flags | _OPEN_FLAGS, 0o644)
        except OSError as exc:
            raise self._os_error(exc, where, action) from None
        try:
            info = os.fstat(fd)
            self._require_regular_file(info.st_mode, where)
        except BaseException:
            os.close(fd)
            raise
        with os.fdopen(fd, mode) as handle:
            yield handle, info

    def _stat(self, where: _Located) -> os.stat_result:
        try:
            return where.target.stat()
        except OSError as exc:
            raise self._os_error(exc, where, "inspect") from None

    @staticmethod
    def _require_regular_file(mode: int, where: _Located) -> None:
        if stat.S_ISDIR(mode):
            raise WrongPathTypeError(f"{_quoted(where.shown)} is a directory; use list_directory for directories")
        if not stat.S_ISREG(mode):
            raise WrongPathTypeError(f"{_quoted(where.shown)} is not a regular file")

    @staticmethod
    def _os_error(exc: OSError, where: _Located, action: str) -> InferstackError:
        name = _quoted(where.shown)
        code = exc.errno
        if code == errno.ENOENT:
            return PathNotFoundError(f"{name} does not exist")
        if code in (errno.EACCES, errno.EPERM):
            return PermissionDeniedError(f"cannot {action} {name}: permission denied by the operating system")
        if code == errno.EISDIR:
            return WrongPathTypeError(f"{name} is a directory; use list_directory for directories")
        if code in (errno.ENOTDIR, errno.EEXIST):
            return WrongPathTypeError(f"a parent of {name} is a file, not a directory")
        if code == errno.ENXIO:  # a FIFO with no reader, a socket
            return WrongPathTypeError(f"{name} is not a regular file")
        if code == errno.ENOTEMPTY:
            return WrongPathTypeError(f"{name} is a directory that is not empty; delete its contents first")
        if code == errno.ELOOP:
            return InvalidPathError(f"{name} is a symbolic link that cannot be followed here")
        if code == errno.ENAMETOOLONG:
            return InvalidPathError(f"{name} is too long for the operating system")
        return InferstackError(f"cannot {action} {name}: {exc.strerror}")
