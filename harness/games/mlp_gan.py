"""A small GAN on a 2-D mixture of 8 Gaussians: MLP discriminator and generator, full batch.

Player 1 (phi) is the discriminator D: R^2 -> R, player 2 (theta) the generator G: R^2 -> R^2, both
MLPs with tanh hidden layers (smooth, so the local-error orders hold). With fixed data x_i (64 samples of
8 Gaussians of standard deviation 0.05 on the unit circle) and fixed latents u_j (64 standard normal
samples), the discriminator minimises the cross-entropy
    L1 = mean_i softplus(-D(x_i)) + mean_j softplus(D(G(u_j)))
and the generator the non-saturating loss L2 = mean_j softplus(-D(G(u_j))). Everything is seeded
(seed 0), so the game is deterministic. ``mlp_gan(width, depth)`` builds other sizes; the catalog's
``mlp_gan`` (width 72, depth 2) has 5,545 + 5,618 = 11,163 parameters. Its size marks it ``large``:
group selectors of the check matrix skip it, and the matrix names it where it is checked.

The size family: with depth d and width w the two networks hold 2 (d - 1)(w^2 + w) + 9 w + 3 parameters
(``parameter_count``), and ``mlp_gan_of_size(n)`` builds the GAN whose count is nearest n, e.g.
``harness.check(mlp_gan_of_size(10**5), "simultaneous", "modified")`` (width 221, 100,116 parameters);
benchmarks/size_scaling.py measures one order check from 10^3 to 10^6 parameters.
"""

import jax
import jax.numpy as jnp
import numpy as np

from harness import Game

SAMPLES = 64


def _layer_sizes(inputs: int, width: int, depth: int, outputs: int) -> list[tuple[int, int]]:
    sizes = [inputs, *[width] * depth, outputs]
    return list(zip(sizes[:-1], sizes[1:], strict=True))


def _initial(rng: np.random.Generator, layers: list[tuple[int, int]]) -> np.ndarray:
    """Flat (W, b) of every layer: W ~ N(0, 1 / fan_in), b = 0."""
    parts = []
    for fan_in, fan_out in layers:
        parts += [rng.standard_normal(fan_in * fan_out) / np.sqrt(fan_in), np.zeros(fan_out)]
    return np.concatenate(parts)


def _mlp(layers: list[tuple[int, int]]):
    """``apply(flat_params, x)``: tanh hidden layers, linear output."""

    def apply(params, x):
        offset = 0
        for index, (fan_in, fan_out) in enumerate(layers):
            weights = params[offset: offset + fan_in * fan_out].reshape(fan_in, fan_out)
            offset += fan_in * fan_out
            x = x @ weights + params[offset: offset + fan_out]
            offset += fan_out
            if index < len(layers) - 1:
                x = jnp.tanh(x)
        return x

    return apply


def mlp_gan(width: int = 72, depth: int = 2, seed: int = 0, name: str = "mlp_gan") -> Game:
    """The GAN of the module docstring with ``depth`` hidden layers of ``width`` units in each network."""
    rng = np.random.default_rng(seed)
    modes = rng.integers(0, 8, SAMPLES)
    angles = 2 * np.pi * modes / 8
    data = np.stack([np.cos(angles), np.sin(angles)], 1) + 0.05 * rng.standard_normal((SAMPLES, 2))
    latents = rng.standard_normal((SAMPLES, 2))  # numpy float64: the losses compute in float64 wherever built
    d_layers, g_layers = _layer_sizes(2, width, depth, 1), _layer_sizes(2, width, depth, 2)
    discriminator, generator = _mlp(d_layers), _mlp(g_layers)

    def discriminator_loss(phi, theta):
        fake = generator(theta, latents)
        return (jnp.mean(jax.nn.softplus(-discriminator(phi, data)))
                + jnp.mean(jax.nn.softplus(discriminator(phi, fake))))

    def generator_loss(phi, theta):
        return jnp.mean(jax.nn.softplus(-discriminator(phi, generator(theta, latents))))

    return Game(name, discriminator_loss, generator_loss, _initial(rng, d_layers), _initial(rng, g_layers),
                linear=False, large=True)


def parameter_count(width: int, depth: int = 2) -> int:
    """Parameters of the discriminator and the generator together (weights and biases of every layer)."""
    layers = _layer_sizes(2, width, depth, 1) + _layer_sizes(2, width, depth, 2)
    return sum(fan_in * fan_out + fan_out for fan_in, fan_out in layers)


def width_for(parameters: int, depth: int = 2) -> int:
    """The width whose ``parameter_count`` is nearest ``parameters`` (the smaller width on a tie)."""
    width = 1
    while parameter_count(width + 1, depth) <= parameters:
        width += 1
    above = parameter_count(width + 1, depth) - parameters
    return width + 1 if above < parameters - parameter_count(width, depth) else width


def mlp_gan_of_size(parameters: int, depth: int = 2, seed: int = 0) -> Game:
    """The GAN with ``depth`` hidden layers of the width nearest ``parameters`` in all, named
    ``mlp_gan_<count>``; like every game of the family it has its own kernels."""
    width = width_for(parameters, depth)
    return mlp_gan(width, depth, seed, f"mlp_gan_{parameter_count(width, depth)}")


game = mlp_gan()
