"""Group buys (拼团): a vendor offers one SKU at a group price to groups of so many buyers; a buyer starts a
group or joins an open one through its share link, paying at join; the group fills when every seat is paid,
and its members' orders go ahead together, or it expires and every member is refunded in full.

Group states: open → filled | expired. Member states: held (checkout unpaid) → paid → refunded (the group
expired); held or paid → left (cancelled, or the payment time ran out, while the group was open).
See service.py; the sweeper's expiry and refunds are in `marketplace/workflows/group_buys.py`."""

from enum import StrEnum


class GroupStatus(StrEnum):
    OPEN = "open"
    FILLED = "filled"
    EXPIRED = "expired"


class MemberStatus(StrEnum):
    HELD = "held"
    PAID = "paid"
    LEFT = "left"
    REFUNDED = "refunded"
