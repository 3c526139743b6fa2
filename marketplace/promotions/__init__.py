"""Promotions: coupons (threshold, percent with a cap, fixed, buy-X-get-Y; platform, vendor, category or
product scope), automatic time-limited discounts, and loyalty points with tiers. See pricing.py."""
