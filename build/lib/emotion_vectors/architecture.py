"""One adapter over a loaded causal LM's architecture: where its decoder blocks, final norm,
unembedding and input embedding are, how wide and deep its residual stream is, and how its
tokenizer starts a passage. Every module that hooks or reads the model goes through here,
so a new model family is taught in one place.

Layer L (1-based) is the output of decoder block L: `hidden_states[L]` in transformers for
L < num_layers; for the last layer transformers' `hidden_states[-1]` is taken after the
final norm, and we read the block's own output there too (`blocks[L - 1]`), so every layer
is the same kind of quantity, the un-normed residual stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Attribute names of the final norm across the families transformers implements.
_NORM_NAMES = ("norm", "final_layernorm", "ln_f", "final_norm")


@dataclass(frozen=True)
class Architecture:
    """The parts of `model` this package uses."""

    model: Any

    @property
    def base(self) -> Any:
        """The decoder stack without the LM head: its forward returns `last_hidden_state`
        (after the final norm) and runs no unembedding."""
        return self.model.base_model

    @property
    def text_config(self) -> Any:
        config = self.model.config
        return config.get_text_config() if hasattr(config, "get_text_config") else config

    @property
    def num_layers(self) -> int:
        return int(self.text_config.num_hidden_layers)

    @property
    def hidden_size(self) -> int:
        return int(self.text_config.hidden_size)

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def blocks(self) -> Any:
        """The ModuleList of decoder blocks, whose outputs are the residual stream."""
        import torch

        layers = getattr(self.base, "layers", None)
        if isinstance(layers, torch.nn.ModuleList):
            return layers
        for module in self.model.modules():
            if isinstance(module, torch.nn.ModuleList) and len(module) == self.num_layers:
                return module
        raise RuntimeError(f"cannot find the decoder layers of {type(self.model).__name__}")

    @property
    def cache_argument(self) -> str:
        """The keyword the base model's forward takes its key/value cache by: `cache` in
        recent transformers (which deprecates `past_key_values`), `past_key_values` before."""
        import inspect

        params = inspect.signature(self.base.forward).parameters
        return "cache" if "cache" in params else "past_key_values"

    def block(self, layer: int) -> Any:
        """Decoder block `layer` (1-based): its output is layer `layer`."""
        blocks = self.blocks
        if not 1 <= layer <= len(blocks):
            raise ValueError(f"layer {layer} is outside 1..{len(blocks)}")
        return blocks[layer - 1]

    @property
    def final_norm(self) -> Any:
        """The norm applied to the last residual state before the unembedding (Gemma's
        RMSNorm scales by 1 + weight: going through the module handles every variant)."""
        for owner in (self.base, getattr(self.base, "language_model", None)):
            for name in _NORM_NAMES:
                module = getattr(owner, name, None) if owner is not None else None
                if module is not None:
                    return module
        raise RuntimeError(f"cannot find the final norm of {type(self.model).__name__}")

    @property
    def unembedding(self) -> Any:
        """The LM head (width -> vocabulary); tied to the input embedding in some models."""
        return self.model.get_output_embeddings()

    def log_probs(self, hidden: Any) -> Any:
        """Next-token log-probabilities of residual states that already passed the final
        norm, with the LM head computed in float32 whatever the model's dtype. In bfloat16
        the head's own output is rounded to 8 significant bits (steps of 1/16 nat for
        logits of 16 to 32), coarser than the log-probability differences the steering and
        preference experiments compare; the float32 copy of the head is made once per model
        (e.g. 0.9 GB for Qwen2.5-1.5B's 151,936 x 1,536 head)."""
        import torch

        head = self.unembedding
        if head.weight.dtype == torch.float32:
            logits = head(hidden.float())
        else:
            copy = getattr(head, "_emotion_vectors_float32", None)
            if copy is None:
                bias = None if head.bias is None else head.bias.float()
                copy = (head.weight.detach().float(), bias)
                head._emotion_vectors_float32 = copy
            logits = torch.nn.functional.linear(hidden.float(), *copy)
        return torch.log_softmax(self._softcapped(logits), dim=-1)

    def token_logits(self, hidden: Any, token_ids: Any) -> Any:
        """[rows, len(token_ids)] float32 logits of only these tokens, for residual states
        that already passed the final norm. A difference of log-probabilities between
        tokens needs no more: the softmax normaliser cancels, so the 49,152-row head of
        SmolLM2 (151,936 of Qwen2.5) is not multiplied out. Same float32 arithmetic as
        `log_probs` for these rows."""
        import torch

        head = self.unembedding
        ids = torch.as_tensor(token_ids, dtype=torch.long, device=head.weight.device)
        weight = head.weight.detach()[ids].float()
        bias = None if head.bias is None else head.bias.detach()[ids].float()
        return self._softcapped(torch.nn.functional.linear(hidden.float(), weight, bias))

    def _softcapped(self, logits: Any) -> Any:
        """Logits through the model's final soft cap (Gemma 2: cap * tanh(logits / cap)),
        as its own forward applies it; unchanged for models without one."""
        import torch

        cap = getattr(self.model.config, "final_logit_softcapping", None)
        return logits if not cap else torch.tanh(logits / cap) * cap

    @property
    def embedding(self) -> Any:
        """The input token embedding (vocabulary -> width): layer 0 of the residual stream,
        before any scaling a model applies inside its forward (Gemma multiplies by sqrt(d))."""
        return self.model.get_input_embeddings()


def architecture(model: Any) -> Architecture:
    return Architecture(model)


def adds_bos(tokenizer: Any) -> bool:
    """Whether the tokenizer starts every passage with a special token (BOS). Models that
    add none (SmolLM2, Qwen2.5) turn their first text token into an attention sink."""
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    return len(ids) > len(plain) and ids[0] != plain[0]
