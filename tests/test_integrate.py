import diffrax
import jax
import jax.numpy as jnp
import numpy as np
from scipy.integrate import solve_ivp

from harness.base import integrate
from harness.base.integrate import expm_flow, reference_solution, rk8


def pendulum(z):
    return jnp.array([z[1], -jnp.sin(z[0]) - 0.1 * z[1]])


def test_rk8_matches_scipy_dop853_and_its_estimate_bounds_the_error():
    z0, t = jnp.array([1.2, 0.3]), 0.8
    exact = solve_ivp(lambda _, z: np.asarray(pendulum(jnp.asarray(z))), (0, t), np.asarray(z0),
                      method="DOP853", rtol=2.3e-14, atol=1e-15).y[:, -1]
    z_t, estimate = reference_solution(pendulum, z0, t, affine=False)
    actual = np.linalg.norm(np.asarray(z_t) - exact)
    assert actual < 5e-15
    assert estimate >= actual
    assert estimate < 1e-12  # |z_N - z_2N| bounds the error of z_N, far above that of z_2N


def test_rk8_has_order_8():
    z0, t = jnp.array([1.2, 0.3]), 2.0
    fine = rk8(pendulum, z0, t, 64)
    e1 = np.linalg.norm(rk8(pendulum, z0, t, 2) - fine)
    e2 = np.linalg.norm(rk8(pendulum, z0, t, 4) - fine)
    assert 7.5 < np.log2(e1 / e2) < 9.5


def test_rk8_cross_checked_with_diffrax_adaptive_dopri8():
    z0, t = jnp.array([1.2, 0.3]), 0.5
    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(lambda _, z, __: pendulum(z)), diffrax.Dopri8(), 0.0, t, 0.01, z0,
        stepsize_controller=diffrax.PIDController(rtol=1e-14, atol=1e-15),
    )
    np.testing.assert_allclose(rk8(pendulum, z0, t, 8), solution.ys[-1], rtol=0, atol=5e-15)


def test_the_written_out_tableau_is_diffraxs_dopri8_bit_for_bit():
    tableau = diffrax.Dopri8.tableau
    a, b = integrate._tableau()
    assert a.shape == (len(tableau.b_sol),) * 2 and not np.triu(a).any()
    for row, coefficients in enumerate(tableau.a_lower, start=1):
        expected = np.asarray(coefficients, dtype=np.float64)
        assert a[row, : len(expected)].tobytes() == expected.tobytes() and not a[row, len(expected):].any()
    assert b.tobytes() == np.asarray(tableau.b_sol, dtype=np.float64).tobytes()


def test_expm_flow_is_exact_for_affine_fields():
    a = jnp.array([[-0.1, 1.0], [-1.0, -0.1]])
    b = jnp.array([0.3, -0.2])
    z0, t = jnp.array([1.0, 0.5]), 0.7
    z_star = -jnp.linalg.solve(a, b)  # z(t) = z* + expm(t A)(z0 - z*)
    exact = z_star + jax.scipy.linalg.expm(t * a) @ (z0 - z_star)
    np.testing.assert_allclose(expm_flow(lambda z: a @ z + b, z0, t), exact, rtol=1e-14)
    z_t, estimate = reference_solution(lambda z: a @ z + b, z0, t, affine=True)
    assert np.linalg.norm(z_t - exact) <= estimate < 1e-14
