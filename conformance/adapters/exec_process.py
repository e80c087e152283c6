"""One running ``--exec`` program: non-blocking pipes, one answer line read in bounded chunks,
a bounded stderr tail, and SIGKILL to its whole process group.

Output is read as bytes: stderr is kept as a bounded tail and decoded leniently, so nothing the
program writes there can stop the driver. The program runs in its own session (process group);
every kill is SIGKILL to the whole group, so nothing it started outlives it. What a reply means
for the protocol is :mod:`.subprocess_protocol`'s business.
"""

from __future__ import annotations

import os
import selectors
import shlex
import signal
import subprocess
import time
import weakref
from dataclasses import dataclass
from typing import Any

from adagrad.conformance.adapters.base import AdapterError
from adagrad.conformance.adapters.exec_messages import QUOTED, head

__all__ = ["EXEC_CWD_VARIABLE", "STDERR_TAIL_BYTES", "ProgramProcess", "Reply"]

#: Environment variable naming the directory the program runs in (the runner sets it).
EXEC_CWD_VARIABLE = "ADAGRAD_EXEC_CWD"
#: Bytes of the program's stderr kept (the end of it), for failure messages.
STDERR_TAIL_BYTES = 16384
_CHUNK = 1 << 16


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the program's process group (it is a session leader), reap it, close the pipes."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:  # the group is gone already (or the platform has none): kill the one process
        if proc.poll() is None:
            proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a SIGKILLed process does not linger
        pass
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        try:
            if pipe is not None:
                pipe.close()
        except OSError:
            pass


@dataclass
class Reply:
    """What one exchange produced."""

    kind: str  # line, eof, timeout, too-long, garbage or extra
    data: bytes = b""
    seen: int = 0  # bytes of the answer read (too-long, garbage, timeout, extra)


class ProgramProcess:
    """One running program: non-blocking pipes, stdout read in chunks, a bounded stderr tail."""

    def __init__(self, argv: list[str]) -> None:
        try:
            # the runner's pytest runs in a scratch directory: relative paths mean the user's directory
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                cwd=os.environ.get(EXEC_CWD_VARIABLE) or None,
                start_new_session=True,
            )
        except OSError as exc:
            raise AdapterError(f"cannot start {shlex.join(argv)}: {exc}") from None
        # killed at the latest when this object goes away or the interpreter exits
        self._finalizer = weakref.finalize(self, _kill_group, self.proc)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            os.set_blocking(pipe.fileno(), False)
        self.pending = b""  # stdout read past the last answer line (at most one chunk)
        self.stderr = bytearray()
        self.open = {"stdout": True, "stderr": True, "stdin": True}
        #: False once an answer came before the whole request was written: the streams no longer pair up
        self.in_step = True

    def exchange(self, request: bytes, deadline: float, limit: int) -> Reply:
        """Write ``request``, read one answer line; never blocks past ``deadline``."""
        out, err, inp = self.proc.stdout, self.proc.stderr, self.proc.stdin
        if not self.pending and self.open["stdout"]:
            try:  # output that arrived since the last answer: it answers nothing
                self.pending = os.read(out.fileno(), _CHUNK)
            except OSError:  # BlockingIOError: nothing there
                pass
        if self.pending:  # printed before this request was sent: it answers nothing
            self.in_step = False
            return Reply("extra", self.pending[:QUOTED], len(self.pending))
        sel = selectors.DefaultSelector()
        written = 0
        if self.open["stdin"]:
            sel.register(inp, selectors.EVENT_WRITE)
        if self.open["stdout"]:
            sel.register(out, selectors.EVENT_READ)
        if self.open["stderr"]:
            sel.register(err, selectors.EVENT_READ)
        chunks: list[bytes] = []
        seen = 0
        started = False  # a non-blank byte of the answer was seen
        data = b""
        try:
            while True:
                if data:
                    end = data.find(b"\n")
                    piece = data if end < 0 else data[:end]
                    if not started and piece.strip():
                        started = True
                        if not piece.lstrip().startswith(b"{"):  # cannot be a JSON object: garbage now
                            return Reply("garbage", head([*chunks, piece]), seen + len(piece))
                    if seen + len(piece) > limit:
                        return Reply("too-long", head(chunks), seen + len(piece))
                    seen += len(piece)
                    if end >= 0:
                        self.pending = data[end + 1 :]
                        if written < len(request):
                            self.in_step = False
                        return Reply("line", b"".join(chunks) + piece)
                    chunks.append(piece)
                    data = b""
                if not sel.get_map():  # every pipe closed and no line: the program is gone
                    return Reply("eof", head(chunks), seen)
                left = deadline - time.monotonic()
                if left <= 0:
                    return Reply("timeout", head(chunks), seen)
                for key, _ in sel.select(left):
                    if key.fileobj is inp:
                        try:
                            written += os.write(inp.fileno(), request[written : written + _CHUNK])
                        except BlockingIOError:
                            continue
                        except OSError:  # the program closed its stdin (or exited): reading says how
                            self.open["stdin"] = False
                            sel.unregister(inp)
                            continue
                        if written >= len(request):
                            sel.unregister(inp)
                    elif key.fileobj is out:
                        got = self._read(out, "stdout", sel)
                        if got is None:  # end of stdout: the program is gone, its stderr may say why
                            self._drain_stderr(sel)
                            return Reply("eof", head(chunks), seen)
                        data = got
                    else:
                        got = self._read(err, "stderr", sel)
                        if got:
                            self.stderr += got
                            del self.stderr[:-STDERR_TAIL_BYTES]
        finally:
            sel.close()

    def _read(self, pipe: Any, name: str, sel: selectors.BaseSelector) -> bytes | None:
        """One chunk; b"" if nothing was ready, None at the end of the stream."""
        try:
            got = os.read(pipe.fileno(), _CHUNK)
        except BlockingIOError:
            return b""
        except OSError:
            got = b""
        if not got:
            self.open[name] = False
            sel.unregister(pipe)
            return None
        return got

    def _drain_stderr(self, sel: selectors.BaseSelector, seconds: float = 1.0) -> None:
        """After stdout ended: what the program still writes on stderr (why it exited, usually)."""
        if not self.open["stderr"]:
            return
        deadline = time.monotonic() + seconds
        err = self.proc.stderr
        for key in list(sel.get_map().values()):  # stdin would be "ready" all the time
            if key.fileobj is not err:
                sel.unregister(key.fileobj)
        while self.open["stderr"] and time.monotonic() < deadline:
            if sel.select(deadline - time.monotonic()):
                got = self._read(err, "stderr", sel)
                if got:
                    self.stderr += got
                    del self.stderr[:-STDERR_TAIL_BYTES]

    def exit_status(self, wait: float = 2.0) -> int | None:
        """The program's exit status, waiting a little for it; None if it is still running."""
        try:
            return self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return None

    def alive(self) -> bool:
        return self.proc.poll() is None and self.open["stdout"] and self.in_step

    def stderr_tail(self) -> str:
        text = bytes(self.stderr).decode("utf-8", errors="replace")
        lines = [ln.strip()[-300:] for ln in text.splitlines() if ln.strip()]  # a line's end says most
        tail = " | ".join(lines[-5:])
        return f"; its stderr ends: {tail}" if tail else ""

    def kill(self) -> None:
        """SIGKILL the program and everything in its process group."""
        self._finalizer()
