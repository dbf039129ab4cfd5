"""A float32 SIMD vector as one numba value: LANES independent outputs side by side.

numba has no vector type, so the kernels that vectorise across output channels (`by_channel`)
would otherwise depend on LLVM's auto-vectoriser keeping a dozen accumulators in registers. Here
`Lanes` is LLVM's <LANES x float> and the few operations on it are single LLVM instructions:
`vfma_at` is `llvm.fma.v*f32` (one rounding per lane, like `compiled.fma32`) and `vadd` a plain
IEEE `fadd` without fast-math flags, so every lane is computed exactly as its scalar chain would be,
whatever LANES is. LANES is the host's widest float32 vector: 16 with AVX-512, else 8.
"""

from __future__ import annotations

import llvmlite.binding as llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model


def _host_lanes() -> int:
    try:
        return 16 if llvm.get_host_cpu_features().get("avx512f", False) else 8
    except Exception:  # feature detection unavailable: 8 lanes are right everywhere
        return 8


LANES = _host_lanes()
_VEC = ir.VectorType(ir.FloatType(), LANES)
_I32 = ir.IntType(32)


class Lanes(types.Type):
    """numba type of one <LANES x float> vector."""

    def __init__(self):
        super().__init__(name=f"float32x{LANES}")


lanes = Lanes()


@register_model(Lanes)
class _LanesModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VEC)


def _element_ptr(context, builder, arrty, arr, i):
    """Pointer to arr[i] of a C-contiguous 1-D array, without numba's negative-index fix-up."""
    return builder.gep(context.make_array(arrty)(context, builder, arr).data, [i])


@intrinsic
def vzero(typingctx):
    """LANES times +0.0."""

    def codegen(context, builder, sig, args):
        return ir.Constant(_VEC, None)

    return lanes(), codegen


@intrinsic
def vload(typingctx, arr, i):
    """arr[i : i + LANES] of a float32 1-D array (i >= 0)."""

    def codegen(context, builder, sig, args):
        ptr = _element_ptr(context, builder, sig.args[0], args[0], args[1])
        return builder.load(builder.bitcast(ptr, _VEC.as_pointer()), align=4)

    return lanes(arr, types.intp), codegen


@intrinsic
def vstore(typingctx, arr, i, v):
    """arr[i : i + LANES] <- v."""

    def codegen(context, builder, sig, args):
        ptr = _element_ptr(context, builder, sig.args[0], args[0], args[1])
        builder.store(args[2], builder.bitcast(ptr, _VEC.as_pointer()), align=4)
        return context.get_dummy_value()

    return types.void(arr, types.intp, lanes), codegen


@intrinsic
def vadd(typingctx, a, b):
    """a + b per lane, rounded once (IEEE fadd, no fast-math flags)."""

    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], args[1])

    return lanes(lanes, lanes), codegen


@intrinsic
def vfma_at(typingctx, arr, i, w, a):
    """fma(arr[i], w, a) per lane with a single rounding: arr[i] (float32, i >= 0) times every
    lane of w, plus a."""

    def codegen(context, builder, sig, args):
        x = builder.load(_element_ptr(context, builder, sig.args[0], args[0], args[1]), align=4)
        one = builder.insert_element(ir.Constant(_VEC, ir.Undefined), x, ir.Constant(_I32, 0))
        splat = builder.shuffle_vector(one, one, ir.Constant(ir.VectorType(_I32, LANES), [0] * LANES))
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VEC, [_VEC] * 3), f"llvm.fma.v{LANES}f32")
        return builder.call(fma, [splat, args[2], args[3]])

    return lanes(arr, types.intp, lanes, lanes), codegen
