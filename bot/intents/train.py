"""Fine-tune a LoRA adapter and a cosine head on a dataset.

The steps: load the base encoder; wrap it with a PEFT LoRA config; initialise each intent's
prototype from the mean frozen embedding of its examples (the head starts near a good
solution, so few epochs are needed); train with AdamW on length-bucketed batches; fit a
temperature and an out-of-scope threshold on the validation split.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from peft import LoraConfig, get_peft_model
from transformers import PreTrainedTokenizerBase

from bot.intents.base_model import configure_cpu_threads, cpu_supports_bf16, pick_device
from bot.intents.calibration import Calibration, calibrate
from bot.intents.dataset import Example, IntentDataset
from bot.intents.model import CosineHead, IntentNetwork, load_encoder, tokenize

ProgressCallback = Callable[[str], None]


@dataclass
class TrainingConfig:
    epochs: int = field(default=6, metadata={"help": "Passes over the training data."})
    batch_size: int = field(default=32, metadata={"help": "Examples per optimiser step."})
    learning_rate: float = field(default=1e-3, metadata={"help": "Peak AdamW rate for LoRA."})
    head_learning_rate: float = field(default=5e-3, metadata={"help": "Peak rate for the head."})
    warmup_fraction: float = field(default=0.06, metadata={"help": "Linear warm-up share."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator."})
    lora_dropout: float = field(default=0.1, metadata={"help": "Dropout on the LoRA path."})
    target_modules: list[str] = field(
        default_factory=lambda: ["query", "key", "value", "dense"],
        metadata={"help": "Linear layers of the encoder that get LoRA matrices."},
    )
    label_smoothing: float = field(default=0.1, metadata={"help": "Cross-entropy smoothing."})
    seed: int = field(default=42, metadata={"help": "Seed for shuffling and initialisation."})
    device: str = field(default="auto", metadata={"help": "auto, cpu or cuda."})
    bf16: str = field(default="auto", metadata={"help": "bf16 autocast: auto, on or off."})

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class TrainedModel:
    network: IntentNetwork
    tokenizer: PreTrainedTokenizerBase
    labels: list[str]
    calibration: Calibration
    config: TrainingConfig
    base_model: str
    trainable_parameters: int
    train_seconds: float
    device: str
    bf16: bool


def train_model(
    dataset: IntentDataset,
    base_model: str,
    config: TrainingConfig | None = None,
    progress: ProgressCallback | None = None,
) -> TrainedModel:
    config = config or TrainingConfig()
    say = progress or (lambda _message: None)
    configure_cpu_threads()
    torch.manual_seed(config.seed)
    device = pick_device(config.device)
    use_bf16 = _use_bf16(config.bf16, device)
    started = time.perf_counter()

    tokenizer, encoder = load_encoder(base_model)
    labels = dataset.labels
    label_index = {label: i for i, label in enumerate(labels)}
    train = [example for example in dataset.train if example.intent in label_index]

    head = CosineHead(encoder.config.hidden_size, len(labels))
    network = IntentNetwork(encoder, head).to(device)
    say(f"initialising {len(labels)} intent prototypes from {len(train)} examples")
    head.prototypes.data = _class_centroids(network, tokenizer, train, label_index, device)

    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules,
        bias="none",
    )
    network.encoder = get_peft_model(encoder, lora)
    network.to(device)
    trainable = sum(p.numel() for p in network.parameters() if p.requires_grad)
    say(f"trainable parameters: {trainable:,} (device {device}, bf16 {use_bf16})")

    _fit(network, tokenizer, train, label_index, config, device, use_bf16, say)
    network.eval()
    calibration = calibrate(
        *_logits_and_targets(network, tokenizer, dataset.val, label_index, device, use_bf16)
    )
    say(
        f"calibrated temperature {calibration.temperature:.3f}, "
        f"out-of-scope threshold {calibration.out_of_scope_threshold:.3f}"
    )
    return TrainedModel(
        network=network,
        tokenizer=tokenizer,
        labels=labels,
        calibration=calibration,
        config=config,
        base_model=base_model,
        trainable_parameters=trainable,
        train_seconds=time.perf_counter() - started,
        device=str(device),
        bf16=use_bf16,
    )


def _use_bf16(setting: str, device: torch.device) -> bool:
    if setting == "on":
        return True
    if setting == "off":
        return False
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_supports_bf16()


def _batches(examples: list[Example], batch_size: int, rng: random.Random) -> list[list[Example]]:
    """Length-bucketed batches: similar lengths pad little; batch order is still shuffled."""
    shuffled = examples[:]
    rng.shuffle(shuffled)
    pool_size = batch_size * 50
    batches: list[list[Example]] = []
    for start in range(0, len(shuffled), pool_size):
        pool = sorted(shuffled[start : start + pool_size], key=lambda e: len(e.text))
        batches += [pool[i : i + batch_size] for i in range(0, len(pool), batch_size)]
    rng.shuffle(batches)
    return batches


@torch.no_grad()
def _class_centroids(
    network: IntentNetwork,
    tokenizer: PreTrainedTokenizerBase,
    examples: list[Example],
    label_index: dict[str, int],
    device: torch.device,
) -> torch.Tensor:
    network.eval()
    hidden = network.head.prototypes.shape[1]
    sums = torch.zeros(len(label_index), hidden, device=device)
    for start in range(0, len(examples), 128):
        chunk = examples[start : start + 128]
        embeddings = F.normalize(
            network.embed(**tokenize(tokenizer, [e.text for e in chunk], device)), dim=-1
        )
        targets = torch.tensor([label_index[e.intent] for e in chunk], device=device)
        sums.index_add_(0, targets, embeddings)
    return F.normalize(sums, dim=-1)


def _fit(
    network: IntentNetwork,
    tokenizer: PreTrainedTokenizerBase,
    train: list[Example],
    label_index: dict[str, int],
    config: TrainingConfig,
    device: torch.device,
    use_bf16: bool,
    say: ProgressCallback,
) -> None:
    rng = random.Random(config.seed)
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total_steps = max(1, steps_per_epoch * config.epochs)
    warmup = max(1, int(total_steps * config.warmup_fraction))
    head_params = list(network.head.parameters())
    lora_params = [p for p in network.encoder.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [
            {"params": lora_params, "lr": config.learning_rate},
            {"params": head_params, "lr": config.head_learning_rate, "weight_decay": 0.0},
        ],
        weight_decay=0.01,
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / warmup, max(0.0, (total_steps - step) / (total_steps - warmup + 1e-9))),
    )
    step = 0
    for epoch in range(1, config.epochs + 1):
        network.train()
        epoch_started, loss_sum, correct, seen = time.perf_counter(), 0.0, 0, 0
        for batch in _batches(train, config.batch_size, rng):
            inputs = tokenize(tokenizer, [e.text for e in batch], device)
            targets = torch.tensor([label_index[e.intent] for e in batch], device=device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                logits = network(**inputs)
            loss = F.cross_entropy(logits.float(), targets, label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            loss_sum += loss.item() * len(batch)
            correct += int((logits.argmax(-1) == targets).sum())
            seen += len(batch)
        say(
            f"epoch {epoch}/{config.epochs}: loss {loss_sum / seen:.4f}, "
            f"train accuracy {correct / seen:.3f}, {time.perf_counter() - epoch_started:.1f}s"
        )


@torch.no_grad()
def _logits_and_targets(
    network: IntentNetwork,
    tokenizer: PreTrainedTokenizerBase,
    examples: list[Example],
    label_index: dict[str, int],
    device: torch.device,
    use_bf16: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits for ``examples``; the target of an out-of-scope example is -1."""
    logits = [torch.zeros(0, len(label_index))]
    for start in range(0, len(examples), 128):
        chunk = examples[start : start + 128]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            logits.append(network(**tokenize(tokenizer, [e.text for e in chunk], device)).float().cpu())
    targets = torch.tensor([label_index.get(e.intent, -1) for e in examples], dtype=torch.long)
    return torch.cat(logits), targets
