"""The implicit regularisation of minibatch SGD, in expectation over the random batches.

Citation: S. L. Smith, B. Dherin, D. G. T. Barrett, S. De, "On the Origin of Implicit Regularization in
Stochastic Gradient Descent", ICLR 2021, arXiv 2101.12176.
Claim: the abstract (printed, read at 42papers.com and scholarfeed.org/paper/2101.12176v1): "for SGD with
random shuffling, the mean SGD iterate also stays close to the path of gradient flow if the learning rate is
small and finite, but on a modified loss. This modified loss is composed of the original loss function and an
implicit regularizer, which penalizes the norms of the minibatch gradients. Under mild assumptions, when the
batch size is small the scale of the implicit regularization term is proportional to the ratio of the
learning rate to the batch size." The formula checked, derived here: a data set of N samples c_i with mean
C = (1/N) sum_i c_i, shuffled at random each epoch and cut into m = N/B batches of B samples, steps eps; the
mean iterate after one epoch, over every ordered partition into batches, follows
    x-dot = -grad C~,   C~ = C + (eps/4) |grad C|^2 + (eps/4) (N - B)/(B (N - 1)) Gamma,
    Gamma = (1/N) sum_i |grad c_i - grad C|^2,
to O(eps^3) per epoch; (N - B)/(B (N - 1)) Gamma is the variance of a batch-mean gradient drawn without
replacement, which is Gamma/B for B << N (the abstract's "ratio of the learning rate to the batch size").
Derivation: one epoch in a given order of batch losses C^_1 ... C^_m is x - eps m grad C + eps^2
sum_(i<j) hess C^_j grad C^_i + O(eps^3); the mean over the m! orders of a partition halves the sum over
i != j, and matching the flow's expansion over time m eps leaves the per-partition modified loss
C + (eps/(4m)) sum_j |grad C^_j|^2 (the random-reshuffling formula of smith_2021.py with batches for
components); each batch of a random partition is a uniform draw without replacement, so the mean over the
partitions of sum_j |grad C^_j|^2 is m (|grad C|^2 + (N - B)/(B (N - 1)) Gamma).
Notation: the harness's step h is the epoch's flow time m eps (eps = h/m); alpha (lr1) scales every step:
x-dot = -alpha grad C - (alpha^2 h/(4m)) grad (|grad C|^2 + (N - B)/(B (N - 1)) Gamma). The N = 6 samples
are the components C_k of the catalog game finite_sum, each split in two, c_(k,+-) = C_k +- d_k with
d_k(x) = 0.4 sin(v_k . x), so that their mean is the game's loss and their gradients differ; the rules below
average one epoch exactly over every ordered partition (B = 2: 90 of them, B = 3: 20).
Claimed accuracy: the abstract states no order; the theorem was not read. The modified loss is a first-order
modified flow of the epoch map averaged over the partitions (local error O(h^3) per epoch), which the checks
measure; one fixed partition, averaged over its orders, follows its own batches' modified loss, not the
expectation (off at O(h^2)). The checks tell the factor apart (measured, not in the matrix): against the rule
with batches of 2, the flow with Gamma/B (sampling with replacement) in place of (N - B)/(B (N - 1)) Gamma
measures slope 1.93, and the flow of batches of 3 slope 1.96.
Provenance: derived here (the derivation above); the paper's theorem and its expectation over batches were
not read.
Rules: random_batches_2 and random_batches_3 (batches of B = 2 and 3 samples) on the catalog game finite_sum;
one_partition (the batches {1+, 2-}, {2+, 3-}, {3+, 1-}, averaged over their 3! orders) for the regime row.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np

import harness
from harness.games.finite_sum import COMPONENTS

_DIRECTIONS = np.array([[1.0, -0.6], [0.4, 1.1], [-0.9, 0.7]])


def _sample(k, sign):
    """c_(k,+-)(x) = C_k(x) +- 0.4 sin(v_k . x)."""
    def loss(x):
        return COMPONENTS[k](x) + sign * 0.4 * jnp.sin(_DIRECTIONS[k] @ x)
    return loss


SAMPLES = tuple(_sample(k, sign) for k in range(len(COMPONENTS)) for sign in (1.0, -1.0))
"""c_(1,+), c_(1,-), c_(2,+), ...: six samples whose mean is finite_sum's loss."""
N = len(SAMPLES)


def _ordered_partitions(batch):
    """Every ordered partition of the N samples into batches of ``batch``: (count, N / batch, N) weights, row j
    of one the batch-mean weights of its j-th batch."""
    seen = {tuple(frozenset(p[j:j + batch]) for j in range(0, N, batch)) for p in itertools.permutations(range(N))}
    weights = np.zeros((len(seen), N // batch, N))
    for index, partition in enumerate(sorted(seen, key=lambda p: [sorted(b) for b in p])):
        for j, members in enumerate(partition):
            weights[index, j, list(members)] = 1.0 / batch
    return weights


def _mean_epoch(weights, x, h, lr1):
    """The mean over the given ordered partitions of one epoch of steps alpha h / m on the batch means."""
    steps = weights.shape[1]

    def epoch(w):
        y = x
        for j in range(steps):
            gradients = jnp.stack([jax.grad(c)(y) for c in SAMPLES])
            y = y - lr1 * h / steps * (w[j] @ gradients)
        return y

    return jnp.mean(jax.vmap(epoch)(jnp.asarray(weights)), axis=0)


_TWO, _THREE = _ordered_partitions(2), _ordered_partitions(3)
_ONE = np.array([[[0.5 if i in b else 0.0 for i in range(N)] for b in order]
                 for order in itertools.permutations(({0, 3}, {2, 5}, {4, 1}))])

RULES = ("random_batches_2", "random_batches_3", "one_partition")
"""The update rules of this file (the other functions are flows)."""


@harness.rule(order=1, name="SGD epoch, mean over every partition into batches of 2")
def random_batches_2(f, g, phi, theta, h, lr1, lr2):
    """The mean iterate of one epoch over the 90 ordered partitions of the 6 samples into 3 batches of 2."""
    return _mean_epoch(_TWO, phi, h, lr1), theta


@harness.rule(order=1, name="SGD epoch, mean over every partition into batches of 3")
def random_batches_3(f, g, phi, theta, h, lr1, lr2):
    """The mean iterate of one epoch over the 20 ordered partitions of the 6 samples into 2 batches of 3."""
    return _mean_epoch(_THREE, phi, h, lr1), theta


@harness.rule(order=1, name="SGD epoch, one partition into batches of 2, mean over its orders")
def one_partition(f, g, phi, theta, h, lr1, lr2):
    """The mean iterate of one epoch over the 3! orders of the batches {1+, 2-}, {2+, 3-}, {3+, 1-}."""
    return _mean_epoch(_ONE, phi, h, lr1), theta


def _regulariser(x, batch):
    """|grad C|^2 + (N - B)/(B (N - 1)) Gamma."""
    gradients = jnp.stack([jax.grad(c)(x) for c in SAMPLES])
    mean = jnp.mean(gradients, axis=0)
    gamma = jnp.mean(jnp.sum((gradients - mean) ** 2, axis=1))
    return mean @ mean + (N - batch) / (batch * (N - 1)) * gamma


def _expected(f, phi, theta, h, lr1, batch):
    m = N // batch
    return lr1 * f(phi, theta) - lr1 ** 2 * h / (4 * m) * jax.grad(_regulariser)(phi, batch)


@harness.flow(order=1, name="minibatch SGD, batches of 2 (Smith et al. 2021, derived)")
def expected_batches_2(f, g, phi, theta, h, lr1, lr2):
    """-alpha grad C - (alpha^2 h/(4m)) grad (|grad C|^2 + (N - B)/(B (N - 1)) Gamma), B = 2, m = 3."""
    return _expected(f, phi, theta, h, lr1, 2), theta


@harness.flow(order=1, name="minibatch SGD, batches of 3 (Smith et al. 2021, derived)")
def expected_batches_3(f, g, phi, theta, h, lr1, lr2):
    """The same with B = 3, m = 2."""
    return _expected(f, phi, theta, h, lr1, 3), theta
