"""Inventory: on hand, reserved and available per SKU; every change is a stock movement and an event."""
