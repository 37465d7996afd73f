"""The frames between the exporter and its parse workers: the one place that defines them.

On the pipe, each frame is preceded by its length as multiprocessing.connection writes it (``LENGTH``: the
worker side reads with ``Connection.recv_bytes``); a frame is one kind byte, the job's number (``JOB``), then a
payload:

    to a worker:   WHOLE job pickle((fn, args))          an answer read whole: fn(*args)
                   OPEN job pickle((fn, args, head))     a streamed one: fn(*args, BodyStream(head, ...))
                   DATA job bytes | END job | ABANDON job   its next chunk, its end, or give it up
    from a worker: TAKEN job (a chunk taken)   RESULT job pickle((ok, value))

Imported by the worker processes: nothing but the standard library.
"""

from __future__ import annotations

import struct

JOB = struct.Struct("!I")
LENGTH = struct.Struct("!i")  # multiprocessing.connection's frame header
HEADER = 1 + JOB.size  # kind and job number: the payload starts here

WHOLE = b"W"
OPEN = b"O"
DATA = b"D"
END = b"E"
ABANDON = b"A"
TAKEN = b"K"
RESULT = b"R"


def header(kind: bytes, job: int) -> bytes:
    return kind + JOB.pack(job)
