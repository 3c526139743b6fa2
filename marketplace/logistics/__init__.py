"""Logistics: shipping templates per shop (what checkout charges, fees.py), carriers and their tracking
events (carriers.py, the sandbox carrier in sandbox.py), and late shipments. Moving an order to shipped or
delivered belongs to orders; the workflows that do it for a carrier are in workflows/shipments.py."""
