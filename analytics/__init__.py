"""Analytics: RFM scores and segments (rfm.py), behavioural clusters (clusters.py), acquisition cohorts and
churn (cohorts.py), and customer lifetime value (clv.py: BG/NBD and Gamma-Gamma, checked against CDNOW).
Sales metrics, stored segments and campaigns are still to come."""
