"""Analytics: RFM scores and segments (rfm.py), behavioural clusters (clusters.py) and customer lifetime value
(clv.py: BG/NBD and Gamma-Gamma, checked against CDNOW). Sales metrics, cohorts, stored segments and
campaigns are still to come."""
