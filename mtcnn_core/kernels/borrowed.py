"""Arrays without reference counting, for the inner loops of the compiled kernels.

Every view numba makes of an array (a row, a slice) takes and drops a reference on the array's
owner, two atomic updates, and the kernels make several views per pass over a tile: ~15 % of a
small conv's time went there. A borrowed array is the same array with no owner, so its views
cost nothing. Its owner must stay alive while it is used: `keep_alive` at the end of the scope.
"""

from __future__ import annotations

from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def borrow(typingctx, arr):
    """arr as a borrowed array: the same data, shape and type, no owner reference."""

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, value=args[0])
        ary.meminfo = context.get_constant_null(types.MemInfoPointer(types.voidptr))
        return ary._getvalue()

    return arr(arr), codegen


@njit(cache=True, nogil=True)
def keep_alive(*owners):
    """Referenced here, the owners live at least until this point of the caller."""
    return len(owners)
