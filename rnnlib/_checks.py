"""Argument checks shared by the rnnlib layers.

Every public function validates its inputs with these helpers so that a wrong shape
fails early with a message that names the argument, the shape it had, and the shape
that was expected, for example::

    Wh has shape (3, 4); expected (H, H) = (4, 4) where H = h_prev.shape[1]
"""

import numpy as np

__all__ = [
    "float_dtype",
    "as_float",
    "check_shape",
    "check_index_array",
    "check_recurrent_args",
]


def float_dtype(*arrays):
    """Return the floating dtype the computation runs in.

    This is the numpy result type of the arrays (so float32 inputs give float32
    and any float64 input gives float64); integer or boolean inputs give float64.
    """
    dtype = np.result_type(*arrays)
    if not np.issubdtype(dtype, np.floating):
        if np.issubdtype(dtype, np.complexfloating):
            raise ValueError(f"complex inputs are not supported (got dtype {dtype})")
        dtype = np.dtype(np.float64)
    return dtype


def as_float(dtype, *arrays):
    """Convert each array to ``dtype`` without copying when it already has it."""
    converted = tuple(np.asarray(a, dtype=dtype) for a in arrays)
    return converted if len(converted) != 1 else converted[0]


def _format_expected(symbols, expected):
    sym = "(" + ", ".join(symbols) + ("," if len(symbols) == 1 else "") + ")"
    if all(e is None for e in expected):
        return f"{sym} (a {len(symbols)}-D array)"
    values = [symbol if e is None else str(int(e)) for symbol, e in zip(symbols, expected)]
    val = "(" + ", ".join(values) + ("," if len(values) == 1 else "") + ")"
    return f"{sym} = {val}"


def check_shape(name, array, symbols, expected=None, where=""):
    """Raise ``ValueError`` unless ``array`` has the expected shape.

    Inputs:

    - name: the argument's name, used in the message.
    - array: the array to check (anything with a shape).
    - symbols: the symbolic shape, for example ``("H", "H")``.
    - expected: the concrete size of each axis, None leaving that axis free; when
      omitted only the number of axes is checked.
    - where: where the sizes come from, for example ``"H = h_prev.shape[1]"``.
    """
    if expected is None:
        expected = (None,) * len(symbols)
    shape = np.shape(array)
    ok = len(shape) == len(symbols) and all(
        e is None or s == e for s, e in zip(shape, expected)
    )
    if not ok:
        message = f"{name} has shape {tuple(shape)}; expected {_format_expected(symbols, expected)}"
        if where:
            message += f" where {where}"
        raise ValueError(message)


def check_index_array(name, array, upper, upper_name):
    """Check that ``array`` holds integers in ``[0, upper)`` and return it as an integer array."""
    array = np.asarray(array)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer indices; got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= upper):
        raise ValueError(
            f"{name} holds values in [{array.min()}, {array.max()}]; expected integers in "
            f"[0, {upper_name}) = [0, {upper})"
        )
    return array


def check_recurrent_args(x, h_prev, Wx, Wh, b, n_blocks, sequence, h_name, dtype=None):
    """Validate and convert the arguments shared by the recurrent cells.

    Checks ``x`` (N, D) for a step or (N, T, D) for a sequence, ``h_name`` (N, H),
    ``Wx`` (D, kH), ``Wh`` (H, kH) and ``b`` (kH,) with ``k = n_blocks`` (1 for the
    vanilla RNN, 3 for the GRU, 4 for the LSTM). Returns the arrays converted to
    their common floating dtype (or to ``dtype`` when given).
    """
    if dtype is None:
        dtype = float_dtype(x, h_prev, Wx, Wh, b)
    x, h_prev, Wx, Wh, b = as_float(dtype, x, h_prev, Wx, Wh, b)
    if sequence:
        check_shape("x", x, ("N", "T", "D"))
        if x.shape[1] == 0:
            raise ValueError(f"x has shape {x.shape}; expected at least one time step (T >= 1)")
    else:
        check_shape("x", x, ("N", "D"))
    N, D = x.shape[0], x.shape[-1]
    check_shape(h_name, h_prev, ("N", "H"), (N, None), "N = x.shape[0]")
    H = h_prev.shape[1]
    kH = "H" if n_blocks == 1 else f"{n_blocks}H"
    d_axis = 2 if sequence else 1
    where = f"D = x.shape[{d_axis}], H = {h_name}.shape[1]"
    check_shape("Wx", Wx, ("D", kH), (D, n_blocks * H), where)
    check_shape("Wh", Wh, ("H", kH), (H, n_blocks * H), f"H = {h_name}.shape[1]")
    check_shape("b", b, (kH,), (n_blocks * H,), f"H = {h_name}.shape[1]")
    return x, h_prev, Wx, Wh, b
