"""Intervals, nulls and p-values against known values, and the bootstrap over passages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emotion_vectors import stats
from emotion_vectors.uncertainty import PassageSample, bootstrap_statistics, denoised_vectors
from emotion_vectors.vectors import layer_vectors


def test_wilson_interval_matches_the_textbook_values():
    # 0 of 10: the upper bound is z^2 / (n + z^2) = 0.2775 at 95 %.
    low, high = stats.wilson_interval(0, 10)
    assert low == 0 and high == pytest.approx(0.2775, abs=1e-4)
    # 81 of 263 (Wilson 1927 / Newcombe 1998 example): 0.2553 .. 0.3662.
    low, high = stats.wilson_interval(81, 263)
    assert low == pytest.approx(0.2553, abs=1e-4) and high == pytest.approx(0.3662, abs=1e-4)
    assert all(math.isnan(x) for x in stats.wilson_interval(0, 0))


def test_the_wilson_formula_for_partial_credits_is_scipys_at_whole_counts():
    """Whole counts go to scipy; partial credits to the score formula, which must be the
    same interval wherever scipy can say."""
    from scipy.stats import binomtest

    for n in (1, 2, 5, 12, 60, 171, 4104):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            for confidence in (0.9, 0.95, 0.99):
                ci = binomtest(k, n).proportion_ci(confidence, method="wilson")
                ours = stats._wilson_formula(float(k), n, confidence)
                assert ours == pytest.approx((ci.low, ci.high), abs=1e-12), (k, n)
                assert stats.wilson_interval(k, n, confidence) == (ci.low, ci.high)
    # Between two whole counts a partial credit falls between their intervals.
    low, high = stats.wilson_interval(7.5, 20)
    assert stats.wilson_interval(7, 20)[0] < low < stats.wilson_interval(8, 20)[0]
    assert stats.wilson_interval(7, 20)[1] < high < stats.wilson_interval(8, 20)[1]


def test_the_fisher_interval_is_scipys_from_the_data():
    from scipy.stats import pearsonr

    rng = np.random.default_rng(3)
    for n, slope in ((12, 0.3), (60, 1.0), (171, -2.0)):
        x = rng.normal(size=n)
        y = slope * x + rng.normal(size=n)
        result = pearsonr(x, y)
        ci = result.confidence_interval(0.95)
        r = stats.pearson(x, y)
        assert r == pytest.approx(result.statistic, abs=1e-12)
        assert stats.fisher_interval(r, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_fisher_interval():
    low, high = stats.fisher_interval(0.5, 28)
    z, se = math.atanh(0.5), 1 / 5
    assert low == pytest.approx(math.tanh(z - 1.959964 * se), abs=1e-6)
    assert high == pytest.approx(math.tanh(z + 1.959964 * se), abs=1e-6)
    assert all(math.isnan(x) for x in stats.fisher_interval(0.5, 3))


def test_empirical_p_counts_the_observation_as_a_draw():
    assert stats.empirical_p(5.0, [1, 2, 3]) == pytest.approx(1 / 4)
    assert stats.empirical_p(2.0, [1, 2, 3]) == pytest.approx(3 / 4)  # ties count against
    assert stats.empirical_p(0.0, [1, 2, 3], greater=False) == pytest.approx(1 / 4)


def test_binomial_p():
    from scipy.stats import binomtest

    expected = binomtest(9, 60, 1 / 12, alternative="greater").pvalue
    assert stats.binomial_p(9, 60, 1 / 12) == pytest.approx(expected)


def test_shuffled_label_null_of_a_perfect_and_of_no_correlation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=100)
    null = stats.permutation_null_r(x, 3 * x + 1, 500, rng)
    assert null.max() < 0.5  # shuffled, the perfect relation is gone
    with_nan = stats.permutation_null_r(np.append(x, np.nan), np.append(x, 1.0), 10, rng)
    assert with_nan.shape == (10,)


def test_derangements_move_everything():
    rng = np.random.default_rng(1)
    for n in (2, 3, 10):
        order = stats.derangement(n, rng)
        assert sorted(order) == list(range(n)) and (order != np.arange(n)).all()


def test_measure_writes_nan_as_null():
    m = stats.measure(float("nan"), (0.1, float("nan")), "x", n=3)
    assert m == {"value": None, "ci": [0.1, None], "ci_method": "x", "n": 3}


def _passages(rng, emotions=4, templates=12, width=8):
    acts = {f"e{i}": rng.normal(size=(templates, width)) + i for i in range(emotions)}
    ids = {e: [f"t{j:02d}" for j in range(templates)] for e in acts}
    return acts, ids


def test_the_observed_vectors_are_the_workflows_and_templates_resample_together():
    rng = np.random.default_rng(2)
    acts, ids = _passages(rng)
    # One emotion lists its templates in another order: rows are aligned by id.
    order = list(range(12))[::-1]
    acts["e1"], ids["e1"] = acts["e1"][order], [ids["e1"][j] for j in order]
    neutral = rng.normal(size=(20, 8))
    expected = layer_vectors(acts, neutral, 0.5)
    sample = PassageSample(acts, ids)
    assert sample.paired
    got = denoised_vectors(sample.means(None), expected.subspace.components)
    np.testing.assert_allclose(got, expected.denoised, atol=1e-12)
    # A resample draws template ids once, for every emotion.
    means = sample.means(np.random.default_rng(3))
    picks = np.random.default_rng(3).integers(0, 12, 12)
    np.testing.assert_allclose(means[0], acts["e0"][picks].mean(axis=0))
    np.testing.assert_allclose(means[1], acts["e1"][[order.index(j) for j in picks]].mean(axis=0))


def test_bootstrap_interval_covers_the_observed_statistic_and_is_seeded():
    rng = np.random.default_rng(4)
    acts, ids = _passages(rng)
    sample = PassageSample(acts, ids)
    components = np.zeros((0, 8))

    def spread(vectors):
        return {"norm": float(np.linalg.norm(vectors))}

    observed, draws = bootstrap_statistics(sample, components, spread, 200, seed=0)
    low, high = stats.percentile_interval([d["norm"] for d in draws])
    assert low < observed["norm"] < high
    again = bootstrap_statistics(sample, components, spread, 200, seed=0)[1]
    assert again == draws
    # Passages that differ between emotions (stories) are resampled within each emotion.
    ids["e2"] = [f"s{j}" for j in range(12)]
    assert not PassageSample(acts, ids).paired


@pytest.mark.parametrize("rows, width", [(60, 200), (120, 8)])
def test_closed_form_ridge_matches_scikit_learn_ridgecv(rows, width):
    """The probe's ridge (penalty by leave-one-out, intercept unpenalised) predicts what
    RidgeCV predicts, with fewer rows than features (the emotions) and more (sentences)."""
    from sklearn.linear_model import RidgeCV

    from emotion_vectors.stats import RIDGE_ALPHAS, ridge_loo_predict

    rng = np.random.default_rng(rows)
    x = rng.normal(size=(rows, width)) + 5.0  # an offset the intercept must absorb
    y = x[:, :3].sum(axis=1) + rng.normal(size=rows) * 2.0 + 10.0
    new = rng.normal(size=(7, width)) + 5.0
    expected = RidgeCV(alphas=RIDGE_ALPHAS).fit(x, y).predict(new)
    np.testing.assert_allclose(ridge_loo_predict(x, y, new), expected, rtol=1e-9, atol=1e-9)
    # A penalty grid of one value is plain ridge at that value.
    one = RidgeCV(alphas=[3.0]).fit(x, y).predict(new)
    np.testing.assert_allclose(ridge_loo_predict(x, y, new, [3.0]), one, rtol=1e-9, atol=1e-9)
