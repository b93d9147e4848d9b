"""The default check matrix, one test per check: every entry meets its expectation."""

import pytest

import harness  # noqa: F401
from harness.checks import kernel_group, load_matrix, run_check, series_group, shared_bea_orders, shared_series_orders
from harness.model.catalog import catalog

GAMES = catalog()
SETTINGS, SPECS = load_matrix(games=GAMES)
BEA_ORDERS = shared_bea_orders(SPECS, GAMES)
SERIES_ORDERS = shared_series_orders(SPECS, GAMES)  # as `harness check --all` shares them: the same kernels


def test_matrix_covers_the_catalog():
    for name, game in GAMES.items():
        if game.metadata.get("large"):
            continue
        schemes = {s.scheme.name for s in SPECS if s.game == name}
        assert schemes >= ({"gd", "simultaneous"} if game.kind == "single-objective"
                           else {"simultaneous", "alternating"})
        orders = {s.flow.order for s in SPECS if s.game == name and s.flow.automatic}
        assert orders == {0, 1, 2, 3}
    two_player = [s for s in SPECS if GAMES[s.game].kind == "two-player"]
    assert any(s.scheme.lr1 != s.scheme.lr2 for s in two_player)
    assert any((s.scheme.m, s.scheme.k) != (1, 1) for s in two_player)
    assert {s.expected_slope for s in SPECS if s.flow.name == "official"} == {2.0, 3.0}


# Automatic flows compile one field per game and scheme at the highest order checked (seconds each): the
# default suite runs them for GD on three representative games; `pytest -m slow` (and `harness check --all`) runs all.
BEA_GAMES_BY_DEFAULT = {"dirac_gan", "bilinear", "rosenbrock"}
BEA_SCHEMES_BY_DEFAULT = {"simultaneous", "alternating", "gd"}


def _param(spec):
    heavy = spec.flow.automatic and (spec.game not in BEA_GAMES_BY_DEFAULT
                                     or spec.scheme.name not in BEA_SCHEMES_BY_DEFAULT)
    return pytest.param(spec, id=spec.label.replace(" · ", "|").replace(" ", ""),
                        marks=[pytest.mark.slow] if heavy else [])


@pytest.mark.parametrize("spec", [_param(spec) for spec in SPECS])
def test_check(spec):
    game = GAMES[spec.game]
    result = run_check(game, spec, SETTINGS, BEA_ORDERS.get(kernel_group(spec, game)),
                       SERIES_ORDERS.get(series_group(spec, game)))
    assert result.passed, f"{spec.label}: {result.fit.status}, slope {result.fit.slope}, {result.fit.reasons}"
    assert abs(result.fit.slope - spec.expected_slope) <= SETTINGS.tolerance
    series = result.series  # the exact verdict agrees with the fitted one
    if series.available:
        assert not any("disagree" in reason for reason in result.fit.reasons), result.fit.reasons
        assert series.at_least or series.predicted_slope == spec.expected_slope, series.summary()
        order_plus = spec.flow.order + (2 if spec.measure == "local" else 1)
        if spec.expected_slope == order_plus and spec.scheme.method_order == 1:
            assert series.at_least and series.agrees_through == spec.flow.order, series.summary()
    else:
        assert spec.scheme.lifted and "multistep" in series.reason


OPTIMIZER_SETTINGS, OPTIMIZER_SPECS = load_matrix("optimizers", games=GAMES)


def test_the_optimizer_matrix_covers_every_optimizer_regime_and_game():
    optimizers = {o.name for s in OPTIMIZER_SPECS for o in s.scheme.optimizers or ()}
    assert optimizers == {"heavy_ball", "nesterov", "nesterov_buffer", "ema", "rmsprop", "adam"}
    assert {s.scheme.regime for s in OPTIMIZER_SPECS} == {"on-flow", "cold"}
    assert {s.game for s in OPTIMIZER_SPECS} == {n for n, g in GAMES.items() if not g.metadata.get("large")}
    assert all(s.reason for s in OPTIMIZER_SPECS if s.expected_slope != s.flow.order + 2)


@pytest.mark.slow
@pytest.mark.parametrize("spec", [pytest.param(s, id=s.label.replace(" · ", "|").replace(" ", ""))
                                  for s in OPTIMIZER_SPECS])
def test_optimizer_check(spec):
    result = run_check(GAMES[spec.game], spec, OPTIMIZER_SETTINGS)
    assert result.passed, f"{spec.label}: {result.fit.status}, slope {result.fit.slope}, {result.fit.reasons}"
    assert abs(result.fit.slope - spec.expected_slope) <= OPTIMIZER_SETTINGS.tolerance
