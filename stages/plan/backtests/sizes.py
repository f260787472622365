"""The size backtest of ``critmix law validate`` and ``critmix plan``: leave the largest pilot size out,
predict its CMR from the smaller sizes by the size law, and compare with its own fit.

The error is the one the size law's interval already carries (``backtest_error``, scaled to the
target); here it is reported as a measurement, with whether the held-out prediction's interval
covered the largest size's own CMR.
"""

from __future__ import annotations

from stages.plan.backtests.backtest import validate
from stages.plan.cmr.fit import fit_domain
from stages.plan.cmr.sizes import at_size, largest_size, pilot_sizes
from stages.plan.laws.sizes import SizeCMR, predict_cmr_at_size
from stages.plan.settings import FitSettings

MIN_SIZES = 3  # the largest left out, the law needs two sizes to be fitted on


def backtest_report(curves, domain, settings: FitSettings = FitSettings()) -> dict:
    """``validate`` within the largest pilot size, with ``size_backtest`` when the curves hold sizes."""
    report = validate(largest_size(curves), domain, settings)
    sized = size_backtest(curves, domain, settings)
    return report if sized is None else {**report, "size_backtest": sized}


def size_backtest(curves, domain, settings: FitSettings = FitSettings()) -> dict | None:
    """The leave-the-largest-size-out backtest of one domain; None for curves of one size."""
    sizes = pilot_sizes(curves)
    if len(sizes) < 2:
        return None
    settings = settings.at(target_params=None)
    fitted = []
    for params in sizes:
        fit = fit_domain(at_size(curves, params), domain, settings)
        if fit.cmr is not None:
            fitted.append(SizeCMR(params, fit.cmr, fit.ci))
    report: dict = {
        "domain": str(domain),
        "sizes": [{"params": s.params, "cmr": s.cmr, "ci": s.ci and list(s.ci)} for s in fitted],
    }
    if len(fitted) < MIN_SIZES:
        return {
            **report,
            "held_out_params": None,
            "note": f"the CMR fits at {len(fitted)} of {len(sizes)} pilot sizes; leaving the largest "
            f"out needs {MIN_SIZES}",
        }
    held_out = fitted[-1]
    prediction = predict_cmr_at_size(
        fitted[:-1], held_out.params, level=settings.level, seed=settings.seed
    )
    low, high = prediction.ci
    return {
        **report,
        "held_out_params": held_out.params,
        "predicted": prediction.cmr,
        "ci": [low, high],
        "bootstrap_ci": list(prediction.bootstrap_ci),  # the per-size intervals alone
        "measured": held_out.cmr,
        "error": prediction.cmr - held_out.cmr,
        "covered": bool(low <= held_out.cmr <= high),
        "notes": prediction.notes,
    }
