"""The critical mixture ratio (CMR) of continual pre-training, after arXiv 2407.17467.

For each domain, pilot runs at several ratios R (domain share of the CPT tokens) give loss curves.
Per ratio we fit the increment laws (Eq. 6) and find the turnaround T0(R), the root of
∂F/∂T = ∂ΔL_dom/∂T + λ·∂ΔL_gen/∂T = 0 where F stops rising (Eq. 7). Two views of the CMR follow:

- turnaround law: R_CMR(T) = α4·T^s4 + β3 fitted through the points (T0(R), R), read at the budget;
- ε tolerance: the general loss at the budget, L_gen(R) = α·R^s + β fitted over the ratios, read
  where it reaches L_gen(M) + ε (ε absolute, against the model before CPT).

The planner reports both. It uses the smaller of the two when the turnaround law is reliable, and
the ε view alone when it is not (turnarounds bunched early, exponent at its bound, low R², too few
points), saying why. The CI is a residual bootstrap over the pilot points, refitting every law.

Units. Tokens are raw token counts everywhere (CSV, budget, T0). λ needs no conversion from the
paper's units (T = 100 ↔ 20B tokens): scaling T by a constant c scales both terms of ∂F/∂T by 1/c,
so the roots T0, and hence the CMR, do not depend on the token unit. λ is a ratio of loss scales:
it trades domain-loss change against general-loss change. The paper's range (100–7000) reflects
general-loss changes ~100× smaller than domain-loss changes at its scale; elsewhere the balance
differs, so each result carries ``lambda_balance`` (domain-loss drop at the budget over the peak
general-loss rise, median over ratios): λ ≫ lambda_balance means the turnaround is essentially the
peak of ΔL_gen (the λ → ∞ limit), λ ≪ lambda_balance means the domain term decides. The default λ
sweep spans the paper's range, ∞, and 0.3×, 1×, 3× lambda_balance so it moves at any scale.
"""
from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field

import numpy as np

from stages.plan.laws import ExpMixLaw, IncrementLaws, PowerLaw

COLUMNS = ("domain", "ratio", "tokens", "general_loss", "domain_loss")
MIN_POINTS_PER_RATIO = 6  # the general law has five parameters
MIN_RATIOS = 3  # both ratio laws have three
CMR_LAW_EXPONENTS = (-3.0, 3.0)
TURNAROUND_SEARCH = (1e-3, 1e2)  # in units of the largest pilot token count
BUNCHED_SHARE = 0.1  # all T0 inside this share of the budget say nothing about R
LOW_R2 = 0.9
EXTRAPOLATION_WARN = 2.0
PAPER_LAMBDAS = (100.0, 300.0, 1000.0, 3000.0, 7000.0)


def read_curves(path) -> dict[str, np.ndarray]:
    """Columns of a pilot-curve CSV (domain,ratio,tokens,general_loss,domain_loss) as arrays."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    missing = [c for c in COLUMNS if not rows or c not in rows[0]]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; the CSV needs the header "
                         f"{','.join(COLUMNS)} and at least one row")
    curves = {"domain": np.array([r["domain"] for r in rows])}
    for name in COLUMNS[1:]:
        curves[name] = np.array([float(r[name]) for r in rows])
    return curves


def turnaround_points(laws: IncrementLaws, lam: float, t_range=TURNAROUND_SEARCH, grid_size=256):
    """Scaled turnaround t0 for every member of a (batch-fitted) law; NaN where none in t_range.

    Scans ∂F/∂t on a log grid for the first change from rising to falling and bisects it."""
    grid = np.geomspace(*t_range, grid_size)
    params = {k: np.asarray(v, dtype=float)[..., None] for k, v in vars(laws).items() if k != "t_scale"}
    batch_laws = IncrementLaws(laws.t_scale, **params)

    def slope(t):
        d_dom, d_gen = batch_laws.slopes(t)
        return d_gen if np.isinf(lam) else d_dom + lam * d_gen

    with np.errstate(all="ignore"):
        values = slope(grid)
        crossing = (values[..., :-1] > 0) & (values[..., 1:] <= 0)
        found = crossing.any(axis=-1)
        first = np.argmax(crossing, axis=-1)
        lo, hi = np.log(grid[first])[..., None], np.log(grid[first + 1])[..., None]
        for _ in range(40):
            mid = (lo + hi) / 2
            rising = slope(np.exp(mid)) > 0
            lo, hi = np.where(rising, mid, lo), np.where(rising, hi, mid)
    return np.where(found, np.exp((lo + hi)[..., 0] / 2), np.nan)


def turnaround(laws: IncrementLaws, lam: float) -> float | None:
    """T0 in tokens for one ratio's laws; λ = inf gives the peak of ΔL_gen; None if no turnaround."""
    t0 = float(turnaround_points(laws, lam))
    return None if np.isnan(t0) else t0 * laws.t_scale


@dataclass
class RatioPoint:
    ratio: float
    t0: float | None
    feasible_turnaround: bool
    general_loss_at_budget: float
    feasible_epsilon: bool
    domain_loss_change_at_budget: float
    laws: dict


@dataclass
class CMRResult:
    """One domain's plan; ``to_dict()`` gives YAML-friendly values for curriculum.yaml."""
    domain: str
    cmr: float | None
    ci: tuple[float, float] | None
    cmr_epsilon: float | None
    cmr_turnaround: float | None
    used: str
    reason: str
    binding: str | None
    lam: float
    epsilon: float
    budget: float
    pilot_tokens: float
    lambda_balance: float | None
    ratios: list[RatioPoint] = field(default_factory=list)
    cmr_law: dict | None = None
    general_ratio_law: dict | None = None
    domain_ratio_law: dict | None = None
    reliability: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    ci_epsilon: tuple[float, float] | None = None
    ci_turnaround: tuple[float, float] | None = None
    baseline_losses: tuple[float, float] | None = None  # (general, domain) of the model before CPT

    def to_dict(self) -> dict:
        out = _plain(asdict(self))
        out["lam"] = "inf" if np.isinf(self.lam) else self.lam
        return out


def _plain(value):
    """Builtin Python types all the way down, so that yaml.safe_dump and json accept the result."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (float, np.floating, int, np.integer)):
        return value if isinstance(value, int) else float(value)
    return value if value is None else str(value)


@dataclass
class _Views:
    """Both CMR views for a batch of refits (arrays of shape (B,)); NaN where a view has no answer."""
    t0: np.ndarray  # (B, ratios), scaled tokens
    cmr_law: PowerLaw | None
    turnaround: np.ndarray
    turnaround_clipped: np.ndarray
    general_law: PowerLaw
    epsilon: np.ndarray


def _pilot_arrays(curves, domain):
    """Baseline losses and per-ratio CPT points (tokens > 0) of one domain, with warnings."""
    rows = curves["domain"] == domain
    ratio, tokens = curves["ratio"][rows], curves["tokens"][rows]
    gen, dom = curves["general_loss"][rows], curves["domain_loss"][rows]
    base = tokens == 0
    if not base.any():
        raise ValueError(f"domain {domain!r}: no rows at tokens = 0; add the model's general and domain "
                         f"losses before CPT (one row per ratio with tokens = 0)")
    baseline = (float(gen[base].mean()), float(dom[base].mean()))
    warnings, points = [], {}
    if np.any(ratio <= 0):
        warnings.append("ratio 0 rows are ignored: the CMR laws are fitted on R > 0 only")
    for r in np.unique(ratio[ratio > 0]):
        pick = (ratio == r) & (tokens > 0)
        if pick.sum() < MIN_POINTS_PER_RATIO:
            warnings.append(f"ratio {r:g}: only {pick.sum()} CPT points, need ≥ {MIN_POINTS_PER_RATIO}; "
                            f"ratio skipped (evaluate the pilot more often)")
            continue
        order = np.argsort(tokens[pick])
        # The point (0, 0) belongs to every curve: without it a rise that ends before the first
        # evaluation is invisible and the fit misses the turnaround.
        points[float(r)] = tuple(np.concatenate([[0.0], v[pick][order] - b])
                                 for v, b in ((tokens, 0.0), (gen, baseline[0]), (dom, baseline[1])))
    return baseline, points, warnings


def _crossing(law: PowerLaw, threshold: float, size=2001):
    """Largest R in (0, 1] with law(R) ≤ threshold per batch member; 0 where none (linear interpolation)."""
    grid = np.linspace(0, 1, size)[1:]
    values = np.asarray(law.alpha)[..., None] * grid ** np.asarray(law.s)[..., None] + np.asarray(law.beta)[..., None]
    ok = values <= threshold
    last = np.where(ok.any(axis=-1), size - 2 - np.argmax(ok[..., ::-1], axis=-1), -1)
    nxt = np.minimum(last + 1, size - 2)
    v0 = np.take_along_axis(values, np.maximum(last, 0)[..., None], -1)[..., 0]
    v1 = np.take_along_axis(values, nxt[..., None], -1)[..., 0]
    with np.errstate(all="ignore"):
        frac = np.where(v1 > v0, (threshold - v0) / (v1 - v0), 0.0)
    r = grid[np.maximum(last, 0)] + np.clip(frac, 0, 1) * (grid[1] - grid[0])
    return np.where(last < 0, 0.0, np.where(last == size - 2, 1.0, r))


def _general_law_weights(ratios):
    """Which ratios the general-loss L(R) law is fitted on: all but R = 1 when three others remain.

    At R = 1 there is no general data at all; its general loss follows another regime (on the real
    small-scale curves it rises throughout, 1.3 above the rest), and one power law through both
    regimes misplaces the ε crossing that lies between the other ratios."""
    interior = (ratios < 1).astype(float)
    return interior if interior.sum() >= MIN_RATIOS else np.ones_like(interior)


def _views(ratios, laws: IncrementLaws, baseline_general, lam, epsilon, budget_scaled, start=None,
           tol=1e-8) -> _Views:
    """Both CMR views from increment laws whose parameters have shape (ratios, B)."""
    ratios = np.asarray(ratios)
    t0 = turnaround_points(laws, lam).T
    batch = t0.shape[0]
    general = (baseline_general + laws.d_general(budget_scaled * laws.t_scale)).T
    general_law = PowerLaw.fit(ratios, general, weights=_general_law_weights(ratios),
                               start=None if start is None else start.general_law.s, tol=tol)
    eps_view = _crossing(general_law, baseline_general + epsilon)
    has_t0 = np.isfinite(t0)
    cmr_law, turn, clipped = None, np.full(batch, np.nan), np.zeros(batch, bool)
    if has_t0.sum(axis=-1).max() >= MIN_RATIOS:
        law_start = None if start is None or start.cmr_law is None else start.cmr_law.s
        cmr_law = PowerLaw.fit(np.where(has_t0, t0, 1.0), np.broadcast_to(ratios, t0.shape),
                               weights=has_t0.astype(float), bounds=CMR_LAW_EXPONENTS, start=law_start, tol=tol)
        raw = cmr_law(budget_scaled)
        enough = has_t0.sum(axis=-1) >= MIN_RATIOS
        turn = np.where(enough, np.clip(raw, 0, 1), np.nan)
        clipped = enough & ((raw < 0) | (raw > 1))
    return _Views(t0, cmr_law, turn, clipped, general_law, eps_view)


def _padded(points):
    """Per-ratio curves as (ratios, n) arrays padded with weight-0 points."""
    width = max(len(p[0]) for p in points.values())
    arrays = np.zeros((3, len(points), width))
    weights = np.zeros((len(points), width))
    for row, curve in enumerate(points.values()):
        arrays[:, row, :len(curve[0])] = curve
        weights[row, :len(curve[0])] = 1.0
    arrays[0][weights == 0] = 1.0  # tokens of padding: any positive value, it has weight 0
    return arrays, weights


def _bootstrap_laws(points, laws: IncrementLaws, n_boot, rng) -> IncrementLaws:
    """Residual bootstrap: every ratio's curves refitted n_boot times in one batch, warm-started from
    the point fit. Returns laws with parameters of shape (ratios, n_boot)."""
    (tokens, d_gen, d_dom), weights = _padded(points)
    column = laws.map(lambda v: v[:, None])
    fitted = [(column.d_general(tokens), d_gen), (column.d_domain(tokens), d_dom)]
    counts = weights.sum(axis=1).astype(int)
    pick = (rng.random((len(counts), n_boot, weights.shape[1])) * counts[:, None, None]).astype(int)
    resampled = []
    for (fit, observed), n_params in zip(fitted, (5, 3)):
        residual = np.where(weights > 0, observed - fit, 0.0)
        # Fitted residuals are smaller than the noise by sqrt((n - p) / n); undo that shrinkage.
        inflate = np.sqrt(counts / np.maximum(counts - n_params, 1))[:, None]
        centred = (residual - (residual.sum(axis=1) / counts)[:, None]) * inflate
        draws = fit[:, None, :] + np.take_along_axis(centred[:, None, :], pick, axis=2)
        resampled.append(draws.reshape(-1, weights.shape[1]))
    flat = lambda a: np.repeat(a[:, None, :], n_boot, axis=1).reshape(-1, a.shape[-1])
    start = laws.map(lambda v: np.repeat(v, n_boot))
    boot = IncrementLaws.fit(flat(tokens), *resampled, weights=flat(weights), t_scale=laws.t_scale,
                             start=start, tol=2e-3)
    return boot.map(lambda v: v.reshape(len(counts), n_boot))


def _reliability(views: _Views, budget_scaled):
    """Flags on the turnaround law; any flag makes its CMR unfit to plan with."""
    t0 = views.t0[0][np.isfinite(views.t0[0])]
    flags = {"too_few_points": bool(t0.size < MIN_RATIOS)}
    if views.cmr_law is not None and not flags["too_few_points"]:
        flags["turnarounds_bunched_early"] = bool(t0.max() <= BUNCHED_SHARE * budget_scaled)
        flags["exponent_at_bound"] = views.cmr_law.exponent_at_bound()
        flags["low_r2"] = bool(views.cmr_law.r2[0] < LOW_R2)
    flags["reliable"] = not any(flags.values())
    return flags


def _describe_flags(flags, views: _Views, budget_scaled):
    t0 = views.t0[0][np.isfinite(views.t0[0])]
    text = {"too_few_points": f"only {t0.size} ratios have a turnaround (need ≥ {MIN_RATIOS})",
            "turnarounds_bunched_early": (f"all turnarounds sit in the first {100 * t0.max() / budget_scaled:.0f}% "
                                          f"of the budget, so they say nothing about R" if t0.size else ""),
            "exponent_at_bound": "the CMR-law exponent sits at its bound",
            "low_r2": f"the CMR law fits poorly (R² {float(views.cmr_law.r2[0]) if views.cmr_law else 0:.2f})"}
    return "; ".join(text[k] for k, v in flags.items() if k != "reliable" and v)


def _choose(point: _Views, flags, budget_scaled):
    eps, turn = float(point.epsilon[0]), float(point.turnaround[0])
    if flags["reliable"] and np.isfinite(turn):
        binding = "turnaround" if turn < eps else "epsilon"
        return min(turn, eps), "min", "turnaround law is reliable, so the tighter of the two views binds", binding
    return eps, "epsilon", f"turnaround law unreliable: {_describe_flags(flags, point, budget_scaled)}", "epsilon"


def _lambda_balance(fits, budget, pilot_tokens):
    """The λ at which both terms of F weigh alike: the domain-loss drop at the budget over the peak
    general-loss rise, median over ratios."""
    grid = np.geomspace(1e-3, 1, 200) * pilot_tokens
    balance = [abs(f.d_domain(budget)) / max(f.d_general(grid).max() - f.d_general(0.0), 1e-12) for f in fits]
    return float(np.median(balance))


def _warnings(point: _Views, cmr, budget, pilot_tokens, ratio_list):
    notes = []
    if cmr == 0:
        notes.append(f"no ratio is feasible at budget {budget:.3g} tokens: the general loss has not come back "
                     f"within tolerance; try a larger budget (or a larger ε)")
    if cmr == 1:
        notes.append("every ratio is feasible (CMR = 1): the general loss stays within tolerance even on "
                     "domain data alone; check ε and the budget")
    if point.turnaround_clipped[0]:
        notes.append(f"the CMR law gives {float(point.cmr_law(budget / pilot_tokens)[0]):.3f} at the budget, "
                     f"outside [0, 1]; clipped")
    general_law = _scalar(point.general_law)
    if general_law.exponent_at_bound() or general_law.r2 < LOW_R2:
        notes.append(f"the general-loss L(R) law fits poorly (s = {general_law.s:.2f}, R² {general_law.r2:.2f}); "
                     f"the ε view interpolates it, so check it against the per-ratio table")
    if budget > EXTRAPOLATION_WARN * pilot_tokens:
        notes.append(f"budget is {budget / pilot_tokens:.1f}× the pilot budget ({pilot_tokens:.3g} tokens): "
                     f"the laws are extrapolated that far; run longer pilots to trust it")
    if 0 < cmr < min(ratio_list):
        notes.append(f"CMR {cmr:.3f} is below the smallest pilot ratio {min(ratio_list):g}: extrapolated in R")
    return notes


def _ci(values, level):
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    tail = 50 * (1 - level)
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def fit_domain(curves, domain, lam=1000.0, epsilon=0.05, budget=None, n_boot=100, level=0.95, seed=0) -> CMRResult:
    """The CMR of one domain at ``budget`` tokens (default: the pilot budget)."""
    domain = str(domain)
    baseline, points, warnings = _pilot_arrays(curves, domain)
    pilot_tokens = max(float(p[0].max()) for p in points.values()) if points else 0.0
    budget = float(budget or pilot_tokens)
    settings = dict(domain=domain, lam=lam, epsilon=epsilon, budget=budget, pilot_tokens=pilot_tokens, baseline_losses=baseline)
    if len(points) < MIN_RATIOS:
        return CMRResult(cmr=None, ci=None, cmr_epsilon=None, cmr_turnaround=None, used="none", binding=None,
                         reason=f"only {len(points)} usable ratios; a CMR needs pilots at ≥ {MIN_RATIOS} ratios "
                         f"with ≥ {MIN_POINTS_PER_RATIO} points each", lambda_balance=None, warnings=warnings, **settings)
    ratio_list = list(points)
    (tokens, d_gen, d_dom), weights = _padded(points)
    laws = IncrementLaws.fit(tokens, d_gen, d_dom, weights=weights, t_scale=pilot_tokens)
    fits = [laws.take(i) for i in range(len(ratio_list))]
    budget_scaled = budget / pilot_tokens
    point = _views(ratio_list, laws.map(lambda v: v[:, None]), baseline[0], lam, epsilon, budget_scaled)
    flags = _reliability(point, budget_scaled)
    cmr, used, reason, binding = _choose(point, flags, budget_scaled)
    boot = _views(ratio_list, _bootstrap_laws(points, laws, n_boot, np.random.default_rng(seed)), baseline[0],
                  lam, epsilon, budget_scaled, start=point, tol=1e-3)
    boot_cmr = (np.fmin(boot.turnaround, boot.epsilon) if used == "min" else boot.epsilon)
    return CMRResult(
        cmr=cmr, ci=_ci(boot_cmr, level), cmr_epsilon=float(point.epsilon[0]),
        cmr_turnaround=None if np.isnan(point.turnaround[0]) else float(point.turnaround[0]),
        used=used, reason=reason, binding=binding, lambda_balance=_lambda_balance(fits, budget, pilot_tokens),
        ratios=_ratio_points(ratio_list, point.t0[0], fits, baseline[0], epsilon, budget, pilot_tokens),
        cmr_law=None if point.cmr_law is None else {**_scalar(point.cmr_law).to_dict(), "t_scale": pilot_tokens},
        general_ratio_law=_scalar(point.general_law).to_dict(),
        domain_ratio_law=PowerLaw.fit(ratio_list, [baseline[1] + f.d_domain(budget) for f in fits]).to_dict(),
        reliability=flags, warnings=warnings + _warnings(point, cmr, budget, pilot_tokens, ratio_list),
        ci_epsilon=_ci(boot.epsilon, level), ci_turnaround=_ci(boot.turnaround, level), **settings)


def _ratio_points(ratio_list, t0_scaled, fits, base_general, epsilon, budget, pilot_tokens) -> list[RatioPoint]:
    """Per pilot ratio: its turnaround, and its losses at the budget against the ε tolerance."""
    return [RatioPoint(r, None if np.isnan(t0) else float(t0 * pilot_tokens),
                       bool(np.isfinite(t0) and t0 <= budget / pilot_tokens),
                       float(base_general + f.d_general(budget)),
                       bool(f.d_general(budget) <= epsilon), float(f.d_domain(budget)), f.to_dict())
            for r, t0, f in zip(ratio_list, t0_scaled, fits)]


def _scalar(law: PowerLaw) -> PowerLaw:
    return PowerLaw(*(float(np.asarray(v).reshape(-1)[0]) for v in (law.alpha, law.s, law.beta, law.mse, law.r2)),
                    bounds=law.bounds)


def fit_cmr(curves, lam=1000.0, epsilon=0.05, budget=None, n_boot=100, level=0.95, seed=0) -> dict[str, CMRResult]:
    """One CMRResult per domain of the pilot curves (a mapping of the CSV's columns to arrays)."""
    return {str(d): fit_domain(curves, d, lam, epsilon, budget, n_boot, level, seed)
            for d in np.unique(curves["domain"])}


def default_lambdas(balance: float | None) -> list[float]:
    around = [] if not balance else [round(balance * f, 3) for f in (0.3, 1.0, 3.0)]
    return sorted(set(PAPER_LAMBDAS) | set(around)) + [float("inf")]


def lambda_sweep(curves, domain, lambdas=None, epsilon=0.05, budget=None) -> list[dict]:
    """How the CMR of one domain moves with λ (no bootstrap: the point fits only)."""
    if lambdas is None:
        lambdas = default_lambdas(fit_domain(curves, domain, 1000.0, epsilon, budget, n_boot=2).lambda_balance)
    rows = []
    for lam in lambdas:
        result = fit_domain(curves, domain, lam, epsilon, budget, n_boot=2)
        t0 = [p.t0 for p in result.ratios]
        rows.append({"lambda": lam, "cmr": result.cmr, "cmr_turnaround": result.cmr_turnaround,
                     "cmr_epsilon": result.cmr_epsilon, "used": result.used, "binding": result.binding,
                     "t0": t0})
    return rows


@dataclass
class Mixture:
    general: float
    domains: dict[str, float]
    rule: str
    warnings: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


COMBINATION_RULE = ("the domains together take the smallest feasible domain CMR, split in proportion to "
                    "weights (default: each domain's CMR); general data takes the rest. So every domain's share "
                    "is at most its own CMR, the general share is at least what every domain's CMR leaves, and "
                    "the shares sum to 1. Domains with no feasible ratio get 0 and do not constrain the others.")


def combine_domains(cmrs: dict[str, float | None], weights: dict[str, float] | None = None) -> Mixture:
    """One mixture from several domains' CMRs, by COMBINATION_RULE (conservative: one domain's CMR
    was measured against general data alone, so the domain total must respect the tightest CMR)."""
    usable = {d: c for d, c in cmrs.items() if c}
    notes = [f"domain {d!r} has no feasible ratio; it gets share 0" for d in cmrs if d not in usable]
    if not usable:
        return Mixture(1.0, {d: 0.0 for d in cmrs}, COMBINATION_RULE, notes)
    weights = weights or usable
    total_weight = sum(weights[d] for d in usable)
    domain_total = min(usable.values())
    shares = {d: (domain_total * weights[d] / total_weight if d in usable else 0.0) for d in cmrs}
    return Mixture(1.0 - sum(shares.values()), shares, COMBINATION_RULE, notes)


def compare_mixing_laws(curves, domain) -> list[dict]:
    """Leave-one-ratio-out errors of the CMR paper's L(R) = α·R^s + β against Ye et al.'s
    L(R) = c + k·exp(t·R), on each ratio's last evaluated loss (general and domain)."""
    rows = curves["domain"] == domain
    ratios = np.unique(curves["ratio"][rows & (curves["ratio"] > 0)])
    last = {}
    for r in ratios:
        pick = rows & (curves["ratio"] == r)
        end = np.argmax(curves["tokens"][pick])
        last[r] = (curves["general_loss"][pick][end], curves["domain_loss"][pick][end])
    if len(ratios) < 4:
        raise ValueError(f"domain {domain!r}: {len(ratios)} ratios; holding one out needs ≥ 4 (both laws have 3 parameters)")
    out = []
    for held in ratios:
        train = ratios[ratios != held]
        for column, name in enumerate(("general", "domain")):
            y = np.array([last[r][column] for r in train])
            actual = last[held][column]
            power, expo = PowerLaw.fit(train, y)(held), ExpMixLaw.fit(train, y)(held)
            out.append({"domain": domain, "loss": name, "held_out_ratio": float(held), "actual": float(actual),
                        "power_law": float(power), "power_law_rel_error": float(abs(power - actual) / actual),
                        "exp_law": float(expo), "exp_law_rel_error": float(abs(expo - actual) / actual)})
    return out
