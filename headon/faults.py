"""Pause points for the crash tests (headon/tests/test_kill.py).

A crash test needs a process stopped at an exact place, say between the
INSERTs of an application and their COMMIT, so that it can kill it there.
`pause("application-submit")` marks such a place. It does nothing unless
the setting HEADON_FAULT_PAUSE (environment variable of the same name)
names that point; it is empty by default and never set in production.

When it names the point, the first process to reach it (across all
processes: the marker file is created exclusively) writes the file
`<HEADON_FAULT_DIR>/<point>` (default: `<data dir>/faults/<point>`) with
its pid and `detail` as JSON, then sleeps, with its transaction open, until
the test kills it. Other processes, and the same point reached again, pass
through, so a restarted server or the next worker does its work normally.
A test disarms a point by creating the marker itself, and arms it by
deleting the marker.
"""

from __future__ import annotations

import json
import os
import threading
import time

from django.conf import settings

# Long enough for any test to kill the process; short enough that a test
# that forgot to leaves no process behind for long.
PAUSE_SECONDS = 120.0


class FaultPauseExpiredError(RuntimeError):
    pass


def pause(point: str, detail: str = "") -> None:
    if point not in settings.HEADON_FAULT_PAUSE:
        return
    os.makedirs(settings.HEADON_FAULT_DIR, exist_ok=True)
    marker = os.path.join(settings.HEADON_FAULT_DIR, point)
    # Written aside, then linked into place: the marker appears whole, and
    # only once (link, like O_EXCL, fails if the name exists).
    written = f"{marker}.{os.getpid()}.{threading.get_ident()}"
    with open(written, "w") as fh:
        json.dump({"pid": os.getpid(), "detail": detail}, fh)
    try:
        os.link(written, marker)
    except FileExistsError:
        return  # paused once already: this run goes through
    finally:
        os.unlink(written)
    time.sleep(PAUSE_SECONDS)
    # Not killed: fail, so the transaction rolls back as a crash would.
    raise FaultPauseExpiredError(point)
