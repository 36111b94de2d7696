"""Supervised fine-tuning on reasoning traces (cold start, distillation), on TRL's SFTTrainer.

`run_sft` is the one place zero calls SFTTrainer: the tiny recipe's cold start uses it, and so does
`python -m zero.sft`. Rows are prompt/completion pairs; the loss is on the completion only (TRL's
`completion_only_loss`), so the model learns to answer, not to repeat the question.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_sft(model_path: str | Path, rows: list[dict[str, Any]], output_dir: str | Path, **sft_args: Any) -> Path:
    """Fine-tune `model_path` on `rows` ({prompt, completion}) and save model + tokenizer to `output_dir`.

    `sft_args` are TRL `SFTConfig` fields (max_steps, learning_rate, per_device_train_batch_size, ...).
    """
    import datasets
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    output_dir = Path(output_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    defaults = dict(
        output_dir=str(output_dir),
        completion_only_loss=True,
        save_strategy="no",
        report_to="none",
        logging_steps=25,
        disable_tqdm=False,
    )
    args = SFTConfig(**{**defaults, **sft_args})
    trainer = SFTTrainer(
        model=str(model_path),
        args=args,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
    )
    trainer.train()
    trainer.save_model(str(output_dir))
    tokenizer.save_pretrained(str(output_dir))
    return output_dir
