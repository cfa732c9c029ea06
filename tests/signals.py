"""Signal set-up for tests that send Ctrl-C (SIGINT) to a ``codegen`` child process."""

from __future__ import annotations

import signal


def ctrl_c_default() -> None:
    """``preexec_fn`` of such a child: SIGINT back to its default disposition.  A shell that runs
    the test suite in the background without job control (``make test &`` in a script, ``nohup``)
    starts it with SIGINT ignored, every child inherits that, and Python then installs no
    KeyboardInterrupt handler: the child would finish its run and exit 0.  A user's Ctrl-C in a
    terminal meets the default disposition, which is what these tests are about."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
