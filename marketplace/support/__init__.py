"""Customer service: the `support` role's desk. Find any order, checkout, payment, buyer or shop; read an order's
whole story (status history, payments and refunds, events, after-sales, disputes, internal notes, the audit of
what support did); add internal notes and extend an order's after-sales window. Actions that move orders and
money (cancel with a refund, a parcel lost in transit, deciding a dispute) are workflows/support.py's.
Every action carries a reason and is written to the audit log in its own transaction."""
