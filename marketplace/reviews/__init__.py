"""Reviews: one per buyer and product, only after delivery; vendors reply; ratings follow."""
