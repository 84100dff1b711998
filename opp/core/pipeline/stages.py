"""The pipeline's stages and the rules for moving a deal between them.

The rules live in :func:`plan_move`, a pure function from (current stage, target, options) to the
change to make, so that single and bulk moves, imports and undo all obey the same rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, update

from opp.core.context import Context
from opp.core.errors import Conflict, Invalid, StageRuleViolation, UnknownStage
from opp.core.money.amounts import parse_probability
from opp.core.records import Stage
from opp.core.refs import clean_text
from opp.store import schema

WON = "closed-won"
LOST = "closed-lost"
ALIASES = {"won": WON, "lost": LOST}
_KEY = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
s = schema.stages


@dataclass(frozen=True)
class Pipeline:
    """The stages in order: the open ones by position, then closed-won and closed-lost."""

    stages: tuple[Stage, ...]

    @property
    def open_stages(self) -> tuple[Stage, ...]:
        return tuple(stage for stage in self.stages if stage.is_open)

    def get(self, key: str) -> Stage:
        """The stage a user's text names (case-insensitive; ``won``/``lost`` are aliases)."""
        wanted = ALIASES.get(key.strip().lower(), key.strip().lower())
        for stage in self.stages:
            if stage.key == wanted:
                return stage
        raise UnknownStage(key, stages=[st.key for st in self.stages])

    def open_index(self, stage: Stage) -> int:
        return self.open_stages.index(stage)


@dataclass(frozen=True)
class Move:
    """What a permitted stage move changes, and what history should say about it."""

    target: Stage
    probability: int
    note: str | None


def load_pipeline(conn: Connection) -> Pipeline:
    rows = conn.execute(select(s).order_by(s.c.position)).mappings()
    return Pipeline(tuple(Stage(**row) for row in rows))


#: The probability of a deal in a closed stage, by the stage's kind: fixed.
CLOSED_PROBABILITY = {"won": 100, "lost": 0}


def check_probability(stage: Stage, probability: int | None) -> None:
    """Refuse a probability a deal in ``stage`` cannot have: closed-won is 100, closed-lost 0."""
    fixed = CLOSED_PROBABILITY.get(stage.kind)
    if fixed is not None and probability is not None and probability != fixed:
        raise Invalid(f"a {stage.key} deal has probability {fixed}, not {probability}")


def plan_move(
    pipeline: Pipeline,
    current: Stage,
    target: Stage,
    *,
    probability: int | None = None,
    force: bool = False,
    reopen: bool = False,
) -> Move | None:
    """The move from ``current`` to ``target`` under the pipeline's rules; None when nothing changes.

    Forward moves go one open stage at a time unless forced (and a forced skip is noted); moving back is
    free; closed-lost is reachable from any open stage, closed-won only from the last open one unless
    forced; a closed deal moves only with ``reopen``, and only to an open stage.
    """
    check_probability(target, probability)
    if target == current:
        return None
    new_probability = target.probability if probability is None else probability
    if not current.is_open:
        if not target.is_open:
            raise StageRuleViolation(
                f"the deal is already {current.key}",
                hint=f"reopen it first: opp stage STAGE ID --reopen, then move it to {target.key}",
            )
        if not reopen:
            raise StageRuleViolation(
                f"the deal is {current.key}", hint=f"to reopen it, run opp stage {target.key} ID --reopen"
            )
        return Move(target, new_probability, f"reopened from {current.key}")
    if target.kind == "lost":
        return Move(target, new_probability, None)
    open_stages = pipeline.open_stages
    here = pipeline.open_index(current)
    there = len(open_stages) if target.kind == "won" else pipeline.open_index(target)
    if there <= here + 1:
        return Move(target, new_probability, None)
    skipped = [stage.key for stage in open_stages[here + 1 : there]]
    if not force:
        if target.kind == "won":
            raise StageRuleViolation(
                f"a deal wins only from {open_stages[-1].key}; this one is in {current.key}",
                hint="move it through " + ", ".join(skipped) + " first, or add --force",
            )
        raise StageRuleViolation(
            f"moving from {current.key} to {target.key} skips " + ", ".join(skipped),
            hint=f"move it to {open_stages[here + 1].key} first, or add --force",
        )
    return Move(target, new_probability, "forced: skipped " + ", ".join(skipped))


def list_stages(ctx: Context) -> list[Stage]:
    with ctx.reading() as conn:
        return list(load_pipeline(conn).stages)


def _check_new_key(text: str) -> str:
    key = text.strip().lower()
    if key in ALIASES or not _KEY.match(key):
        raise Invalid(
            f"invalid stage key {text!r}",
            hint="use lower-case letters, digits and '-', starting with a letter, such as discovery",
        )
    return key


def _renumber(conn: Connection, ordered: list[str]) -> None:
    """Give the open stages positions 1..n in the order given."""
    for position, key in enumerate(ordered, start=1):
        conn.execute(update(s).where(s.c.key == key).values(position=position))


def _order_with(pipeline: Pipeline, key: str, *, after: str | None, before: str | None) -> list[str]:
    """The open stage keys with ``key`` placed after or before the named open stage."""
    if (after is None) == (before is None):
        raise Invalid("give exactly one of --after or --before")
    anchor = pipeline.get(after if after is not None else before or "")
    if not anchor.is_open:
        raise Invalid(f"{anchor.key} is a closed stage", hint="place open stages among the open ones")
    if anchor.key == key:
        raise Invalid(f"cannot place {key} relative to itself")
    ordered = [stage.key for stage in pipeline.open_stages if stage.key != key]
    index = ordered.index(anchor.key) + (1 if after is not None else 0)
    ordered.insert(index, key)
    return ordered


def add_stage(
    ctx: Context,
    key: str,
    *,
    probability: str,
    name: str | None = None,
    after: str | None = None,
    before: str | None = None,
) -> Stage:
    new_key = _check_new_key(key)
    chance = parse_probability(probability)
    display = clean_text(name, what="stage name", max_length=100) or new_key.replace("-", " ").capitalize()
    with ctx.unit_of_work("stages add") as uow:
        pipeline = load_pipeline(uow.conn)
        if any(stage.key == new_key for stage in pipeline.stages):
            raise Conflict(f"stage {new_key!r} already exists")
        ordered = _order_with(pipeline, new_key, after=after, before=before)
        uow.conn.execute(
            insert(s).values(key=new_key, name=display, probability=chance, position=0, kind="open")
        )
        _renumber(uow.conn, ordered)
        result = load_pipeline(uow.conn).get(new_key)
    return result


def edit_stage(
    ctx: Context,
    key: str,
    *,
    name: str | None = None,
    probability: str | None = None,
    after: str | None = None,
    before: str | None = None,
) -> Stage:
    """Rename, re-weight or move an open stage; existing deals keep the probability they carry."""
    with ctx.unit_of_work("stages edit") as uow:
        pipeline = load_pipeline(uow.conn)
        stage = pipeline.get(key)
        if not stage.is_open:
            raise Conflict(f"{stage.key} is a closed stage and cannot be changed")
        values: dict[str, object] = {}
        if name is not None:
            values["name"] = clean_text(name, what="stage name", max_length=100, required=True)
        if probability is not None:
            values["probability"] = parse_probability(probability)
        if values:
            uow.conn.execute(update(s).where(s.c.key == stage.key).values(**values))
        if after is not None or before is not None:
            _renumber(uow.conn, _order_with(pipeline, stage.key, after=after, before=before))
        result = load_pipeline(uow.conn).get(stage.key)
    return result


def remove_stage(ctx: Context, key: str) -> Stage:
    with ctx.unit_of_work("stages remove") as uow:
        pipeline = load_pipeline(uow.conn)
        stage = pipeline.get(key)
        if not stage.is_open:
            raise Conflict(f"{stage.key} is a closed stage and cannot be removed")
        if len(pipeline.open_stages) == 1:
            raise Conflict(f"{stage.key} is the only open stage", hint="add another open stage first")
        o = schema.opportunities
        in_use = uow.conn.execute(select(func.count()).where(o.c.stage == stage.key)).scalar_one()
        if in_use:
            raise Conflict(
                f"stage {stage.key} still holds {in_use} deal(s)",
                hint=f"move them elsewhere first: opp list --stage {stage.key} -f ids | opp stage OTHER -",
            )
        uow.conn.execute(delete(s).where(s.c.key == stage.key))
        _renumber(uow.conn, [st.key for st in pipeline.open_stages if st != stage])
    return stage
