"""The Redis gate in front of a flash sale: one Lua call per purchase attempt decides, atomically, whether
the buyer may go on to PostgreSQL. It admits at most the units left and the buyer's limit, and turns away
the rest (rate-limited, not started, ended, limit reached, sold out) without touching the database.

The gate is a copy: PostgreSQL's `flash_sales.sold` and `flash_sale_buyers` stay the truth, and a
conditional update there still refuses a unit too many. `rebuild` copies the truth into Redis; the keeper
(`GateKeeper`) does so when Redis restarted (its run id changed, whatever an RDB file brought back), and
when gate and database disagree while the sale is quiet, which is how units given back by expired or
cancelled orders return to the gate.

Quiet means the gate has admitted nobody for longer than a purchase can take. While admissions are on their
way to PostgreSQL the two always differ, and a rebuild then would erase those buyers' holds: their retries
would be told "sold out" and strangers let through in their place.

Keys share the hash tag `{flash:<id>}` so a sale's keys live on one Redis Cluster node:
    {flash:<id>}          hash: remaining, starts, ends, limit, expire, admitted (the last admission; epoch ms)
    {flash:<id>}:buyers   hash: buyer id -> units admitted
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from redis.asyncio import Redis

from marketplace.core.outage import run_forever
from marketplace.flash_sales import queries as q

log = logging.getLogger(__name__)

RUN_ID_KEY = "flash:gates:run_id"  # the Redis run id the gates were last rebuilt for
KEEP_AFTER_END_MS = 3_600_000  # keys outlive their sale by an hour, then Redis drops them

# KEYS: gate, buyers, per-IP counter, per-buyer counter. ARGV: buyer id, quantity, IP limit, buyer limit
# (requests per second; 0 counts nothing: a retry of the same attempt). Returns {verdict, number}: the
# units left when admitted or sold out, the units the buyer already holds when the limit is reached.
ADMIT = """
for i, limit in ipairs({tonumber(ARGV[3]), tonumber(ARGV[4])}) do
    if limit > 0 then
        local hits = redis.call('INCR', KEYS[i + 2])
        if hits == 1 then redis.call('EXPIRE', KEYS[i + 2], 2) end
        if hits > limit then return {'rate_limited', 0} end
    end
end
local gate = redis.call('HMGET', KEYS[1], 'remaining', 'starts', 'ends', 'limit', 'expire')
if not gate[1] then return {'missing', 0} end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
if now < tonumber(gate[2]) then return {'not_started', 0} end
if now >= tonumber(gate[3]) then return {'ended', 0} end
local quantity = tonumber(ARGV[2])
local held = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if held + quantity > tonumber(gate[4]) then return {'limit_reached', held} end
local remaining = tonumber(gate[1])
if remaining < quantity then return {'sold_out', remaining} end
redis.call('HINCRBY', KEYS[1], 'remaining', -quantity)
redis.call('HSET', KEYS[1], 'admitted', now)
redis.call('HINCRBY', KEYS[2], ARGV[1], quantity)
redis.call('PEXPIREAT', KEYS[2], gate[5])
return {'admitted', remaining - quantity}
"""
# KEYS: gate, buyers. ARGV: buyer id, quantity. Gives back an admission PostgreSQL did not take up.
RELEASE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'remaining', ARGV[2])
if redis.call('HINCRBY', KEYS[2], ARGV[1], -tonumber(ARGV[2])) <= 0 then
    redis.call('HDEL', KEYS[2], ARGV[1])
end
return 1
"""
# KEYS: gate, buyers. ARGV: mode, quiet ms, remaining, starts, ends, limit, expire, then buyer id and units
# pairs. Mode "missing" builds only a gate that is not there; "quiet" replaces one only if it has admitted
# nobody for the quiet ms (checked here, atomically: an admission after the database was read wins); "always"
# replaces it whatever it holds.
BUILD = """
local mode = ARGV[1]
if mode == 'missing' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if mode == 'quiet' then
    local admitted = redis.call('HGET', KEYS[1], 'admitted')
    local clock = redis.call('TIME')
    local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
    if admitted and now - tonumber(admitted) < tonumber(ARGV[2]) then return 0 end
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'remaining', ARGV[3], 'starts', ARGV[4], 'ends', ARGV[5], 'limit', ARGV[6],
           'expire', ARGV[7])
redis.call('PEXPIREAT', KEYS[1], ARGV[7])
for i = 8, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
if #ARGV >= 8 then redis.call('PEXPIREAT', KEYS[2], ARGV[7]) end
return 1
"""


def gate_keys(sale_id: int) -> list[str]:
    return [f"{{flash:{sale_id}}}", f"{{flash:{sale_id}}}:buyers"]


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@dataclass(frozen=True)
class Verdict:
    outcome: str  # admitted, rate_limited, missing, not_started, ended, limit_reached, sold_out
    number: int


class Gate:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._admit = redis.register_script(ADMIT)
        self._release = redis.register_script(RELEASE)
        self._build = redis.register_script(BUILD)

    async def admit(self, sale_id: int, buyer_id: int, ip: str, quantity: int, per_ip: int, per_buyer: int) -> Verdict:
        second = int(time.time())
        keys = [*gate_keys(sale_id), f"flash:rate:ip:{ip}:{second}", f"flash:rate:buyer:{buyer_id}:{second}"]
        outcome, number = await self._admit(keys, [buyer_id, quantity, per_ip, per_buyer])
        return Verdict(outcome if isinstance(outcome, str) else outcome.decode(), int(number))

    async def release(self, sale_id: int, buyer_id: int, quantity: int) -> None:
        await self._release(gate_keys(sale_id), [buyer_id, quantity])

    async def rebuild(
        self, db: asyncpg.Pool | asyncpg.Connection, sale_id: int, mode: str = "always", quiet: float = 0.0
    ) -> bool:
        """Copy a sale's truth from PostgreSQL into its gate; `mode` as in BUILD. False if there is no such
        sale."""
        sale = await db.fetchrow(q.SALE_FOR_GATE, sale_id)
        if sale is None:
            return False
        buyers = await db.fetch(q.SALE_BUYERS, sale_id)
        ends = min(sale["ends_at"], sale["cancelled_at"] or sale["ends_at"])
        args: list[int | str] = [mode, int(quiet * 1000), sale["units"] - sale["sold"], _ms(sale["starts_at"])]
        args += [_ms(ends), sale["per_buyer_limit"], _ms(sale["ends_at"]) + KEEP_AFTER_END_MS]
        for buyer in buyers:
            args += [buyer["buyer_id"], buyer["units"]]
        await self._build(gate_keys(sale_id), args)
        return True

    async def remaining(self, sale_ids: list[int]) -> list[tuple[int, float] | None]:
        """Each sale's units left in the gate and the seconds since it last admitted anyone (infinite if it
        never did), or None for a sale without a gate."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.time()
            for sale_id in sale_ids:
                pipe.hmget(gate_keys(sale_id)[0], "remaining", "admitted")
            (seconds, micros), *values = await pipe.execute()
        now_ms = seconds * 1000 + micros // 1000
        return [
            None if left is None else (int(left), math.inf if admitted is None else (now_ms - int(admitted)) / 1000)
            for left, admitted in values
        ]

    async def build_once(self, db: asyncpg.Pool, sale_id: int) -> bool:
        """A purchase found no gate: one request rebuilds it from PostgreSQL while the others wait a moment,
        so a crowd arriving at an empty Redis does not become a crowd of database reads. False if this
        request looked and there is no such sale."""
        lock = f"{gate_keys(sale_id)[0]}:building"
        if await self.redis.set(lock, 1, nx=True, px=2000):
            if not await self.rebuild(db, sale_id, "missing"):
                await self.redis.delete(lock)
                return False
        else:
            await asyncio.sleep(0.05)
        return True


class GateKeeper:
    """Keeps every current sale's gate equal to PostgreSQL (see the module docstring). Runs in every app
    process; rebuilding is idempotent, so two keepers at once do no harm."""

    def __init__(self, db: asyncpg.Pool, gate: Gate, interval: float = 1.0, quiet: float = 30.0) -> None:
        self.db, self.gate, self.interval, self.quiet = db, gate, interval, quiet

    async def run(self) -> None:
        await run_forever("flash sale gate keeper", self.check, self.interval)

    async def check(self) -> None:
        sales = await self.db.fetch(q.CURRENT_SALES)
        run_id = (await self.gate.redis.info("server"))["run_id"]
        if await self.gate.redis.get(RUN_ID_KEY) != run_id:
            for sale in sales:
                await self.gate.rebuild(self.db, sale["id"])
            await self.gate.redis.set(RUN_ID_KEY, run_id)
            return
        in_gate = await self.gate.remaining([s["id"] for s in sales])
        for sale, gate in zip(sales, in_gate, strict=True):
            if gate is None:  # a new sale, or keys Redis dropped
                await self.gate.rebuild(self.db, sale["id"], "missing")
            elif gate[0] != sale["units"] - sale["sold"] and gate[1] >= self.quiet:
                log.info("flash sale %d: gate had %d units left, the database %d", sale["id"], gate[0],
                         sale["units"] - sale["sold"])  # fmt: skip
                await self.gate.rebuild(self.db, sale["id"], "quiet", self.quiet)
