"""Emotion traces: what emotion the model represents at each token of a text or a
conversation, as the paper reads transcripts.

At one layer (the analysis layer by default) every token's residual state is taken
relative to the neutral reference (the mean of the neutral passages' pooled states at that
layer, the same reference the vectors are centred against) and projected on the unit vector
of each emotion. Attention sinks are flagged, not hidden: the first position when the
tokenizer adds no BOS, and any token whose norm exceeds `sink_ratio` times the median of
the text's own tokens (pooling.sink_positions, the rule every mean uses); their
projections measure the sink, not an emotion, so summaries leave them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .architecture import adds_bos, architecture
from .inputs import check_messages
from .pooling import SINK_RATIO, sink_positions
from .store import read_activation_matrix, read_vector_layers, read_vectors

if TYPE_CHECKING:  # pandas only inside the functions that build frames; for types here
    import pandas as pd


@dataclass(frozen=True)
class TracedTokens:
    ids: list[int]
    special: list[bool]
    role: list[str]  # "text" for plain text; a message's role; "template" for chat markup
    message: list[int]  # index of the message whose content holds the token, else -1


def tokens_of(tokenizer, text_or_messages: str | Sequence[Mapping], chat: bool) -> TracedTokens:
    """Token ids of a plain text (as the model reads a passage, with its BOS if any) or of
    a chat rendered in the model's chat template, with each token's role and message."""
    if isinstance(text_or_messages, str):
        enc = tokenizer(text_or_messages, add_special_tokens=True, return_special_tokens_mask=True)
        ids, special = enc["input_ids"], [bool(s) for s in enc["special_tokens_mask"]]
        tokens = TracedTokens(ids, special, ["text"] * len(ids), [-1] * len(ids))
    else:
        messages = check_messages(list(text_or_messages))
        if not chat:
            raise ValueError("a chat needs an instruct model with a chat template (chat: true)")
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        spans, cursor = [], 0
        for m in messages:
            start = text.find(m["content"], cursor) if m["content"] else -1
            if start < 0:
                spans.append((cursor, cursor))
                continue
            spans.append((start, start + len(m["content"])))
            cursor = start + len(m["content"])
        role, message = [], []
        for a, b in enc["offset_mapping"]:
            inside = [k for k, (s, e) in enumerate(spans) if a < e and b > s]
            message.append(inside[0] if inside else -1)
            role.append(messages[inside[0]]["role"] if inside else "template")
        ids = enc["input_ids"]
        special = [tid in set(tokenizer.all_special_ids) for tid in ids]
        tokens = TracedTokens(ids, special, role, message)
    if not tokens.ids or all(tokens.special):
        raise ValueError("the text has no tokens to trace (it is empty)")
    return tokens


def residual_states(model, ids: Sequence[int], layer: int) -> np.ndarray:
    """[tokens, width] float32 residual stream after decoder block `layer` (1-based)."""
    import torch

    from .activations import Batch, run_layers

    kept: dict[str, np.ndarray] = {}

    def reduce(_layer: int, hidden) -> None:
        kept["states"] = hidden[0].cpu().numpy()

    row = torch.tensor([list(ids)], dtype=torch.long)
    batch = Batch(row, torch.ones_like(row), torch.ones_like(row, dtype=torch.bool),
                  torch.zeros(row.shape))  # fmt: skip
    run_layers(model, batch, [layer], reduce)
    return kept["states"]


def sink_flags(
    norms: np.ndarray, special: Sequence[bool], first_is_sink: bool, ratio: float | None
) -> np.ndarray:
    """Tokens that are attention sinks: the first position (when the model adds no BOS)
    and any own token above `ratio` x the median norm of the text's own tokens."""
    own = ~np.asarray(special, dtype=bool)
    flags = sink_positions(np.asarray(norms, dtype=np.float64), own, ratio)
    if first_is_sink and len(norms):
        flags[0] = True
    return flags


def trace_frame(
    loaded,
    text_or_messages: str | Sequence[Mapping],
    vectors: Mapping[str, np.ndarray],
    reference: np.ndarray,
    layer: int,
    sink_ratio: float | None = SINK_RATIO,
):
    """One row per token: position, token, role, message, special, sink, norm, and one
    column per emotion (the projection of the token's state, minus the neutral reference,
    on the emotion's unit vector)."""
    import pandas as pd

    from .steering import unit_rows

    tokenizer = loaded.tokenizer
    tokens = tokens_of(tokenizer, text_or_messages, loaded.spec.chat)
    states = residual_states(loaded.model, tokens.ids, layer).astype(np.float64)
    norms = np.linalg.norm(states, axis=1)
    emotions = list(vectors)
    units = unit_rows(np.stack([vectors[e] for e in emotions]))
    projected = (states - np.asarray(reference, dtype=np.float64)[None, :]) @ units.T
    frame = pd.DataFrame(
        {
            "position": np.arange(len(tokens.ids)),
            "token": [tokenizer.decode([t]) for t in tokens.ids],
            "role": tokens.role,
            "message": tokens.message,
            "special": tokens.special,
            "sink": sink_flags(norms, tokens.special, not adds_bos(tokenizer), sink_ratio),
            "norm": norms,
        }
    )
    frame = pd.concat([frame, pd.DataFrame(projected, columns=emotions)], axis=1)
    frame.attrs.update({"layer": layer, "emotions": emotions})
    return frame


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows a summary may average: the text's own tokens that are not sinks."""
    return frame[~frame["special"] & ~frame["sink"]]


def top_emotions(frame, k: int = 3) -> list[dict]:
    """Per message (or the whole text), its k emotions with the highest mean projection
    over its readable content tokens, highest first, as [emotion, mean] pairs."""
    emotions = frame.attrs["emotions"]
    rows = readable(frame)
    out = []
    groups = rows.groupby("message", sort=True) if (rows["message"] >= 0).any() else [(-1, rows)]
    for message, part in groups:
        if message < 0 and (rows["message"] >= 0).any():
            continue  # chat markup between messages
        means = part[emotions].mean().sort_values(ascending=False)
        out.append(
            {
                "message": int(message),
                "role": str(part["role"].iloc[0]) if len(part) else "",
                "tokens": len(part),
                "top": [[e, round(float(v), 3)] for e, v in means.head(k).items()],
            }
        )
    return out


def generate_reply(loaded, messages: Sequence[Mapping], max_new_tokens: int) -> str:
    """The model's own greedy reply to a conversation (the chat up to its last user turn)."""
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    text = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids.to(architecture(model).device),
            attention_mask=torch.ones_like(ids).to(architecture(model).device),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    return tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True).strip()


def conversation_for_reply(messages: Sequence[Mapping]) -> list[dict] | None:
    """The messages up to and including the last user message (what the model replies
    to), or None when there is no user message."""
    messages = list(messages)
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=None)
    return None if last_user is None else [dict(m) for m in messages[: last_user + 1]]


# ---------------------------------------------------------------- the texts folder


def neutral_reference(neutral_file: str, layer: int) -> np.ndarray:
    """The mean of the neutral passages' pooled states at `layer`."""
    _, matrix = read_activation_matrix(neutral_file, layer)
    return np.asarray(matrix, dtype=np.float64).mean(axis=0)


def trace_vectors(vector_file: str, layer: int, emotions: Sequence[str] | None) -> dict:
    """The denoised vectors of `emotions` (None: all) at `layer`, which must be stored."""
    stored = read_vector_layers(vector_file)
    if layer not in stored:
        raise ValueError(f"layer {layer} is not among the stored layers {stored} of {vector_file}")
    vectors = read_vectors(vector_file, layer)
    chosen = list(vectors) if emotions is None else [e for e in emotions if e in vectors]
    if not chosen:
        raise ValueError(
            f"none of the emotions {list(emotions or [])} has a vector in {vector_file}"
        )
    return {e: vectors[e] for e in chosen}
