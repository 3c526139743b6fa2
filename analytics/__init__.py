"""Analytics: customer lifetime value (clv.py: BG/NBD and Gamma-Gamma, checked against CDNOW); sales
metrics, RFM, clusters, cohorts and campaigns are still to come."""
