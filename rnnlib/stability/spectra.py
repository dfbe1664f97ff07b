"""Spectral helpers: spectral radius, largest singular value, matrices with chosen eigenvalues."""

import numpy as np

__all__ = ["spectral_radius", "max_singular_value", "scale_to_spectral_radius",
           "matrix_with_eigenvalues"]


def spectral_radius(W):
    """Largest absolute eigenvalue ``rho(W) = max_i |lambda_i(W)|`` of a square matrix."""
    W = np.asarray(W)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W has shape {W.shape}; expected a square matrix (n, n)")
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def max_singular_value(W):
    """Largest singular value ``sigma_max(W)``, the operator 2-norm ``max ||W v|| / ||v||``.

    It bounds the spectral radius from above: ``rho(W) <= sigma_max(W)``, with equality for
    normal (for example symmetric or orthogonal) matrices.
    """
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"W has shape {W.shape}; expected a matrix (n, m)")
    return float(np.linalg.norm(W, 2))


def scale_to_spectral_radius(W, rho):
    """Return ``W * rho / rho(W)``, the matrix rescaled to spectral radius ``rho``."""
    return np.asarray(W) * (rho / spectral_radius(W))


def matrix_with_eigenvalues(eigenvalues, rng=None, basis="orthogonal"):
    """Build a real matrix ``W = U B U^-1`` with the given eigenvalues.

    ``B`` is block diagonal: a real eigenvalue ``lambda`` gives a 1x1 block and a complex pair
    ``r e^{+-i theta}`` gives the rotation-scaling block ``[[a, -b], [b, a]]`` with
    ``a + i b = r e^{i theta}`` (so the response to it oscillates with period
    ``2 pi / theta`` while its size changes by ``r`` per step).

    Inputs:

    - eigenvalues: sequence of n numbers; complex ones must come with their conjugate.
    - rng: ``numpy.random.Generator`` used to draw ``U`` (not needed for ``basis="identity"``).
    - basis: ``"orthogonal"`` (``U`` orthogonal, so ``W`` is normal: symmetric when all
      eigenvalues are real, and ``sigma_max(W) = rho(W)``), ``"random"`` (``U`` with Gaussian
      entries, so ``W`` is in general not normal) or ``"identity"`` (``W = B``).

    Returns:

    - W: (n, n) float64 array.
    """
    values = np.asarray(eigenvalues, dtype=complex)
    n = values.size
    B = np.zeros((n, n))
    used = np.zeros(n, dtype=bool)
    i = 0
    for k in range(n):
        if used[k]:
            continue
        lam = values[k]
        if abs(lam.imag) < 1e-12:
            B[i, i] = lam.real
            used[k] = True
            i += 1
            continue
        partner = [j for j in range(n)
                   if not used[j] and j != k and abs(values[j] - lam.conj()) < 1e-9]
        if not partner:
            raise ValueError(f"eigenvalues: complex value {lam} has no conjugate partner")
        used[k] = used[partner[0]] = True
        B[i : i + 2, i : i + 2] = [[lam.real, -abs(lam.imag)], [abs(lam.imag), lam.real]]
        i += 2
    if basis == "identity":
        return B
    if rng is None:
        raise ValueError("rng is None; a numpy.random.Generator is needed to draw the basis U")
    if basis == "orthogonal":
        U, R = np.linalg.qr(rng.standard_normal((n, n)))
        U = U * np.sign(np.diag(R))
        return U @ B @ U.T
    if basis == "random":
        U = rng.standard_normal((n, n)) / np.sqrt(n)
        return U @ B @ np.linalg.inv(U)
    raise ValueError(f"basis is {basis!r}; expected 'orthogonal', 'random' or 'identity'")
