"""Workflows: what moving an order sets off across packages, kept above the packages they coordinate so
that none of those imports another in a circle.

    order_moves.py  a buyer's or vendor's move (accept, ship, deliver, complete, cancel) with its effects:
                    cancelling gives back flash-sale units, reserved or sold stock, promotions and the money;
                    delivering a cash-on-delivery order records the cash; completing earns points
    controllers.py  the routes that move an order (buyers' cancel and confirm, vendors' accept, ship, deliver,
                    reject)
    sweeper.py      the same effects for the system's own moves: unpaid checkouts expire, delivered orders
                    complete on their own; idempotency keys are purged
    group_buys.py   group buys past their deadline unfilled: every paid member refunded in full, the stock
                    back on the shelf, unpaid members' checkouts expired

The status itself is written only by `orders.actions`; these modules decide when, and do the rest.
"""
