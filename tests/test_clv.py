"""The lifetime-value models reproduce Fader, Hardie & Lee's published CDNOW estimates (the sample read from
the `lifetimes` wheel on PyPI, never installed): BG/NBD r = 0.243, alpha = 4.414, a = 0.793, b = 2.426
("Counting your customers the easy way", 2005) and Gamma-Gamma p = 6.25, q = 3.74, gamma = 15.44 ("RFM and CLV",
2005), each within 1%."""

from __future__ import annotations

import pytest

from analytics.clv import BGNBD, GammaGamma
from analytics.datasets import cdnow_summary


@pytest.fixture(scope="module")
def cdnow():
    return cdnow_summary()


def test_bg_nbd_matches_the_published_cdnow_estimates(cdnow) -> None:
    assert len(cdnow) == 2_357
    fitted = BGNBD.fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    for got, published in zip((fitted.r, fitted.alpha, fitted.a, fitted.b), (0.243, 4.414, 0.793, 2.426), strict=True):
        assert got == pytest.approx(published, rel=0.01)
    # The paper's worked example: 2 repeat purchases, the last at week 30.43 of 38.86: 1.226 in the next 39 weeks.
    model = BGNBD(0.243, 4.414, 0.793, 2.426)
    assert model.expected_purchases(39, [2], [30.43], [38.86])[0] == pytest.approx(1.226, abs=0.001)
    assert 0 < model.probability_alive([2], [30.43], [38.86])[0] < 1 == model.probability_alive([0], [0], [38.86])[0]


def test_gamma_gamma_matches_the_published_cdnow_estimates(cdnow) -> None:
    fitted = GammaGamma.fit(cdnow["frequency"], cdnow["monetary_value"])
    for got, published in zip((fitted.p, fitted.q, fitted.gamma), (6.25, 3.74, 15.44), strict=True):
        assert got == pytest.approx(published, rel=0.01)
    spend = fitted.expected_spend([0, 10], [0.0, 50.0])
    assert spend[0] == pytest.approx(fitted.p * fitted.gamma / (fitted.q - 1)) and spend[0] < spend[1] < 50.0
