"""The app's cost gate: a run over the pyramid budget asks to be confirmed ("Run anyway", for this
session, image and parameters only); a run over the hard ceiling is refused, naming the min face
size that fits. The CLI's equivalent is `--allow-expensive` (mtcnn_core/cost.py)."""

from __future__ import annotations

import streamlit as st

from mtcnn_core.cost import DEFAULT_BUDGET_PIXELS, CostError, pyramid_pixels, smallest_min_face

#: Pyramid pixels a run may send through PNet without asking (mtcnn_core/cost.py's budget).
BUDGET_PIXELS = DEFAULT_BUDGET_PIXELS
#: Pyramid pixels no confirmation can unlock. Measured on a 2-core machine (bench/bench_cost.py,
#: 4000x3000 photo, the app's box cap): 24 Mpixel took 5.4 s and 1.35 GB peak; memory grows
#: ~48 MB per Mpixel, so 32 Mpixel keeps one confirmed run under ~1.8 GB of a shared server.
CEILING_PIXELS = 32_000_000
#: Cost per pyramid Mpixel on that machine, for the estimate shown before confirming.
SECONDS_PER_MPIXEL, MB_PER_MPIXEL, BASE_MB = 0.25, 48, 220
#: Session key holding the one run the user confirmed (replaced by the next confirmation).
CONFIRMED = "cost_confirmed"


class CostConfirmation(CostError):
    """A run over the budget but under the ceiling: shown with a 'Run anyway' button."""

    def __init__(self, message: str, run_key: str):
        super().__init__(message)
        self.run_key = run_key


def estimate(pixels: int) -> tuple[float, float]:
    """(seconds, peak MB) a run of `pixels` pyramid pixels is expected to take (2-core machine)."""
    mpx = pixels / 1e6
    return SECONDS_PER_MPIXEL * mpx, BASE_MB + MB_PER_MPIXEL * mpx


def confirm_message(height: int, width: int, params: dict, pixels: int) -> str:
    seconds, mb = estimate(pixels)
    fits = smallest_min_face(height, width, params, BUDGET_PIXELS)
    return (
        f"Expensive run: a {width}x{height} image with min face size {params['min_face_size']} "
        f"sends {pixels / 1e6:.1f} Mpixel through PNet, over this app's budget of "
        f"{BUDGET_PIXELS / 1e6:.0f} Mpixel. Estimated cost: about {seconds:.0f} s and "
        f"{mb / 1024:.1f} GB of server memory (measured on 2 cores; slower with the "
        f"'reference' engine). Run it anyway, or raise the min face size to at least {fits}."
    )


def ceiling_message(height: int, width: int, params: dict, pixels: int) -> str:
    fits = smallest_min_face(height, width, params, CEILING_PIXELS)
    return (
        f"a {width}x{height} image with min face size {params['min_face_size']} sends "
        f"{pixels / 1e6:.1f} Mpixel through PNet, over this server's hard limit of "
        f"{CEILING_PIXELS / 1e6:.0f} Mpixel: raise the min face size to at least {fits} "
        "(the command line runs it with --allow-expensive)"
    )


def check(height: int, width: int, params: dict, run_key: str):
    """Return if the run may go ahead; raise CostConfirmation (ask) or CostError (refuse)."""
    pixels = pyramid_pixels(height, width, params["min_face_size"], params["pyramid_factor"])
    if pixels <= BUDGET_PIXELS:
        return
    if pixels > CEILING_PIXELS:
        raise CostError(ceiling_message(height, width, params, pixels))
    if st.session_state.get(CONFIRMED) != run_key:
        raise CostConfirmation(confirm_message(height, width, params, pixels), run_key)


def ask(e: CostConfirmation):
    """The confirmation: the estimate and a 'Run anyway' button for exactly this run."""
    st.warning(str(e), icon=":material/hourglass_top:")
    st.button(
        "Run anyway",
        key="cost_run_anyway",
        type="primary",
        on_click=_confirm,
        args=(e.run_key,),
        help="Runs this image with these parameters once confirmed; any other image or parameters ask again.",
    )


def _confirm(run_key: str):
    st.session_state[CONFIRMED] = run_key
