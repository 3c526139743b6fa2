"""Flash sales: so many units of one SKU at a sale price for a short time, at most so many per buyer, sold
to a crowd without selling one unit more than offered. See service.py and gate.py."""
