"""Turn raw head scores into probabilities that mean what they say, and pick an out-of-scope cut.

Both are fitted on the validation split only: a temperature that minimises the negative
log-likelihood of the in-scope examples, then the highest confidence threshold that rejects
at most ``max_in_scope_rejection`` of them. Out-of-scope examples, where present, are only
reported, so the threshold does not overfit a handful of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

DEFAULT_MAX_IN_SCOPE_REJECTION = 0.02


@dataclass(frozen=True)
class Calibration:
    temperature: float
    out_of_scope_threshold: float
    val_in_scope_rejection: float
    val_out_of_scope_recall: float | None

    def to_json(self) -> dict[str, float | None]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, float | None]) -> Calibration:
        return cls(
            temperature=float(data["temperature"] or 1.0),
            out_of_scope_threshold=float(data["out_of_scope_threshold"] or 0.0),
            val_in_scope_rejection=float(data.get("val_in_scope_rejection") or 0.0),
            val_out_of_scope_recall=data.get("val_out_of_scope_recall"),
        )


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor) -> float:
    if len(targets) == 0:
        return 1.0
    log_temperature = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_temperature], lr=0.1, max_iter=100)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_temperature.exp(), targets)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_temperature.detach().exp().clamp(0.05, 20.0))


def calibrate(
    logits: torch.Tensor,
    targets: torch.Tensor,
    max_in_scope_rejection: float = DEFAULT_MAX_IN_SCOPE_REJECTION,
) -> Calibration:
    """``targets`` of -1 mark out-of-scope examples."""
    in_scope = targets >= 0
    temperature = fit_temperature(logits[in_scope], targets[in_scope])
    confidence = (logits / temperature).softmax(-1).max(-1).values
    in_scope_confidence = confidence[in_scope].sort().values
    if len(in_scope_confidence) == 0:
        threshold = 0.0
    else:
        cut = int(len(in_scope_confidence) * max_in_scope_rejection)
        threshold = float(in_scope_confidence[cut]) if cut > 0 else float(in_scope_confidence[0])
        # Strictly below the cut is rejected; nudge down so the cut example itself is kept.
        threshold = max(0.0, threshold - 1e-6)
    rejected = (in_scope_confidence < threshold).float().mean() if len(in_scope_confidence) else 0.0
    oos_confidence = confidence[~in_scope]
    recall = float((oos_confidence < threshold).float().mean()) if len(oos_confidence) else None
    return Calibration(temperature, threshold, float(rejected), recall)
