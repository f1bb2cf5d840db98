"""The mosaik federates, one module each, and the command line they share.

Every federate module runs as ``python -m simulators.<name> [options] [HOST:PORT]``
(see :func:`run_federate`):

- ``HOST:PORT`` without ``--remote``: connect to mosaik there (how mosaik's ``cmd``
  placement starts it);
- ``--remote [HOST:PORT]``: listen there for mosaik to connect (``connect`` placement);
  without a host (``PORT`` or ``:PORT``) or without any address (the federate's
  :data:`DEFAULT_PORTS` entry) it listens on loopback only, 127.0.0.1. To accept
  connections from other machines, give the address explicitly (e.g. ``0.0.0.0:5679``).
"""

from __future__ import annotations

import asyncio
import errno
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import mosaik_api_v3

#: the address a federate listens on when none is given: loopback only
LOOPBACK = "127.0.0.1"
#: the port each federate listens on when none is given
DEFAULT_PORTS = {"feeds": 5677, "grid": 5678, "devices": 5679, "agents": 5680, "recorder": 5681}

# mosaik-api-v3's options that take a value (the address is the one other argument)
_VALUE_OPTIONS = ("-l", "--log-level", "-t", "--timeout")


def pop_path_options(argv: Sequence[str], option: str,
                     name: str) -> tuple[list[str], list[str]]:
    """``argv`` without its ``OPTION PATH`` (or ``OPTION=PATH``) options, and the paths
    they name (``name``: the federate's, for the message of an option without a path)."""
    rest: list[str] = []
    paths: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == option:
            path = next(args, None)
            if path is None:
                raise SystemExit(f"{name} federate: {option} needs a path")
            paths.append(path)
        elif arg.startswith(f"{option}="):
            paths.append(arg[len(option) + 1:])
        else:
            rest.append(arg)
    return rest, paths


def listen_argv(argv: Sequence[str], default_port: int) -> list[str]:
    """``argv`` (a federate's arguments) with the address made explicit: no address
    means ``--remote 127.0.0.1:<default_port>``; ``PORT`` or ``:PORT`` means
    ``127.0.0.1:PORT``; ``HOST:PORT`` stays as given."""
    args = list(argv)
    if any(a in ("-h", "--help", "--version") for a in args):
        return args
    position = None
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
        elif arg in _VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            position = i
            break
    if position is None:
        if "-r" not in args and "--remote" not in args:
            args.append("--remote")
        return [*args, f"{LOOPBACK}:{default_port}"]
    addr = args[position].strip()
    if addr.isdigit():
        args[position] = f"{LOOPBACK}:{addr}"
    elif addr.startswith(":") and addr[1:].isdigit():
        args[position] = f"{LOOPBACK}{addr}"
    return args


#: errors of listening on or connecting to an address (a file's errors name the file)
_ADDRESS_ERRNOS = frozenset({errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES,
                             errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH,
                             errno.ETIMEDOUT})


def _is_address_error(exc: OSError) -> bool:
    import socket

    return isinstance(exc, socket.gaierror) or (
        exc.filename is None and exc.errno in _ADDRESS_ERRNOS)


def run_federate(simulator: mosaik_api_v3.Simulator, description: str, name: str,
                 argv: Sequence[str] | None = None) -> int:
    """Run ``simulator`` (a mosaik_api_v3.Simulator) with the command line of the module
    docstring; ``name`` is the federate's (for its default port). Returns the exit code:
    0 when mosaik stopped it, 1 when mosaik's connection broke off, 2 when its address
    cannot be used (taken, say), 130 on Ctrl-C -- each with one line on stderr."""
    import mosaik_api_v3
    from mosaik_api_v3.connection import EndOfRequests

    _end_on_reset_connection()
    args = listen_argv(sys.argv[1:] if argv is None else argv, DEFAULT_PORTS[name])
    if "-r" in args or "--remote" in args:
        addr = next((a for a in args if ":" in a and not a.startswith("-")), "?")
        print(f"{name} federate: waiting for mosaik on {addr}", file=sys.stderr, flush=True)
    sys.argv[1:] = args  # mosaik_api_v3 reads its options from sys.argv
    try:
        # mosaik-api's loguru INFO lines ("tries to connect to mosaik") would land in the
        # middle of the scenario's progress bar; ``--log-level`` still turns them on
        return int(mosaik_api_v3.start_simulation(simulator, description,
                                                  configure_logging=False) or 0)
    except EndOfRequests:
        print(f"{name} federate: mosaik closed the connection without stopping it; exiting",
              file=sys.stderr)
        return 1
    except OSError as exc:  # the address is taken, or cannot be listened on / reached
        if not _is_address_error(exc):  # e.g. a data set file missing at 'init'
            print(f"{name} federate: {exc}", file=sys.stderr)
            return 2
        addr = next((a for a in args if ":" in a and not a.startswith("-")), "?")
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        print(f"{name} federate: cannot use {addr}: {reason}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name} federate: interrupted", file=sys.stderr)
        return 130


def _end_on_reset_connection() -> None:
    """Make a reset connection end the federate as a closed one does.

    mosaik-api-v3 (3.0.x) ends a federate when mosaik closes the connection (EOF), but
    when mosaik dies with data unread (SIGKILL mid-run) the kernel resets the
    connection instead: the channel's reader task dies with ConnectionResetError, no
    end is signalled, and the federate would wait for a request forever, an orphan.
    """
    from mosaik_api_v3 import connection

    channel = connection.Channel
    if getattr(channel, "_ends_on_reset", False):
        return
    receive = channel._receive_forever

    async def receive_forever(self: connection.Channel) -> None:
        try:
            await receive(self)
        except OSError:  # ConnectionResetError, BrokenPipeError, ...
            for future in self._outgoing_request_futures.values():
                if not future.done():
                    future.set_exception(asyncio.IncompleteReadError(b"", None))
            self._incoming_requests.put_nowait(connection.EndOfRequests())

    channel._receive_forever = receive_forever  # type: ignore[method-assign]
    channel._ends_on_reset = True  # type: ignore[attr-defined]
