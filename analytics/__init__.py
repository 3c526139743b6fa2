"""Sales metrics, customer segments, cohorts and lifetime value for marketers, vendors and admins."""
