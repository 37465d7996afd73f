"""A round's answers read whole, held until the round ends and parsed in one job (``devicefamily.parse_round``).

One job per round instead of one per table: a seventh of the hand-offs and worker wake-ups, and the worker's
caches warm from one table to the next (bench/fleet.py, two checkouts at once: -13% of the exporter's CPU,
-17% of the main process's). The held bytes stay counted against the process-wide budget until parsed, and
are bounded for the process: beyond ``ROUND_HOLD_BYTES``, a poller parses what it holds at once (a fleet
starting together, or a very large one).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from exporter.budget import Reservation
from exporter.devicefamily import Answer, ParseOutcome, ParseResult, RoundAnswer, parse_round
from exporter.polling.parsing import ParseWorkers

ROUND_HOLD_BYTES = 8 << 20


def answer_size(raw: object) -> int:
    """The bytes of an answer: a body, or every body in a family's typed answers (a record, a list, a dict)."""
    if isinstance(raw, bytes | bytearray):
        return len(raw)
    if isinstance(raw, dict):
        return sum(answer_size(v) for v in raw.values())
    if isinstance(raw, list | tuple):
        return sum(answer_size(v) for v in raw)
    if dataclasses.is_dataclass(raw):
        return sum(answer_size(getattr(raw, f.name)) for f in dataclasses.fields(raw))
    return 0


@dataclass(slots=True)
class Fetched:
    """An answer read whole, held until the round's answers are parsed together; its bytes stay counted."""

    collector: str
    answer: Answer
    size: int
    seconds: float  # the requests, retries included
    reservation: Reservation | None

    def __post_init__(self) -> None:
        if self.reservation is not None:
            self.reservation.budget.round_held += self.size

    def release(self) -> None:
        if self.reservation is not None:
            self.reservation.budget.round_held -= self.size
            self.reservation.release()
            self.reservation = None


# What the poller does with each parsed answer (or what stopped its parser): (collector, result, error,
# seconds, bytes).
Record = Callable[[str, ParseResult | None, Exception | None, float, int], object]


class HeldAnswers:
    """One target's answers of this round, read whole and not parsed yet."""

    def __init__(self, workers: ParseWorkers, target: str, record: Record):
        self.workers = workers
        self.target = target
        self.record = record
        self.pending: list[Fetched] = []

    def hold(self, fetched: Fetched) -> bool:
        """Hold an answer; whether to parse what is held now (the process holds enough already)."""
        self.pending.append(fetched)
        return fetched.reservation is None or fetched.reservation.budget.round_held > ROUND_HOLD_BYTES

    def holds(self, reservation: Reservation) -> bool:
        return any(f.reservation is reservation for f in self.pending)

    async def parse_all(self, parse: Callable[..., ParseResult]) -> None:
        """Parse the answers held, in one job (``parse``: the family's parse_and_build), and record each; their
        bytes are given back."""
        fetched, self.pending = self.pending, []
        if not fetched:
            return
        try:
            outcomes = await self.workers.run(parse_round, parse, self.target,
                                              [RoundAnswer(f.collector, f.answer) for f in fetched])
        except Exception as exc:  # noqa: BLE001 - the job itself failed (its worker died): each answer with it
            outcomes = [ParseOutcome(None, exc, 0.0)] * len(fetched)
        finally:
            for f in fetched:
                f.release()
        for f, outcome in zip(fetched, outcomes, strict=True):
            self.record(f.collector, outcome.result, outcome.error, f.seconds + outcome.seconds, f.size)

    def drop(self) -> None:
        """A round cancelled (reload, shutdown): give back the bytes held."""
        for fetched in self.pending:
            fetched.release()
        self.pending.clear()
