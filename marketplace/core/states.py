"""The one way a state machine is written here: a table of (from, to) → the actors who may make that move.

Orders, checkouts, after-sales requests, products and vendor applications each declare one `StateMachine`
beside their status enum; the single function of their package that writes the status asks it first, so a
move the table does not list is a 409 wherever it is attempted. Pages ask the same table which buttons to
show, and the seed walks it to give demo objects a believable history."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from marketplace.core.errors import Conflict

S = TypeVar("S", bound=StrEnum)


class Actor(StrEnum):
    BUYER = "buyer"
    VENDOR = "vendor"
    ADMIN = "admin"
    SYSTEM = "system"  # the platform itself: the sweeper, a payment gateway's callback, the seed


class StateMachine(Generic[S]):
    """`transitions` maps (from, to) to who may make that move; anything else is refused with a 409 whose
    problem names the current state under `status_field`."""

    def __init__(
        self, noun: str, transitions: Mapping[tuple[S, S], Iterable[Actor]], status_field: str = "current_status"
    ) -> None:
        self.noun = noun
        self.status_field = status_field
        self.transitions: dict[tuple[S, S], frozenset[Actor]] = {
            move: frozenset(actors) for move, actors in transitions.items()
        }

    def allows(self, current: S, target: S, actor: Actor) -> bool:
        return actor in self.transitions.get((current, target), ())

    def check(self, current: S, target: S, actor: Actor) -> None:
        """Raise a 409 naming the move unless `actor` may move from `current` to `target`."""
        if not self.allows(current, target, actor):
            raise Conflict(f"a {actor} cannot move a {current} {self.noun} to {target}", **{self.status_field: current})

    def sources(self, target: S, actor: Actor) -> set[S]:
        """The states from which `actor` may move to `target` (a conditional UPDATE's `WHERE status = ANY`)."""
        return {current for (current, to), actors in self.transitions.items() if to == target and actor in actors}

    def targets(self, current: S, actor: Actor) -> list[S]:
        """Where `actor` may move from `current`, in the table's order."""
        return [to for (at, to), actors in self.transitions.items() if at == current and actor in actors]

    def path(self, start: S, target: S) -> list[S]:
        """The shortest chain of moves from `start` to `target` (both included), by anyone; [] if none."""
        previous: dict[S, S | None] = {start: None}
        queue = deque([start])
        while queue:
            state = queue.popleft()
            if state == target:
                chain = [state]
                while (before := previous[chain[-1]]) is not None:
                    chain.append(before)
                return chain[::-1]
            for at, to in self.transitions:
                if at == state and to not in previous:
                    previous[to] = state
                    queue.append(to)
        return []


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"
