"""harness derive (harness.derive, harness.verdict.trees): a one-step rule's modified field in the tree basis,
exactly."""

import json
from pathlib import Path

import jax
import numpy as np
import pytest

import harness
from harness.cli import main
from harness.rules.schemes import scheme_of
from harness.verdict.derivation import VERIFIED, derive
from harness.verdict.trees import basis, count_table

CONSENSUS = '''
import jax

GAMMA = 0.5


def consensus(V, z, h):
    """Consensus optimization: z' = z + h (V - gamma J^T V)."""
    v, pullback = jax.vjp(V, z)
    return z + h * (v - GAMMA * pullback(v)[0])


def jtv(V, z, h):
    v, pullback = jax.vjp(V, z)
    return pullback(v)[0]


def v_jtv(V, z, h):  # V'(J^T V)
    return jax.jvp(V, (z,), (jtv(V, z, h),))[1]


def jtv_v(V, z, h):  # (J^T V)' V
    return jax.jvp(lambda x: jtv(V, x, h), (z,), (V(z),))[1]


def jtv_jtv(V, z, h):  # (J^T V)' J^T V
    return jax.jvp(lambda x: jtv(V, x, h), (z,), (jtv(V, z, h),))[1]
'''


def expressions(derivation, order):
    return {(t.player, t.tree): t.expression for t in derivation.terms if t.order == order}


def test_tree_counts_per_equation():
    assert count_table(3, 2) == [1, 2, 7, 26]
    assert count_table(4, 1) == [1, 1, 2, 4, 9]
    assert [t.name for t in basis(1, 2)["theta"]] == ["g_phi(f)", "g_theta(g)"]
    assert "g_phi_theta(f, g)" in [t.name for t in basis(2, 2)["theta"]]
    assert "f_theta(g_phi(f))" in [t.name for t in basis(2, 2)["phi"]]


def test_gradient_descent_through_h3_has_hairer_lubich_wanners_coefficients():
    """Explicit Euler: f - h/2 f'f + h^2 (1/12 f''(f, f) + 1/3 f'f'f) + h^3 (-1/4 f'f'f'f - 1/12 f'f''(f, f)
    - 1/12 f''(f, f'f)), each times alpha^(nodes); f'''(f, f, f) has none."""
    d = derive("gd", 3, lr1=0.7)
    assert d.verified and d.residual < VERIFIED
    assert expressions(d, 1) == {("x", "f_phi(f)"): "-alpha**2/2"}
    assert expressions(d, 2) == {("x", "f_phi(f_phi(f))"): "alpha**3/3", ("x", "f_phi_phi(f, f)"): "alpha**3/12"}
    assert expressions(d, 3) == {("x", "f_phi(f_phi(f_phi(f)))"): "-alpha**4/4",
                                 ("x", "f_phi(f_phi_phi(f, f))"): "-alpha**4/12",
                                 ("x", "f_phi_phi(f, f_phi(f))"): "-alpha**4/12"}
    exact = {t.tree: t.exact for t in d.terms if t.order == 3}
    assert exact["f_phi(f_phi(f_phi(f)))"] == "-2401/40000"  # -(7/10)^4 / 4
    assert d.coefficient(3, "x", "f_phi_phi_phi(f, f, f)") == 0.0
    assert "f′f′f′f" in d.text() and "f″(f, f′f)" in d.text()


def test_explicit_midpoint_has_no_h1_term_and_its_known_h2_term():
    """y + h f(y + h/2 f) = y + hf + h^2/2 f'f + h^3/8 f''(f, f) + O(h^4) against the flow of f + h^2 f_3 gives
    f_3 = -1/24 f''(f, f) - 1/6 f'f'f; the chain's h^3 coefficient 1/8 is that of log(1 + z + z^2/2)."""
    d = derive("midpoint", 3, players=1)
    assert d.verified
    assert expressions(d, 1) == {}
    assert expressions(d, 2) == {("x", "f_phi(f_phi(f))"): "-alpha**3/6", ("x", "f_phi_phi(f, f)"): "-alpha**3/24"}
    assert expressions(d, 3)[("x", "f_phi(f_phi(f_phi(f)))")] == "alpha**4/8"


@pytest.mark.parametrize("settings", [dict(lr1=0.3, lr2=1.7), dict(lr1=0.5, lr2=2.0, m=2, k=3),
                                      dict(lr1=0.4, lr2=1.5, m=3, k=2, first="theta")])
def test_simultaneous_and_alternating_first_order_are_the_papers_flows(settings):
    """docs/theory.md §2: simultaneous -1/2 on every tree; alternating (phi first) -(alpha^2/2m) f_phi f,
    -(alpha lambda/2) f_theta g, +(alpha lambda/2) g_phi f, -(lambda^2/2k) g_theta g; theta first mirrored."""
    a, l, m, k = settings["lr1"], settings["lr2"], settings.get("m", 1), settings.get("k", 1)
    first = settings.get("first", "phi")
    if "m" not in settings:
        simultaneous = derive("simultaneous", 1, **settings)
        trees = (("phi", "f_phi(f)"), ("phi", "f_theta(g)"), ("theta", "g_phi(f)"), ("theta", "g_theta(g)"))
        assert np.allclose([simultaneous.coefficient(1, p, t) for p, t in trees],
                           [-a * a / 2, -a * l / 2, -a * l / 2, -l * l / 2], rtol=1e-12)
    d = derive("alternating", 1, **settings)
    sign_phi, sign_theta = (-1, 1) if first == "phi" else (1, -1)
    expected = {("phi", "f_phi(f)"): -a * a / (2 * m), ("phi", "f_theta(g)"): sign_phi * a * l / 2,
                ("theta", "g_phi(f)"): sign_theta * a * l / 2, ("theta", "g_theta(g)"): -l * l / (2 * k)}
    assert d.verified
    for (player, tree), value in expected.items():
        assert d.coefficient(1, player, tree) == pytest.approx(value, rel=1e-12, abs=1e-14), (player, tree)


def test_consensus_optimization_is_not_a_p_series_and_is_one_with_its_own_terms(tmp_path):
    path = tmp_path / "consensus.py"
    path.write_text(CONSENSUS)
    alone = derive(f"{path}:consensus", 1)
    assert not alone.verified and alone.residuals[0] > 1e-3 and alone.terms == []
    assert "not a P-series" in alone.text() and "transposed Jacobian" in alone.verdict()
    terms = [f"{path}:{name}" for name in ("jtv", "v_jtv", "jtv_v", "jtv_jtv")]
    helped = derive(f"{path}:consensus", 1, terms=terms)
    assert helped.verified, helped.residuals
    # W = V - gamma J^T V with gamma = 1/2: W - (h/2) W'W
    assert helped.coefficient(0, "phi", "user:jtv") == pytest.approx(-0.5, abs=1e-12)
    assert helped.coefficient(1, "theta", "g_theta(g)") == pytest.approx(-0.5, abs=1e-12)
    for name, value in (("v_jtv", 0.25), ("jtv_v", 0.25), ("jtv_jtv", -0.125)):
        assert helped.coefficient(1, "phi", f"user:{name}") == pytest.approx(value, abs=1e-12)


def test_formats_and_the_json_contract(capsys):
    assert main(["derive", "--scheme", "extragradient", "--order", "1", "--lr2", "0.5", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"rule", "settings", "order", "terms", "residual", "verified"} <= set(data)
    assert data["verified"] and data["residual"] < VERIFIED and data["settings"]["lr2"] == 0.5
    terms = {(t["order"], t["player"], t["tree"]): t for t in data["terms"]}
    assert set(terms[(1, "phi", "f_theta(g)")]) == {"order", "player", "tree", "coefficient", "exact", "expression"}
    assert terms[(1, "phi", "f_theta(g)")]["expression"] == "alpha*lambda/2"
    assert terms[(1, "phi", "f_theta(g)")]["exact"] == "1/4"
    assert main(["derive", "--scheme", "extragradient", "--order", "1", "--format", "latex"]) == 0
    latex = capsys.readouterr().out
    assert r"\begin{aligned}" in latex and r"\frac{\alpha \lambda}{2} f_{\theta}\,g" in latex
    assert main(["derive", "--scheme", "extragradient", "--order", "1"]) == 0
    assert "f_θ g" in capsys.readouterr().out


def test_the_emitted_flow_measures_slope_four(tmp_path, capsys):
    out = tmp_path / "flow.py"
    assert main(["derive", "--scheme", "alternating", "--lr1", "0.5", "--lr2", "2", "--out", str(out),
                 "--format", "python"]) == 0
    assert "@harness.flow(order=2)" in out.read_text()
    result = harness.check("dirac_gan", "alternating", f"{out}:derived_flow", lr1=0.5, lr2=2.0, points=2)
    assert result.passed and abs(result.fit.slope - 4) < 0.15
    flow = derive("simultaneous", 2, lr1=0.5).to_flow()
    assert harness.check("rotational", "simultaneous", flow, lr1=0.5, points=2).fit.slope == pytest.approx(4, abs=0.15)


@pytest.mark.parametrize("argv, words", [
    (["--scheme", "ogda"], "carries memory"),
    (["--scheme", "nag_sc"], "two-step method"),
    (["--scheme", "simultaneous", "--order", "4"], "(--order) must be an integer from 0 to 3"),
    (["--scheme", "gd", "--order", "5", "--players", "1"], "from 0 to 4"),
])
def test_bad_input_is_one_line(argv, words, capsys):
    assert main(["derive", *argv]) == 2
    error = capsys.readouterr().err.strip()
    assert words in error and len(error.splitlines()) == 1


def test_out_refuses_a_file_it_did_not_write(tmp_path, capsys):
    mine = tmp_path / "notes.py"
    mine.write_text("my own notes\n")
    assert main(["derive", "--order", "1", "--out", str(mine)]) == 2
    assert mine.read_text() == "my own notes\n" and "was not written by harness derive" in capsys.readouterr().err


def test_a_rule_that_jax_cannot_trace_is_one_line(tmp_path, capsys):
    path = tmp_path / "rule.py"
    path.write_text("import numpy as np\n\ndef rule(V, z, h):\n    return z + h * np.asarray(V(z))\n")
    assert main(["derive", "--scheme", f"{path}:rule", "--order", "1"]) == 2
    error = capsys.readouterr().err.strip()
    assert "cannot be derived" in error and len(error.splitlines()) == 1



CONSENSUS_FLOW = '''

import harness


def _w(V, z, h):
    return V(z) - GAMMA * jtv(V, z, h)


@harness.flow(order=1)
def one_wrong(V, z, h):
    """W - (h/2) W'W, W = V - gamma J^T V, with the V'(J^T V) term doubled."""
    expanded = (jax.jvp(V, (z,), (V(z),))[1] - 2 * GAMMA * v_jtv(V, z, h) - GAMMA * jtv_v(V, z, h)
                + GAMMA ** 2 * jtv_jtv(V, z, h))
    return _w(V, z, h) - h / 2 * expanded
'''


def test_the_diagnosis_of_consensus_names_no_fictitious_terms_and_the_wrong_one_with_its_own(tmp_path):
    path = tmp_path / "consensus.py"
    path.write_text(CONSENSUS + CONSENSUS_FLOW)
    result = harness.check("nonconvex_nonconcave", f"{path}:consensus", f"{path}:one_wrong", points=2)
    series = result.series
    assert series.differing_order == 1 and series.explained is False and series.terms == []
    assert "not a combination of elementary differentials of f and g" in series.attribution
    assert not any("flow " in line and "rule " in line for line in series.lines())
    terms = [f"{path}:{name}" for name in ("jtv", "v_jtv", "jtv_v", "jtv_jtv")]
    named = harness.check("nonconvex_nonconcave", f"{path}:consensus", f"{path}:one_wrong", points=2,
                          terms=terms).series
    assert named.explained and named.residual < 1e-6
    differing = {(t.player, t.name): (t.flow, t.rule) for t in named.terms if t.differs}
    assert set(differing) == {("phi", "v_jtv"), ("theta", "v_jtv")}
    for flow, rule in differing.values():
        assert (flow, rule) == (pytest.approx(0.5, abs=1e-9), pytest.approx(0.25, abs=1e-12))


def test_a_rule_without_an_h_term_prints_absolute_sizes():
    """Midpoint has no h^1 term: a flow with one is told so in absolute sizes, not as a ratio to zero."""
    @harness.flow(order=1)
    def euler_modified(V, z, h):
        return V(z) - h / 2 * jax.jvp(V, (z,), (V(z),))[1]

    series = harness.check("dirac_gan", "midpoint", euler_modified, points=2).series
    assert series.differing_order == 1 and series.rule_vanishes
    assert "the rule has no h^1 term" in series.summary() and "e+" not in series.summary()


def test_the_lookahead_example_derives_a_flow_that_measures_slope_four(tmp_path, capsys, monkeypatch):
    """examples/lookahead_optimizer.py: Lookahead (a = 0.5, k = 3), leading field a k V = 1.5 V; labels show the
    factory's values."""
    example = Path(__file__).resolve().parents[1] / "examples" / "lookahead_optimizer.py"
    monkeypatch.chdir(tmp_path)
    rule = f"{example}:lookahead_rule"
    assert main(["derive", "--scheme", rule, "--param", "a=0.5", "--param", "k=3", "--format", "python", "--out",
                 "lookahead_flow.py"]) == 0
    derivation = derive(f"{example}:lookahead_half_three", 2)
    assert derivation.coefficient(0, "phi", "f") == pytest.approx(1.5, abs=1e-12)
    # z' = z + a k h V + a k (k - 1)/2 h^2 V'V + ...: h^1 coefficient a k (k - 1)/2 - (a k)^2/2 = 3/8
    assert derivation.coefficient(1, "phi", "f_phi(f)") == pytest.approx(0.375, abs=1e-12)
    result = harness.check("dirac_gan", rule, "lookahead_flow.py:derived_flow", points=2,
                           user_params={"a": 0.5, "k": 3})
    assert result.passed and abs(result.fit.slope - 4) < 0.15 and "a=0.5, k=3" in result.spec.scheme.label
    import importlib.util

    spec = importlib.util.spec_from_file_location("lookahead_optimizer", example)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    labels = {scheme_of(module.lookahead(a, 3), {}).label for a in (0.5, 0.25)}  # the label a check's spec carries
    assert len(labels) == 2 and any("step(a=0.5, k=3)" in label for label in labels)


CATALOG_RULES = [("simultaneous", {}), ("alternating", dict(lr2=0.5)), ("alternating", dict(m=2, k=3, lr1=0.7)),
                 ("alternating", dict(first="theta", lr2=1.5)), ("extragradient", {}), ("proximal_point", {}),
                 ("midpoint", {}), ("rk4", {}), ("regularised", dict(lr2=0.5))]
TWO_PLAYER = ["bilinear", "dirac_gan", "dirac_gan_bilinear", "matching_pennies", "nonconvex_nonconcave",
              "quadratic_general_sum", "rotational"]
ONE_OBJECTIVE = ["finite_sum", "quadratic_objective", "rosenbrock"]


@pytest.mark.slow
@pytest.mark.parametrize("rule, settings", CATALOG_RULES, ids=lambda v: str(v) if isinstance(v, str) else None)
def test_every_catalog_rules_derived_flow_measures_its_slope_on_every_game(rule, settings):
    """The emitted order-2 flow against its rule: slope 4 ± 0.15 (RK4, a fourth-order rule, has no h^1...h^3 terms:
    its derived flow is V, local error O(h^5), slope 5), on every catalog game (mlp_gan aside: its size)."""
    for players, games in ((2, TWO_PLAYER), (1, ONE_OBJECTIVE)):
        if players == 1 and rule in ("alternating", "regularised"):
            continue  # two-player rules
        derivation = derive("gd" if players == 1 and rule == "simultaneous" else rule, 2, players=players, **settings)
        assert derivation.verified, derivation.verdict()
        flow = derivation.to_flow()
        expected = 5 if rule == "rk4" else 4
        for game in games:
            scheme = "gd" if players == 1 and rule == "simultaneous" else rule
            result = harness.check(game, scheme, flow, points=2, **settings)
            assert result.fit.slope == pytest.approx(expected, abs=0.15), (game, result.fit.status, result.fit.slope)


def test_hints_name_a_higher_order_rule_and_a_leading_field_that_is_not_v():
    """Lookahead with a = 1/2, k = 2 is Heun's method (order 2); with a = 1/2, k = 3 its leading field is 3V/2."""
    example = Path(__file__).resolve().parents[1] / "examples" / "lookahead_optimizer.py"
    heun = harness.check("dirac_gan", f"{example}:lookahead_rule", "gradient", points=2,
                         user_params={"a": 0.5, "k": 2})
    assert heun.fit.status == "FAIL" and heun.fit.slope == pytest.approx(3, abs=0.15)
    assert any("agrees with the gradient flow through h^1: declare @harness.rule(order=2)" in r
               for r in heun.fit.reasons)
    off = harness.check("dirac_gan", f"{example}:lookahead_rule", "gradient", points=2, user_params={"a": 0.5, "k": 3})
    assert off.series.differing_order == 0
    assert any("leading field is not V" in r and "bea:0" in r for r in off.fit.reasons)
    right = harness.check("dirac_gan", f"{example}:lookahead_rule", "gradient", points=2,
                          user_params={"a": 1.0, "k": 1})  # plain GD: no hint
    assert right.passed and not any("declare" in r or "leading field" in r for r in right.fit.reasons)


def test_params_and_terms_that_do_not_fit_are_one_line(tmp_path, capsys):
    example = Path(__file__).resolve().parents[1] / "examples" / "lookahead_optimizer.py"
    assert main(["derive", "--scheme", f"{example}:lookahead_rule", "--param", "b=1"]) == 2
    assert "--param b: the rule does not name it" in capsys.readouterr().err
    with pytest.raises(SystemExit) as parsed:  # argparse's own exit: one line, code 2
        main(["derive", "--param", "a"])
    assert parsed.value.code == 2 and "is not NAME=VALUE" in capsys.readouterr().err
    with pytest.raises(harness.GameError, match="neither the rule nor the flow names it"):
        harness.check("dirac_gan", f"{example}:lookahead_rule", "gradient", points=2, user_params={"b": 1})
    bad = tmp_path / "terms.py"
    bad.write_text("def term(x):\n    return x\n")
    assert main(["derive", "--order", "1", "--terms", f"{bad}:term"]) == 2
    error = capsys.readouterr().err.strip()
    assert "matches no notation" in error and len(error.splitlines()) == 1


def test_the_guides_derive_output_is_the_real_one(capsys):
    guide = (Path(__file__).resolve().parents[1] / "docs" / "guide.md").read_text()
    shown = guide.split("harness derive --scheme alternating --lr2 0.5 --order 1\n```\n\n```text\n")[1].split("```")[0]
    assert main(["derive", "--scheme", "alternating", "--lr2", "0.5", "--order", "1"]) == 0
    printed = capsys.readouterr().out
    strip = lambda text: [line for line in text.strip().splitlines() if not line.startswith("verified:")]  # noqa: E731
    assert strip(printed) == strip(shown) and "verified: residual" in shown


def test_a_rule_changed_in_place_is_derived_afresh(tmp_path, monkeypatch):
    """A monkeypatched coefficient: the in-process memos and the stored derivations are keyed by content."""
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "scaled.py").write_text("C = 1.0\n\n\ndef rule(V, z, h):\n    return z + C * h * V(z)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import scaled

    assert derive(scaled.rule, 1).coefficient(0, "phi", "f") == 1.0
    monkeypatch.setattr(scaled, "C", 2.0)
    assert derive(scaled.rule, 1).coefficient(0, "phi", "f") == 2.0
    assert derive(scaled.rule, 1).coefficient(1, "phi", "f_phi(f)") == pytest.approx(-2.0, abs=1e-12)  # -(2a)^2/2


def test_substeps_beyond_the_budget_are_refused_before_tracing(capsys):
    assert main(["derive", "--scheme", "alternating", "--m", "1000000000"]) == 2
    error = capsys.readouterr().err.strip()
    assert "too much work: m + k = 1,000,000,001" in error and len(error.splitlines()) == 1


@pytest.mark.slow
def test_rk4_has_no_terms_below_h4_and_the_chain_coefficient_of_its_stability_function():
    """RK4 is fourth order: its modified field is f through h^3; at h^4 the chain f'f'f'f'f has the h^4
    coefficient of log(1 + z + z^2/2 + z^3/6 + z^4/24) = z - z^5/120 + ..., so -alpha^5/120."""
    d = derive("rk4", 4, players=1)
    assert d.verified
    assert [t.tree for t in d.terms if 0 < t.order < 4] == []
    assert expressions(d, 4)[("x", "f_phi(f_phi(f_phi(f_phi(f))))")] == "-alpha**5/120"


def test_a_term_zero_at_the_given_rates_but_not_identically_stays_in_the_flow():
    """The official convention's regulariser leaves (alpha^2 - alpha lambda)/2 f_theta g: zero at alpha = lambda,
    but the emitted flow is checked at other rates too."""
    d = derive("regularised", 1, convention="official")
    assert d.coefficient(1, "phi", "f_theta(g)") == 0.0 and "f_θ g" in d.text()
    result = harness.check("dirac_gan", "regularised", d.to_flow(), convention="official", lr2=0.5, points=2)
    assert result.fit.slope == pytest.approx(3, abs=0.15)


def test_a_result_whose_param_goes_to_a_flow_reads_back(tmp_path):
    from harness.checks import CheckResult

    (tmp_path / "pflow.py").write_text("import harness\n\n\n@harness.flow(order=0)\n"
                                       "def pflow(V, z, h, c=1.0):\n    return c * V(z)\n")
    result = harness.check("dirac_gan", "simultaneous", f"{tmp_path}/pflow.py:pflow", user_params={"c": 1.0},
                           points=2)
    back = CheckResult.from_dict(result.to_dict())
    assert back.spec.scheme.user_params == (("c", 1.0),) and back.fit.slope == pytest.approx(result.fit.slope)


def test_the_diagnosis_follows_an_edited_rule_file(tmp_path):
    rule = tmp_path / "rule.py"
    rule.write_text("def rule(f, g, phi, theta, h, lr1, lr2):\n"
                    "    return phi + lr1 * h * f(phi, theta), theta + lr2 * h * g(phi, theta)\n")
    flow = tmp_path / "flow.py"  # the gradient flow claimed to first order: the h^1 difference is the rule's own
    flow.write_text("import harness\n\n\n@harness.flow(order=1)\ndef flow(V, z, h):\n    return V(z)\n")
    first = harness.check("dirac_gan", f"{rule}:rule", f"{flow}:flow", lr2=0.3, points=2).series
    assert {(t.player, t.name): t.rule for t in first.terms}[("theta", "g_phi(f)")] == pytest.approx(-0.15)
    rule.write_text("def rule(f, g, phi, theta, h, lr1, lr2):\n    phi_next = phi + lr1 * h * f(phi, theta)\n"
                    "    return phi_next, theta + lr2 * h * g(phi_next, theta)\n")  # alternating: +alpha lambda/2
    second = harness.check("dirac_gan", f"{rule}:rule", f"{flow}:flow", lr2=0.3, points=2).series
    assert {(t.player, t.name): t.rule for t in second.terms}[("theta", "g_phi(f)")] == pytest.approx(0.15)


def test_json_refuses_to_overwrite_a_terms_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "myterm.py").write_text("def myterm(V, z, h):\n    return V(z)\n")
    assert main(["check", "--game", "dirac_gan", "--points", "2", "--terms", "myterm.py:myterm", "--json",
                 "myterm.py"]) == 2
    assert (tmp_path / "myterm.py").read_text().startswith("def myterm")
