"""`marketplace seed`: a realistic demo marketplace (vendors, catalog, buyers and weeks of browsing)."""
