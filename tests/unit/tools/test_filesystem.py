"""SandboxedFilesystem: the operations, their limits, and every way out of the root we know of."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from inferstack.core.errors import InferstackError, PermissionDeniedError
from inferstack.tools import filesystem
from inferstack.tools.filesystem import (
    FileTooLargeError,
    InvalidPathError,
    PathNotFoundError,
    PathOutsideRootError,
    SandboxedFilesystem,
    SandboxRootError,
    WrongPathTypeError,
)

SECRET = "outside the sandbox"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "secret.txt").write_text(SECRET)
    return directory


@pytest.fixture
def root(tmp_path: Path, outside: Path) -> Path:
    directory = tmp_path / "root"
    (directory / "a" / "b").mkdir(parents=True)
    (directory / "notes.txt").write_text("hello")
    (directory / "out").symlink_to(outside)  # a directory link leading out
    (directory / "secret_link").symlink_to(outside / "secret.txt")  # a file link leading out
    (directory / "dangling_out").symlink_to(outside / "new.txt")  # a link to a file that does not exist yet
    (directory / "loop").symlink_to(directory / "loop")
    (directory / "ping").symlink_to(directory / "pong")
    (directory / "pong").symlink_to(directory / "ping")
    (directory / "notes_link").symlink_to("notes.txt")
    (directory / "root_link").symlink_to(directory)
    return directory


@pytest.fixture
def fs(root: Path) -> SandboxedFilesystem:
    return SandboxedFilesystem(root, max_file_bytes=64)


def snapshot(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): p.read_text() for p in sorted(directory.rglob("*")) if p.is_file()}


# -- the operations -------------------------------------------------------------------------------------------------


def test_write_then_read_round_trip_creates_parents(fs: SandboxedFilesystem, root: Path) -> None:
    written = fs.write_file("reports/2025/summary.md", "héllo\n")
    assert (written.path, written.bytes_written, written.size_bytes, written.appended) == (
        "reports/2025/summary.md",
        7,
        7,
        False,
    )
    assert (root / "reports/2025/summary.md").read_text() == "héllo\n"
    read = fs.read_file("reports/2025/summary.md")
    assert (read.path, read.content, read.size_bytes) == ("reports/2025/summary.md", "héllo\n", 7)


def test_overwrite_replaces_and_append_appends(fs: SandboxedFilesystem, root: Path) -> None:
    fs.write_file("notes.txt", "one")
    assert (root / "notes.txt").read_text() == "one"
    appended = fs.write_file("notes.txt", "+two", append=True)
    assert appended.appended and appended.size_bytes == 7
    assert fs.read_file("notes.txt").content == "one+two"


def test_absolute_path_inside_root_is_accepted(fs: SandboxedFilesystem, root: Path) -> None:
    assert fs.read_file(str(root / "notes.txt")).path == "notes.txt"


def test_symlink_inside_root_is_followed_for_reading(fs: SandboxedFilesystem) -> None:
    assert fs.read_file("notes_link").content == "hello"
    info = fs.get_path_info("notes_link")
    assert info.is_symlink and info.type == "file" and info.size_bytes == 5


def test_list_directory_sorted_with_types(fs: SandboxedFilesystem) -> None:
    listing = fs.list_directory(".")
    names = [e.name for e in listing.entries]
    assert names == sorted(names) and listing.path == "." and not listing.truncated
    kinds = {e.name: (e.type, e.size_bytes) for e in listing.entries}
    assert kinds["a"] == ("directory", None)
    assert kinds["notes.txt"] == ("file", 5)
    assert kinds["out"] == ("symlink", None)  # reported, not followed
    assert fs.list_directory("").entries == listing.entries
    assert [e.name for e in fs.list_directory("a").entries] == ["b"]


def test_list_directory_says_when_it_stops_early(
    fs: SandboxedFilesystem, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filesystem, "MAX_LIST_ENTRIES", 2)
    listing = fs.list_directory(".")
    assert len(listing.entries) == 2 and listing.truncated
    assert listing.total_entries == len(os.listdir(root))


def test_create_directory_is_idempotent(fs: SandboxedFilesystem, root: Path) -> None:
    assert fs.create_directory("x/y/z").created
    assert (root / "x/y/z").is_dir()
    assert not fs.create_directory("x/y/z").created
    with pytest.raises(WrongPathTypeError, match="not a directory"):
        fs.create_directory("notes.txt")


def test_delete_file_and_empty_directory_but_not_a_full_one(fs: SandboxedFilesystem, root: Path) -> None:
    with pytest.raises(WrongPathTypeError, match="not empty"):
        fs.delete_path("a")
    assert fs.delete_path("a/b").type == "directory"
    assert fs.delete_path("notes.txt").type == "file"
    assert not (root / "notes.txt").exists() and not (root / "a/b").exists()
    with pytest.raises(PathNotFoundError):
        fs.delete_path("notes.txt")


def test_delete_symlink_removes_the_link_not_its_target(fs: SandboxedFilesystem, root: Path) -> None:
    assert fs.delete_path("notes_link").type == "symlink"
    assert not (root / "notes_link").is_symlink() and (root / "notes.txt").read_text() == "hello"
    assert fs.delete_path("root_link").type == "symlink"
    assert root.is_dir() and (root / "notes.txt").exists()


def test_path_info(fs: SandboxedFilesystem) -> None:
    info = fs.get_path_info("notes.txt")
    assert (info.path, info.name, info.type, info.size_bytes, info.is_symlink) == (
        "notes.txt",
        "notes.txt",
        "file",
        5,
        False,
    )
    assert info.permissions.startswith("-rw") and info.modified.endswith("+00:00")
    assert fs.get_path_info(".").type == "directory"
    assert fs.get_path_info("a/b/..").path == "a"


def test_wrong_types_and_missing_paths(fs: SandboxedFilesystem) -> None:
    with pytest.raises(WrongPathTypeError, match="is a directory"):
        fs.read_file("a")
    with pytest.raises(WrongPathTypeError, match="is a directory"):
        fs.write_file("a", "x")
    with pytest.raises(WrongPathTypeError, match="sandbox root directory"):
        fs.write_file(".", "x")
    with pytest.raises(WrongPathTypeError, match="not a directory"):
        fs.list_directory("notes.txt")
    with pytest.raises(WrongPathTypeError, match=r"parent .* is a file"):
        fs.write_file("notes.txt/inner.txt", "x")
    with pytest.raises(PathNotFoundError, match=r"'missing\.txt' does not exist"):
        fs.read_file("missing.txt")
    with pytest.raises(PathNotFoundError):
        fs.get_path_info("missing/deeper")


def test_binary_content_is_refused_not_mangled(fs: SandboxedFilesystem, root: Path) -> None:
    (root / "image.bin").write_bytes(b"\x89PNG\xff\xfe")
    with pytest.raises(WrongPathTypeError, match="not UTF-8"):
        fs.read_file("image.bin")


def test_fifo_is_refused_without_blocking(fs: SandboxedFilesystem, root: Path) -> None:
    os.mkfifo(root / "pipe")
    outcome: list[type[BaseException]] = []

    def read() -> None:
        try:
            fs.read_file("pipe")
        except InferstackError as exc:
            outcome.append(type(exc))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert outcome == [WrongPathTypeError]


# -- size limits: refused, never truncated ----------------------------------------------------------------------------


def test_size_limits(fs: SandboxedFilesystem, root: Path) -> None:
    with pytest.raises(FileTooLargeError, match="write limit is 64"):
        fs.write_file("big.txt", "x" * 65)
    assert not (root / "big.txt").exists()
    assert fs.write_file("exact.txt", "x" * 64).size_bytes == 64
    with pytest.raises(FileTooLargeError, match=r"would make 'exact\.txt' 65 bytes"):
        fs.write_file("exact.txt", "y", append=True)
    assert (root / "exact.txt").read_text() == "x" * 64
    (root / "huge.txt").write_text("z" * 65)
    with pytest.raises(FileTooLargeError, match="larger than the 64-byte read limit"):
        fs.read_file("huge.txt")
    with pytest.raises(FileTooLargeError):  # multi-byte characters count as bytes
        fs.write_file("wide.txt", "é" * 33)


# -- confinement -----------------------------------------------------------------------------------------------------

Operation = Callable[[SandboxedFilesystem, str], object]
OPERATIONS: dict[str, Operation] = {
    "read_file": lambda fs, p: fs.read_file(p),
    "write_file": lambda fs, p: fs.write_file(p, "pwned"),
    "append": lambda fs, p: fs.write_file(p, "pwned", append=True),
    "list_directory": lambda fs, p: fs.list_directory(p),
    "create_directory": lambda fs, p: fs.create_directory(p),
    "delete_path": lambda fs, p: fs.delete_path(p),
    "get_path_info": lambda fs, p: fs.get_path_info(p),
}

ESCAPES = [
    "..",
    "../outside/secret.txt",
    "../outside/new.txt",
    "a/../../outside/secret.txt",
    "a/b/../../..",  # the root's parent, reached through nested directories
    "a/b/../../../outside",
    "./../outside",
    "/etc/passwd",
    "/tmp",
    "/",
    "out",  # symlink to a directory outside
    "out/secret.txt",
    "out/new.txt",
    "out/../notes.txt",  # `..` after a symlink is taken from the link's target, as the kernel does
    "secret_link",  # symlink to a file outside
    "dangling_out",  # symlink to a not-yet-existing file outside
]


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("path", ESCAPES)
def test_escapes_are_refused_and_touch_nothing(
    fs: SandboxedFilesystem, root: Path, outside: Path, operation: str, path: str
) -> None:
    before_outside, before_root = snapshot(outside), snapshot(root)
    with pytest.raises(PathOutsideRootError, match="outside the sandbox root"):
        OPERATIONS[operation](fs, path)
    assert snapshot(outside) == before_outside == {"secret.txt": SECRET}
    assert snapshot(root) == before_root
    assert outside.is_dir() and not (outside / "new.txt").exists()


def test_absolute_path_to_the_outside_file_is_refused(fs: SandboxedFilesystem, outside: Path) -> None:
    for operation in OPERATIONS.values():
        with pytest.raises(PathOutsideRootError):
            operation(fs, str(outside / "secret.txt"))
    assert (outside / "secret.txt").read_text() == SECRET


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("path", ["loop", "ping", "loop/inner.txt", "missing/../loop"])
def test_symlink_loops_fail_cleanly(fs: SandboxedFilesystem, operation: str, path: str) -> None:
    with pytest.raises(InvalidPathError, match="symbolic link loop"):
        OPERATIONS[operation](fs, path)


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_nul_bytes_are_refused(fs: SandboxedFilesystem, root: Path, operation: str) -> None:
    with pytest.raises(InvalidPathError, match="NUL byte"):
        OPERATIONS[operation](fs, "notes.txt\x00.png")
    assert (root / "notes.txt").read_text() == "hello"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("x" * 1025, "limit is 1024"),
        ("a/" + "y" * 256, "longer than 255 bytes"),
        ("é" * 128, "longer than 255 bytes"),  # 256 bytes in UTF-8
        ("bad\udc80name", "not valid Unicode"),
    ],
)
def test_unusable_path_text_is_refused(fs: SandboxedFilesystem, path: str, message: str) -> None:
    for operation in OPERATIONS.values():
        with pytest.raises(InvalidPathError, match=message):
            operation(fs, path)


@pytest.mark.parametrize("path", [".", "", "./", "a/..", "a/b/../..", "root_link/a/..", "ROOT", "ROOT/"])
def test_deleting_the_root_itself_is_refused(fs: SandboxedFilesystem, root: Path, path: str) -> None:
    path = path.replace("ROOT", str(root))
    with pytest.raises(PermissionDeniedError, match="sandbox root itself"):
        fs.delete_path(path)
    assert root.is_dir() and (root / "notes.txt").exists()


def test_root_must_be_a_real_directory_and_not_the_filesystem_root(tmp_path: Path) -> None:
    with pytest.raises(SandboxRootError, match="unusable"):
        SandboxedFilesystem(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(SandboxRootError, match="not a directory"):
        SandboxedFilesystem(tmp_path / "file")
    with pytest.raises(SandboxRootError, match="filesystem root"):
        SandboxedFilesystem(Path("/"))


def test_root_given_through_a_symlink_confines_to_the_real_directory(tmp_path: Path, root: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(root)
    fs = SandboxedFilesystem(alias)
    assert fs.root == root.resolve()
    assert fs.read_file(str(alias / "notes.txt")).content == "hello"
    with pytest.raises(PathOutsideRootError):
        fs.read_file("../outside/secret.txt")


def test_errors_never_show_the_host_path_of_the_root(fs: SandboxedFilesystem, root: Path) -> None:
    for call in (lambda: fs.read_file("missing.txt"), lambda: fs.read_file("a"), lambda: fs.delete_path("a")):
        with pytest.raises(InferstackError) as caught:
            call()
        assert str(root) not in caught.value.message
