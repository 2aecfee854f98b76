"""Packed (padding-free) forward pass of a BERT sequence classifier, for serving.

``PackedBertClassifier`` computes the same logits as ``BertForSequenceClassification`` on a set
of windows, but does less work:

- The windows' tokens are packed into one ``[tokens, hidden]`` matrix, so every Linear layer is
  one large matrix product with no padding rows; only attention is computed per group of
  windows of similar length (padded to the group's longest window, masked).
- Query, key and value are one fused matrix product (float engines).
- The last layer is computed for the ``[CLS]`` rows only: the pooler reads nothing else, so the
  other rows' query, attention output and feed-forward work would be thrown away.

Precision: fp32; bf16 (``matmul_dtype=torch.bfloat16``): the encoder's matrix products and
attention run in bf16 with fp32 accumulation while the residual stream, layer norms, pooler and
classifier stay fp32 (as under CPU autocast, but with the weights cast once instead of on every
call), which CPUs with native bf16 dot products run several times faster than fp32; or int8
(``quantised``): the model's dynamically quantised Linear modules are called (no copy).

It reads the weights of a loaded Hugging Face model, has no trainable state of its own and runs
under whatever grad mode the caller chose (gradients flow through every float precision).
``supports(model)`` says whether a model has the expected shape (BERT encoder, absolute
positions, GELU, pooler + linear classifier); otherwise the caller keeps the Hugging Face
forward.

``PackedBertEncoder`` is the same packed encoder without a head: the last layer's hidden states
for every token, mean-pooled per window (a sentence embedding, as sentence-transformers' mean
pooling computes it). ``PackedBertClassifier`` extends it. ``supports_encoder(model)`` says
whether a bare BERT encoder (e.g. the semantic triage layer's MiniLM) has the expected shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

# --- defaults --------------------------------------------------------------------------------
ATTENTION_BUCKET = (
    16  # windows whose lengths round up to the same multiple share one attention call
)
ROW_BUCKET_MIN = 32  # reduced-precision CPU matrix products see row counts of a few sizes
# ----------------------------------------------------------------------------------------------

Linear = Callable[[torch.Tensor], torch.Tensor]


def supports_encoder(model: torch.nn.Module) -> bool:
    """Whether ``model`` is a bare BERT encoder (``BertModel``) this engine reproduces exactly."""
    config = getattr(model, "config", None)
    return (
        config is not None
        and getattr(config, "model_type", None) == "bert"
        and getattr(config, "position_embedding_type", "absolute") == "absolute"
        and getattr(config, "hidden_act", None) == "gelu"
        and not getattr(config, "is_decoder", False)
        and not getattr(config, "add_cross_attention", False)
        and getattr(model, "embeddings", None) is not None
        and getattr(model, "encoder", None) is not None
    )


def supports(model: torch.nn.Module) -> bool:
    """Whether ``model`` is a BERT sequence classifier this engine reproduces exactly."""
    bert = getattr(model, "bert", None)
    return (
        bert is not None
        and getattr(model, "config", None) is not None
        and supports_encoder(bert)
        and getattr(bert, "pooler", None) is not None
        and isinstance(getattr(model, "classifier", None), torch.nn.Linear)
    )


def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bf16 dot-product instructions (AVX-512 BF16 or AMX tiles)."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # these probes are private to torch: assume none if they go away
        return False


def bucket_rows(rows: int) -> int:
    """``rows`` rounded up to one of a few sizes: at least ``ROW_BUCKET_MIN``, then eight sizes
    per doubling (so at most an eighth more rows, or ``ROW_BUCKET_MIN - 1``)."""
    if rows <= ROW_BUCKET_MIN:
        return ROW_BUCKET_MIN
    step = max(ROW_BUCKET_MIN, 1 << (rows.bit_length() - 4))
    return -(-rows // step) * step


def _float_linear(*modules: Any, dtype: torch.dtype = torch.float32) -> Linear:
    """One ``x @ W.T + b`` for the given Linear modules, their outputs concatenated, computed in
    ``dtype`` (the input is cast; the output stays in ``dtype``).

    In bf16 or fp16 on the CPU the packed rows are padded to ``bucket_rows``: the CPU's
    reduced-precision matrix product builds a kernel for every new row count (about 7 ms, 15
    times the product itself at these sizes), and packed batches rarely repeat a row count."""
    weight = torch.cat([m.weight.detach() for m in modules]).t().to(dtype).contiguous()  # [in, out]
    bias = torch.cat([m.bias.detach() for m in modules]).to(dtype).contiguous()
    pad_rows = dtype in (torch.bfloat16, torch.float16) and weight.device.type == "cpu"

    def linear(x: torch.Tensor) -> torch.Tensor:
        x = x.to(dtype)
        rows = x.shape[0]
        if pad_rows and x.dim() == 2 and (padded := bucket_rows(rows)) != rows:
            return torch.addmm(bias, F.pad(x, (0, 0, 0, padded - rows)), weight)[:rows]
        return torch.addmm(bias, x, weight)

    return linear


def _module_linear(*modules: torch.nn.Module) -> Linear:
    """The modules' own forward (e.g. dynamically quantised int8), outputs concatenated."""
    if len(modules) == 1:
        return modules[0]

    def linear(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([m(x) for m in modules], dim=-1)

    return linear


@dataclass(frozen=True)
class _LayerNorm:
    weight: torch.Tensor
    bias: torch.Tensor
    eps: float

    @classmethod
    def of(cls, module: Any) -> _LayerNorm:
        return cls(module.weight.detach(), module.bias.detach(), float(module.eps))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, self.eps)


@dataclass(frozen=True)
class _Layer:
    qkv: Linear  # hidden -> 3 * hidden (query, key, value)
    query: Linear  # hidden -> hidden; the last layer's [CLS] rows
    key_value: Linear  # hidden -> 2 * hidden; the last layer
    attention_out: Linear
    attention_norm: _LayerNorm
    intermediate: Linear
    output: Linear
    output_norm: _LayerNorm


@dataclass(frozen=True)
class _Group:
    """Windows sharing one attention call: packed rows ``start:stop``, padded to ``width``."""

    start: int
    stop: int
    count: int
    width: int
    gather: torch.Tensor | None  # [count * width] packed row per padded slot; None: no padding
    valid: torch.Tensor | None  # [valid slots] positions of real tokens among padded slots
    mask: torch.Tensor | None  # [count, 1, 1, width] True where a key is a real token
    cls_rows: torch.Tensor  # [count] packed rows of each window's first token


class PackedBertEncoder:
    """A BERT encoder's forward on packed windows: embeddings and every layer, no head."""

    def __init__(
        self,
        bert: torch.nn.Module,
        quantised: torch.nn.Module | None = None,
        *,
        matmul_dtype: torch.dtype = torch.float32,
    ) -> None:
        """``bert``: the float encoder (``BertModel``; weights are read once). ``quantised``:
        the same encoder with dynamically quantised Linear modules, whose Linear forwards are
        then used. ``matmul_dtype``: float type of the matrix products and attention (float
        engines only)."""
        if not supports_encoder(bert):
            raise ValueError("model is not a BERT encoder this engine supports")
        if quantised is not None and matmul_dtype != torch.float32:
            raise ValueError("an int8 engine has no float matmul type to choose")
        config: Any = bert.config
        self.heads = int(config.num_attention_heads)
        self.hidden = int(config.hidden_size)
        self.head_size = self.hidden // self.heads
        self.scale = self.head_size**-0.5
        self.matmul_dtype = matmul_dtype
        source: Any = quantised if quantised is not None else bert
        make: Callable[..., Linear]
        if quantised is not None:
            make = _module_linear
        else:

            def make(*modules: Any) -> Linear:
                return _float_linear(*modules, dtype=matmul_dtype)

        embeddings: Any = bert.embeddings
        self.word_embeddings = embeddings.word_embeddings.weight.detach()
        self.position_embeddings = embeddings.position_embeddings.weight.detach()
        self.token_type_embedding = embeddings.token_type_embeddings.weight.detach()[0]
        self.embedding_norm = _LayerNorm.of(embeddings.LayerNorm)
        self.layers = []
        encoder: Any = bert.encoder
        for float_layer, layer in zip(encoder.layer, source.encoder.layer, strict=True):
            attention = layer.attention.self
            self.layers.append(
                _Layer(
                    qkv=make(attention.query, attention.key, attention.value),
                    query=make(attention.query),
                    key_value=make(attention.key, attention.value),
                    attention_out=make(layer.attention.output.dense),
                    attention_norm=_LayerNorm.of(float_layer.attention.output.LayerNorm),
                    intermediate=make(layer.intermediate.dense),
                    output=make(layer.output.dense),
                    output_norm=_LayerNorm.of(float_layer.output.LayerNorm),
                )
            )
        self.device = self.word_embeddings.device

    # --- layout ----------------------------------------------------------------------------------

    def _groups(self, lengths: Sequence[int]) -> list[_Group]:
        """Consecutive windows (sorted by length) whose lengths share an attention bucket."""
        groups: list[_Group] = []
        starts = [0]
        for length in lengths:
            starts.append(starts[-1] + length)
        first = 0
        while first < len(lengths):
            bucket = -(-lengths[first] // ATTENTION_BUCKET)
            last = first + 1
            while last < len(lengths) and -(-lengths[last] // ATTENTION_BUCKET) == bucket:
                last += 1
            own = lengths[first:last]
            width = max(own)
            count = last - first
            cls_rows = torch.tensor(starts[first:last], device=self.device)
            if all(length == width for length in own):
                gather = valid = mask = None
            else:
                slots = torch.arange(width, device=self.device)
                own_t = torch.tensor(own, device=self.device)
                real = slots[None, :] < own_t[:, None]  # [count, width]
                # Padded slots read the window's first row; the mask hides them as keys.
                gather = (cls_rows[:, None] + torch.where(real, slots[None, :], 0)).reshape(-1)
                valid = real.reshape(-1).nonzero().squeeze(1)
                mask = real[:, None, None, :]
            groups.append(
                _Group(starts[first], starts[last], count, width, gather, valid, mask, cls_rows)
            )
            first = last
        return groups

    def _split_heads(self, packed: torch.Tensor, group: _Group, parts: int) -> torch.Tensor:
        """Rows of one group as ``[parts, count, heads, width, head_size]``."""
        rows = (
            packed[group.start : group.stop]
            if group.gather is None
            else packed.index_select(0, group.gather)
        )
        shaped = rows.view(group.count, group.width, parts, self.heads, self.head_size)
        return shaped.permute(2, 0, 3, 1, 4)

    def _merge_heads(self, attended: torch.Tensor, group: _Group, out: torch.Tensor) -> None:
        """``[count, heads, width, head_size]`` into the group's packed rows ``out``."""
        if group.valid is None:
            out.view(group.count, group.width, self.heads, self.head_size).copy_(
                attended.transpose(1, 2)
            )
        else:
            rows = attended.transpose(1, 2).reshape(group.count * group.width, self.hidden)
            out.copy_(rows.index_select(0, group.valid))  # (out= would not be differentiable)

    def _attention(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """Scaled dot-product attention of ``[count, heads, rows, head_size]`` tensors."""
        if self.matmul_dtype == torch.float32:
            return F.scaled_dot_product_attention(query, key, value, attn_mask=mask)
        # In bf16, at these window lengths (<= a few hundred tokens), the CPU flash-attention
        # kernel's per-block overheads outweigh its savings: two batched matrix products and a
        # softmax take about two thirds of its time, and round the probabilities to bf16 just
        # as it does before multiplying them with the values.
        scores = torch.matmul(query * self.scale, key.transpose(-1, -2))
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        return torch.matmul(torch.softmax(scores, dim=-1), value)

    # --- forward ---------------------------------------------------------------------------------

    def _pack(
        self, windows: Sequence[Sequence[int]]
    ) -> tuple[list[int], list[int], torch.Tensor, torch.Tensor]:
        """(length order, sorted lengths, packed token ids, packed position ids)."""
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        lengths = [len(windows[i]) for i in order]
        ids = torch.tensor([t for i in order for t in windows[i]], device=self.device)
        positions = torch.cat([torch.arange(n, device=self.device) for n in lengths])
        return order, lengths, ids, positions

    def embed(
        self, ids: torch.Tensor, positions: torch.Tensor, words: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Embedding layer; ``words`` replaces the word-embedding lookup (for attributions)."""
        if words is None:
            words = F.embedding(ids, self.word_embeddings)
        summed = (
            words + self.token_type_embedding + F.embedding(positions, self.position_embeddings)
        )
        return self.embedding_norm(summed)

    def layer(self, layer: _Layer, hidden: torch.Tensor, groups: Sequence[_Group]) -> torch.Tensor:
        """One full encoder layer on packed hidden states."""
        qkv = layer.qkv(hidden)
        attended = qkv.new_empty((qkv.shape[0], self.hidden))
        for group in groups:
            query, key, value = self._split_heads(qkv, group, 3).unbind(0)
            out = self._attention(query, key, value, group.mask)
            self._merge_heads(out, group, attended[group.start : group.stop])
        hidden = layer.attention_norm(layer.attention_out(attended) + hidden)
        inner = F.gelu(layer.intermediate(hidden))
        return layer.output_norm(layer.output(inner) + hidden)

    def mean_pooled(self, windows: Sequence[Sequence[int]]) -> torch.Tensor:
        """``[len(windows), hidden]`` fp32, window order: the mean of the last layer's hidden
        states over each window's tokens (special tokens included, as a padded forward with an
        attention mask averages them). ``windows``: token ids, each a whole tokenised text."""
        if not windows:
            return torch.zeros((0, self.hidden), device=self.device)
        order, lengths, ids, positions = self._pack(windows)
        groups = self._groups(lengths)
        hidden = self.embed(ids, positions)
        for layer in self.layers:
            hidden = self.layer(layer, hidden, groups)
        sizes = torch.tensor(lengths, device=self.device)
        segment = torch.repeat_interleave(torch.arange(len(lengths), device=self.device), sizes)
        sums = torch.zeros((len(lengths), self.hidden), device=self.device)
        sums.index_add_(0, segment, hidden.float())
        pooled = sums / sizes[:, None].float()
        result = torch.empty_like(pooled)
        result[torch.tensor(order, device=self.device)] = pooled
        return result


class PackedBertClassifier(PackedBertEncoder):
    """Logits of a BERT sequence classifier on packed windows (see the module docstring)."""

    def __init__(
        self,
        model: torch.nn.Module,
        quantised: torch.nn.Module | None = None,
        *,
        matmul_dtype: torch.dtype = torch.float32,
    ) -> None:
        """``model``: the float model (weights are read once). ``quantised``: the same model
        with dynamically quantised Linear modules, whose Linear forwards are then used.
        ``matmul_dtype``: float type of the encoder's matrix products and attention (float
        engines only)."""
        if not supports(model):
            raise ValueError("model is not a BERT sequence classifier this engine supports")
        float_model: Any = model
        source: Any = quantised if quantised is not None else model
        super().__init__(
            float_model.bert,
            None if quantised is None else source.bert,
            matmul_dtype=matmul_dtype,
        )
        # Pooler and classifier are one row per window: fp32 costs nothing and keeps the
        # logits (hence the calibrated probabilities) as close to the float model as possible.
        head: Callable[..., Linear] = _module_linear if quantised is not None else _float_linear
        self.pooler = head(source.bert.pooler.dense)
        self.classifier = head(source.classifier)

    def logits(self, windows: Sequence[Sequence[int]]) -> torch.Tensor:
        """``[len(windows), labels]`` logits; ``windows`` are token ids, each starting [CLS]."""
        return self.logits_and_pooled(windows)[0]

    def logits_and_pooled(
        self, windows: Sequence[Sequence[int]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and the pooled vectors the classifier reads (``[len(windows), hidden]``,
        fp32), both in window order, from one forward."""
        order, lengths, ids, positions = self._pack(windows)
        pooled = self.pool(self.embed(ids, positions), self._groups(lengths))
        logits = self.classify(pooled)
        index = torch.tensor(order, device=self.device)
        result = torch.empty_like(logits)
        result[index] = logits
        pooled_result = torch.empty_like(pooled)
        pooled_result[index] = pooled
        return result, pooled_result

    def token_attributions(
        self,
        windows: Sequence[Sequence[int]],
        targets: Sequence[int],
        *,
        from_layer: int = 0,
    ) -> list[torch.Tensor]:
        """Gradient x input (summed over the hidden dimension), per token of each window, for
        the logit ``targets[i]`` of window ``i``; see ``forward_for_attribution`` for
        ``from_layer``. Needs a float engine."""
        _, attribute = self.logits_for_attribution(windows, from_layer=from_layer)
        return attribute(targets)

    def logits_for_attribution(
        self, windows: Sequence[Sequence[int]], *, from_layer: int = 0
    ) -> tuple[torch.Tensor, Callable[[Sequence[int]], list[torch.Tensor]]]:
        """One differentiable forward: the windows' logits (detached, window order) and a
        function of per-window targets giving ``token_attributions`` from that same forward,
        so choosing the targets from the logits costs no second forward. Float engine only."""
        logits_out, _, attribute = self.forward_for_attribution(windows, from_layer=from_layer)
        return logits_out, attribute

    def forward_for_attribution(
        self, windows: Sequence[Sequence[int]], *, from_layer: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor, Callable[[Sequence[int]], list[torch.Tensor]]]:
        """``logits_for_attribution`` plus the pooled vectors (detached, window order).

        ``from_layer``: where the attribution is taken. 0, the word embeddings (gradient x
        input); ``k``, the hidden states entering layer ``k`` (layer gradient x activation):
        layers below ``k`` run without an autograd graph and the backward pass stops at ``k``,
        so the attribution costs about ``(layers - k) / layers`` of the full backward. The
        logits are the same either way."""
        if not 0 <= from_layer < len(self.layers):
            raise ValueError(f"from_layer must be in [0, {len(self.layers) - 1}]")
        order, lengths, ids, positions = self._pack(windows)
        groups = self._groups(lengths)
        if from_layer == 0:
            with torch.enable_grad():
                attributed = F.embedding(ids, self.word_embeddings).detach().requires_grad_(True)
                hidden = self.embed(ids, positions, attributed)
        else:
            with torch.no_grad():
                hidden = self.embed(ids, positions)
                for layer in self.layers[:from_layer]:
                    hidden = self.layer(layer, hidden, groups)
            attributed = hidden = hidden.detach().requires_grad_(True)
        with torch.enable_grad():
            pooled = self.pool(hidden, groups, first_layer=from_layer)
            logits = self.classify(pooled)
        result = torch.empty_like(logits, requires_grad=False)
        pooled_result = torch.empty(pooled.shape, dtype=pooled.dtype, device=self.device)
        with torch.no_grad():
            index = torch.tensor(order, device=self.device)
            result[index] = logits
            pooled_result[index] = pooled.float()

        def attribute(targets: Sequence[int]) -> list[torch.Tensor]:
            target = torch.tensor([targets[i] for i in order], device=self.device)
            with torch.enable_grad():
                # Windows are independent, so the gradient of the sum is each window's own.
                selected = logits.float().gather(1, target[:, None]).sum()
                (gradient,) = torch.autograd.grad(selected, attributed)
            per_token = (gradient * attributed).sum(dim=-1).detach().float()
            scores: list[torch.Tensor] = [per_token[:0]] * len(windows)
            for index, part in zip(order, torch.split(per_token, lengths), strict=True):
                scores[index] = part
            return scores

        return result, pooled_result, attribute

    def encode(self, hidden: torch.Tensor, groups: Sequence[_Group]) -> torch.Tensor:
        """Encoder, pooler and classifier on packed embeddings; logits in packed order."""
        return self.classify(self.pool(hidden, groups))

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        """The classification head on pooled vectors; fp32 logits."""
        return self.classifier(pooled).float()

    def pool(
        self, hidden: torch.Tensor, groups: Sequence[_Group], *, first_layer: int = 0
    ) -> torch.Tensor:
        """Encoder (from layer ``first_layer``, whose input ``hidden`` is) and pooler on packed
        rows: one pooled vector per window, packed order."""
        for layer in self.layers[first_layer:-1]:
            hidden = self.layer(layer, hidden, groups)
        # Last layer: keys and values for every token, everything else for [CLS] rows only.
        layer = self.layers[-1]
        key_value = layer.key_value(hidden)
        cls_rows = torch.cat([group.cls_rows for group in groups])
        cls_hidden = hidden.index_select(0, cls_rows)
        query = layer.query(cls_hidden).view(-1, self.heads, 1, self.head_size)
        attended_parts = []
        offset = 0
        for group in groups:
            key, value = self._split_heads(key_value, group, 2)
            own_query = query[offset : offset + group.count]
            offset += group.count
            out = self._attention(own_query, key, value, group.mask)
            attended_parts.append(out.reshape(group.count, self.hidden))
        attended = torch.cat(attended_parts)
        cls_hidden = layer.attention_norm(layer.attention_out(attended) + cls_hidden)
        inner = F.gelu(layer.intermediate(cls_hidden))
        cls_hidden = layer.output_norm(layer.output(inner) + cls_hidden)
        return torch.tanh(self.pooler(cls_hidden))
