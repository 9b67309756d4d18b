"""Turn raw head scores into probabilities that mean what they say, and pick an out-of-scope cut.

Everything is fitted on the validation split only, in three steps:

1. a temperature that minimises the negative log-likelihood of the in-scope examples;
2. where the validation split has out-of-scope examples, an out-of-scope logit: a background
   class that competes in the softmax with a fixed score, fitted (maximum likelihood) with
   those examples as its class. A message that resembles no intent has only low cosine
   scores, so the background takes most of the probability and the top intent's confidence
   drops, even when one intent is clearly ahead of the others (which plain max-softmax cannot
   see: it depends only on the gaps between the scores);
3. the highest confidence threshold (at most ``MAX_OUT_OF_SCOPE_THRESHOLD``) that rejects at
   most ``max_in_scope_rejection`` of the in-scope validation examples. It is set by the
   in-scope examples alone, so it does not overfit a handful of out-of-scope ones; their
   recall at it is reported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

DEFAULT_MAX_IN_SCOPE_REJECTION = 0.02
# A message whose top intent is more likely than not is never called out of scope. This also
# keeps the policy's ask-back band (between this threshold and the answer threshold) open when
# a tiny, perfectly separable validation split drives every confidence to 1.
MAX_OUT_OF_SCOPE_THRESHOLD = 0.5


@dataclass(frozen=True)
class Calibration:
    temperature: float
    out_of_scope_threshold: float
    val_in_scope_rejection: float
    val_out_of_scope_recall: float | None
    out_of_scope_logit: float | None = None

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated intent probabilities. With an out-of-scope logit they sum to less than one:
        the rest is the probability that the message is none of the intents."""
        scaled = logits / self.temperature
        if self.out_of_scope_logit is None:
            return scaled.softmax(-1)
        background = torch.full_like(scaled[..., :1], self.out_of_scope_logit / self.temperature)
        return torch.cat([scaled, background], dim=-1).softmax(-1)[..., :-1]

    def to_json(self) -> dict[str, float | None]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, float | None]) -> Calibration:
        background = data.get("out_of_scope_logit")
        return cls(
            temperature=float(data["temperature"] or 1.0),
            out_of_scope_threshold=float(data["out_of_scope_threshold"] or 0.0),
            val_in_scope_rejection=float(data.get("val_in_scope_rejection") or 0.0),
            val_out_of_scope_recall=data.get("val_out_of_scope_recall"),
            out_of_scope_logit=None if background is None else float(background),
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


def fit_out_of_scope_logit(logits: torch.Tensor, targets: torch.Tensor, temperature: float) -> float | None:
    """The background logit under which the validation split is most likely, its out-of-scope
    examples counting as the background class; None (plain softmax) without such examples.

    Maximum likelihood keeps the intent probabilities calibrated: a higher value would separate
    in-scope from out-of-scope slightly better by ranking, but would also pull down the
    confidence of every in-scope message and break the bands the dialogue policy uses.
    """
    in_scope = targets >= 0
    if in_scope.all() or not in_scope.any():
        return None
    scaled = logits / temperature
    background_targets = torch.where(in_scope, targets, torch.full_like(targets, logits.shape[1]))
    # Convex in the background logit; start where the least confident in-scope messages are.
    start = torch.quantile(scaled[in_scope].max(-1).values, 0.01)
    background = start.reshape(1).clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([background], lr=0.5, max_iter=100)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        with_background = torch.cat([scaled, background.expand(len(scaled), 1)], dim=-1)
        loss = F.cross_entropy(with_background, background_targets)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(background.detach()) * temperature


def rejection_threshold(in_scope_confidence: torch.Tensor, max_rejection: float) -> float:
    """The highest threshold that rejects (confidence strictly below it) at most ``max_rejection``
    of ``in_scope_confidence``."""
    if len(in_scope_confidence) == 0:
        return 0.0
    ordered = in_scope_confidence.sort().values
    cut = int(len(ordered) * max_rejection)
    return float(ordered[cut])


def calibrate(
    logits: torch.Tensor,
    targets: torch.Tensor,
    max_in_scope_rejection: float = DEFAULT_MAX_IN_SCOPE_REJECTION,
) -> Calibration:
    """Fit on validation ``logits``; ``targets`` of -1 mark out-of-scope examples."""
    in_scope = targets >= 0
    temperature = fit_temperature(logits[in_scope], targets[in_scope])
    background = fit_out_of_scope_logit(logits, targets, temperature)
    confidence = Calibration(temperature, 0.0, 0.0, None, background).probabilities(logits).max(-1).values
    threshold = min(
        rejection_threshold(confidence[in_scope], max_in_scope_rejection), MAX_OUT_OF_SCOPE_THRESHOLD
    )
    rejected = float((confidence[in_scope] < threshold).float().mean()) if in_scope.any() else 0.0
    oos_confidence = confidence[~in_scope]
    recall = float((oos_confidence < threshold).float().mean()) if len(oos_confidence) else None
    return Calibration(temperature, threshold, rejected, recall, background)
