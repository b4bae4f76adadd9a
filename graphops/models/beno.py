"""BENO: boundary-embedded neural operator (Wang et al., ICLR 2024).

The solution is split as in a Green's-function representation, ``u = u1 + u2``:

* branch 1 solves for the source with zero boundary values: its nodes see ``f``
  and its boundary encoder sees the boundary tokens with ``g = 0`` (the paper,
  and the default) or *source tokens*: ``f`` at up to ``max_boundary_tokens``
  nodes of the whole domain, so the source reaches every node in every layer
  instead of only within the message-passing hops (``source_tokens``, an option);
* branch 2 solves the homogeneous problem with the real boundary values: its
  nodes see ``f = 0`` and its boundary encoder sees the real ``g``.

With ``potentials`` (an option) each branch's nodes also get the free-space layer
potentials of its tokens' values (:func:`layer_potentials`): the single- and
double-layer potentials of ``g`` and the Newtonian potential of ``f``, the
terms of Green's representation formula that the data determine. On Neumann
data, where ``u`` is a global function of the flux and no boundary value can
be interpolated, the two options together are what closes the gap to the
baselines; they are off by default because on the demo's unseen shapes and on
coarsened graphs they were less accurate (see ``docs/models/beno.md``).

Each branch is an encode-process-decode message-passing network (mean
aggregation, MLP edge and node updates, residuals) over the mesh graph. A
Transformer encoder over the boundary-node tokens (position, value, normal,
Dirichlet flag), mean-pooled to one vector per graph, is concatenated into the
node update of every message-passing layer. The output is the sum of the two
branch decoders.

With ``boundary_attention="local"`` (an option; ``"cross"`` stays the default
until local matches its accuracy, see docs/benchmarks/beno.md) every node also reads the
encoded boundary tokens near it, at a cost bounded per node: the boundary
nodes of a graph are farthest-point subsampled to at most
``max_boundary_tokens`` tokens (the Transformer runs on those, a fixed
``T x T`` cost), and before each message-passing layer a multi-head attention
from each node to its ``boundary_neighbours`` nearest tokens only (a KD-tree
query made once per mesh, :func:`local_context`), with the same learned
log-distance bias, gives the per-node boundary summary that the node update
receives next to the pooled vector (the global token). Attention work and
memory are ``O(N k)`` instead of ``O(N T)`` (:class:`LocalBoundaryAttention`).

With ``boundary_attention="cross"`` (the default)
every node queries all the encoded boundary tokens of its own graph: before each message-passing layer a
multi-head cross-attention from the node latents to the Transformer's token
outputs, with a learned log-distance bias (:class:`BoundaryCrossAttention`),
gives a per-node boundary summary that the node update receives next to the
pooled vector. The boundary encoding still enters every layer, but a node
reads the boundary values near it rather than one global average: with a few
message-passing hops on a mesh tens of hops wide, the pooled vector alone
leaves the harmonic extension of the boundary data (most of ``u``) to a
single vector per graph (see ``docs/benchmarks/beno.md``).
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..errors import ConfigError, DataError
from .features import boundary_token_slots, boundary_tokens, check_channels, check_inputs, graph_index, node_feature_size, node_field, node_features, token_size
from .layers import AGGREGATIONS, EncodeProcessDecode, check_choice, check_positive
from .registry import register_model

#: Ways the boundary encoding enters the node updates (see :class:`BENO`).
BOUNDARY_ATTENTION = ("pool", "cross", "local")


class BoundaryEncoder(nn.Module):
    """Transformer encoder over boundary tokens, pooled to one vector per graph.

    Parameters
    ----------
    token_dim : int
        Width of a token.
    hidden : int
        Model width (divisible by ``heads``) and width of the output vector.
    heads : int
    layers : int
    dropout : float
    """

    def __init__(self, token_dim: int, hidden: int, heads: int = 2, layers: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.embed = nn.Linear(token_dim, hidden)
        layer = nn.TransformerEncoderLayer(
            hidden, heads, dim_feedforward=2 * hidden, dropout=dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(hidden), enable_nested_tensor=False)
        self.out = nn.Linear(hidden, hidden)

    def encode(self, tokens: Tensor, padding: Tensor) -> Tuple[Tensor, Tensor]:
        """Encode the tokens and pool them.

        Parameters
        ----------
        tokens : Tensor, shape (B, T, token_dim)
        padding : Tensor, shape (B, T), bool
            True at padded positions; a row of all padding gives the encoding of
            "no boundary" (a zero pooled vector).

        Returns
        -------
        z : Tensor, shape (B, T, hidden)
            Per-token encodings (meaningless at padded positions).
        pooled : Tensor, shape (B, hidden)
        """
        empty = padding.all(dim=1)
        attend = padding.clone()
        attend[empty, 0] = False  # attention needs one key per row; the pooled vector ignores it
        z = self.encoder(self.embed(tokens), src_key_padding_mask=attend)
        keep = (~padding).unsqueeze(-1).to(z.dtype)
        pooled = (z * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1.0)
        return z, self.out(pooled)

    def forward(self, tokens: Tensor, padding: Tensor) -> Tensor:
        """Encode and pool (see :meth:`encode`).

        Returns
        -------
        Tensor, shape (B, hidden)
        """
        return self.encode(tokens, padding)[1]


class CrossContext(NamedTuple):
    """What the cross-attention layers of both branches share for one (batched) graph.

    Attributes
    ----------
    batch : Tensor, shape (N,), int64
        Graph of each node.
    num_graphs : int
    node_mask : Tensor, shape (B, M), bool
        Which slots of the dense (graph, node) layout hold real nodes
        (``M`` = the largest node count of a graph).
    blocked : Tensor, shape (B, 1, 1, T), bool
        Keys a query may not attend to (padding; one kept in a graph without
        boundary tokens, whose result is zeroed).
    empty : Tensor, shape (B,), bool
        Graphs without boundary tokens.
    log_distance : Tensor, shape (B, M, T), or None
        ``log(|x_i - xi_j| + EPS)`` between nodes and tokens (None without the
        distance bias).
    """

    batch: Tensor
    num_graphs: int
    node_mask: Tensor
    blocked: Tensor
    empty: Tensor
    log_distance: Optional[Tensor]


def cross_context(data, padding: Tensor, token_pos: Tensor, distance: bool) -> CrossContext:
    """Build the :class:`CrossContext` of a graph or batch.

    Parameters
    ----------
    data : Data or Batch
    padding : Tensor, shape (B, T), bool
        True at padded tokens (from :func:`graphops.models.features.boundary_tokens`).
    token_pos : Tensor, shape (B, T, d)
        Token positions.
    distance : bool
        Also compute the node-token log distances.
    """
    from torch_geometric.utils import to_dense_batch

    batch, num_graphs = graph_index(data)
    pos, node_mask = to_dense_batch(data.pos.to(token_pos.dtype), batch, batch_size=num_graphs)  # (B, M, d)
    empty = padding.all(dim=1)
    attend = padding.clone()
    attend[empty, 0] = False  # one key per row keeps softmax finite; the result is zeroed
    log_distance = None
    if distance:
        with torch.no_grad():
            # the direct difference formula: the matmul form loses ~1e-4 near zero distance in float32
            dist = torch.cdist(pos, token_pos, compute_mode="donot_use_mm_for_euclid_dist")
            log_distance = torch.log(dist + BoundaryCrossAttention.EPS)
    return CrossContext(batch, num_graphs, node_mask, attend[:, None, None, :], empty, log_distance)


class _BoundaryAttentionWeights(nn.Module):
    """The learned parts shared by both boundary attentions.

    A LayerNorm on the node latents, query, key, value and output projections
    ``hidden -> hidden``, and the per-head slope ``s_h`` of the log-distance
    bias (initialised between 1 and 3; 2 for one head), or None without the
    bias. Created in this order, so both attentions start from the same
    weights for the same seed and keep the same state-dict keys.
    """

    def __init__(self, hidden: int, heads: int, distance_bias: bool = True) -> None:
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(hidden)
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, hidden)
        init = torch.linspace(1.0, 3.0, heads) if heads > 1 else torch.full((1,), 2.0)
        self.slope = nn.Parameter(init) if distance_bias else None


class BoundaryCrossAttention(_BoundaryAttentionWeights):
    """Each node attends to the encoded boundary tokens of its own graph.

    Multi-head attention with queries from the node latents and keys and
    values from the token encodings. With ``distance_bias`` every head ``k``
    also adds ``-s_k log(|x_i - xi_j| + EPS)`` to the logit of node ``i`` and
    token ``j`` (``s_k`` learned, initialised between 1 and 3), so at
    initialisation a head already averages the boundary tokens with
    inverse-distance weights ``(|x_i - xi_j| + EPS)^(-s_k)``, a crude harmonic
    extension of the boundary data, which the content term ``q . k`` refines.

    Parameters
    ----------
    hidden : int
        Width of node latents and token encodings (divisible by ``heads``).
    heads : int
    distance_bias : bool
    """

    #: Added to distances (in mesh units) before the logarithm.
    EPS = 1.0e-3
    #: Attention logits computed at once (B * heads * rows * T); larger graphs
    #: are processed in row chunks.
    CHUNK_ELEMENTS = 1 << 22

    def forward(self, h: Tensor, z: Tensor, ctx: CrossContext) -> Tensor:
        """Per-node boundary summary.

        Parameters
        ----------
        h : Tensor, shape (N, hidden)
            Node latents (the queries).
        z : Tensor, shape (B, T, hidden)
            Token encodings (keys and values).
        ctx : CrossContext
            From :func:`cross_context` (with log distances when ``distance_bias``).

        Returns
        -------
        Tensor, shape (N, hidden)
            Zeros for the nodes of a graph without boundary tokens.
        """
        from torch_geometric.utils import to_dense_batch

        if self.slope is not None and ctx.log_distance is None:
            raise ValueError("distance_bias needs a CrossContext with log distances")
        q, _ = to_dense_batch(self.query(self.norm(h)), ctx.batch, batch_size=ctx.num_graphs)  # (B, M, hidden)
        b, m, width = q.shape
        t = z.shape[1]
        dh = width // self.heads
        q = q.reshape(b, m, self.heads, dh).transpose(1, 2) / math.sqrt(dh)  # (B, H, M, dh)
        k = self.key(z).reshape(b, t, self.heads, dh).transpose(1, 2)  # (B, H, T, dh)
        v = self.value(z).reshape(b, t, self.heads, dh).transpose(1, 2)
        slope = None if self.slope is None else self.slope.reshape(1, -1, 1, 1)
        blocks = bool(ctx.blocked.any())  # padded tokens (batches of graphs with different T only)
        rows = max(1, self.CHUNK_ELEMENTS // max(1, b * self.heads * t))
        parts = []
        for lo in range(0, m, rows):
            # additive logit bias (B, H or 1, r, T): distance term and padding, then one fused attention call
            bias = None if slope is None else ctx.log_distance[:, None, lo : lo + rows] * -slope
            if blocks:
                bias = torch.zeros((), dtype=q.dtype) if bias is None else bias
                bias = bias.masked_fill(ctx.blocked, float("-inf")).expand(b, -1, min(rows, m - lo), -1)
            parts.append(F.scaled_dot_product_attention(q[:, :, lo : lo + rows], k, v, attn_mask=bias, scale=1.0))
        out = torch.cat(parts, dim=2).transpose(1, 2).reshape(b, m, width)
        out = self.out(out) * (~ctx.empty).to(out.dtype).reshape(-1, 1, 1)
        return out[ctx.node_mask]


class LocalContext(NamedTuple):
    """Per-mesh geometry of the local boundary attention (independent of ``f`` and ``g``).

    Built once per graph or batch by :func:`local_context`; an inference
    session keeps it and stacks it for many queries with :meth:`repeat`.

    Attributes
    ----------
    slots : tuple
        ``(nodes, graph, slot, length)``: node index, graph and sequence
        position of every token (M tokens), and the sequence length T (see
        :func:`graphops.models.features.boundary_tokens`).
    padding : Tensor, shape (B, T), bool
        True at padded token positions.
    neighbours : Tensor, shape (N, k), int64
        For every node, its nearest tokens as indices into the flattened
        ``(B * T)`` token layout (0 where ``valid`` is False).
    valid : Tensor, shape (N, k), bool
        False in the columns of a node whose graph has fewer than ``k`` tokens.
    log_distance : Tensor, shape (N, k)
        ``log(|x_i - xi_j| + EPS)`` to those tokens.
    """

    slots: Tuple[Tensor, Tensor, Tensor, int]
    padding: Tensor
    neighbours: Tensor
    valid: Tensor
    log_distance: Tensor

    def repeat(self, copies: int, num_nodes: int) -> "LocalContext":
        """The context of ``copies`` copies of one graph stacked as a batch.

        Parameters
        ----------
        copies : int
        num_nodes : int
            Nodes of one copy (N).

        Returns
        -------
        LocalContext
            For the ``copies * N`` nodes and ``copies * B`` graphs of the stack,
            copy ``c`` occupying nodes ``c N .. (c + 1) N - 1``.
        """
        nodes, graph, slot, length = self.slots
        b = self.padding.shape[0]
        offsets = torch.arange(copies, device=nodes.device)
        slots = (
            (nodes[None] + offsets[:, None] * num_nodes).reshape(-1),
            (graph[None] + offsets[:, None] * b).reshape(-1),
            slot.repeat(copies),
            length,
        )
        neighbours = (self.neighbours[None] + offsets[:, None, None] * (b * length)).reshape(-1, self.neighbours.shape[1])
        return LocalContext(
            slots, self.padding.repeat(copies, 1), neighbours, self.valid.repeat(copies, 1),
            self.log_distance.repeat(copies, 1),
        )


def local_context(data, max_tokens: int, neighbours: int) -> LocalContext:
    """Choose the boundary tokens of every graph and each node's nearest tokens.

    A graph with more than ``max_tokens`` boundary nodes keeps ``max_tokens``
    of them by farthest-point sampling (deterministic, starting from its
    boundary node with the lexicographically smallest coordinates, so
    renumbering the nodes changes nothing), so the tokens cover the boundary evenly
    whatever the mesh density. Each node's ``neighbours`` nearest tokens of
    its own graph come from one KD-tree query per graph (scipy ``cKDTree``).
    Work: ``O(M T)`` for the sampling (M boundary nodes) and
    ``O(N k log T)`` for the queries.

    Parameters
    ----------
    data : Data or Batch
    max_tokens : int
        Token budget per graph (T at most).
    neighbours : int
        Tokens each node attends to (k).

    Returns
    -------
    LocalContext
    """
    import numpy as np
    from scipy.spatial import cKDTree

    from ..sampling import farthest_point_sampling

    batch, num_graphs = graph_index(data)
    device = data.pos.device
    pos = data.pos.detach().cpu().double().numpy()
    bmask = data.boundary_mask.reshape(-1).bool().cpu().numpy()
    batch_np = batch.cpu().numpy()
    n = pos.shape[0]
    # nodes of each graph (a Batch keeps them contiguous; argsort keeps this general)
    order = np.argsort(batch_np, kind="stable")
    counts = np.bincount(batch_np, minlength=num_graphs)
    starts = np.concatenate([[0], np.cumsum(counts)])
    chosen = []
    for b in range(num_graphs):
        members = order[starts[b] : starts[b + 1]]
        bnodes = members[bmask[members]]
        # canonical order by coordinates, so the tokens do not depend on the node numbering
        bnodes = bnodes[np.lexsort(pos[bnodes].T[::-1])]
        if len(bnodes) > max_tokens:
            bnodes = bnodes[np.sort(farthest_point_sampling(pos[bnodes], max_tokens))]
        chosen.append(bnodes)
    length = max(1, max((len(c) for c in chosen), default=0))
    k = max(1, min(neighbours, length))
    nbr = np.zeros((n, k), dtype=np.int64)
    valid = np.zeros((n, k), dtype=bool)
    dist = np.ones((n, k), dtype=np.float64)
    for b, bnodes in enumerate(chosen):
        members = order[starts[b] : starts[b + 1]]
        if not len(bnodes) or not len(members):
            continue
        kb = min(k, len(bnodes))
        d, j = cKDTree(pos[bnodes]).query(pos[members], k=kb)
        d, j = d.reshape(len(members), kb), j.reshape(len(members), kb)
        nbr[members, :kb] = b * length + j
        valid[members, :kb] = True
        dist[members, :kb] = d
    token_nodes = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
    token_graph = np.concatenate([np.full(len(c), b) for b, c in enumerate(chosen)]) if chosen else np.zeros(0)
    token_slot = np.concatenate([np.arange(len(c)) for c in chosen]) if chosen else np.zeros(0)
    padding = np.ones((num_graphs, length), dtype=bool)
    padding[token_graph.astype(np.int64), token_slot.astype(np.int64)] = False
    as_long = lambda a: torch.as_tensor(np.asarray(a, dtype=np.int64), device=device)  # noqa: E731
    slots = (as_long(token_nodes), as_long(token_graph), as_long(token_slot), int(length))
    log_distance = torch.as_tensor(np.log(dist + BoundaryCrossAttention.EPS), dtype=data.pos.dtype, device=device)
    return LocalContext(slots, torch.as_tensor(padding, device=device), as_long(nbr),
                        torch.as_tensor(valid, device=device), log_distance)


class LocalBoundaryAttention(_BoundaryAttentionWeights):
    """Each node attends to its ``k`` nearest encoded boundary tokens.

    The attention of :class:`BoundaryCrossAttention` (content term plus the
    learned ``-s_h log(|x_i - xi_j| + EPS)`` bias per head) restricted to the
    keys listed in :attr:`LocalContext.neighbours`: ``N k`` attention pairs
    rather than ``N T``. Rows are processed in chunks so that the gathered
    keys and values stay within :attr:`CHUNK_ELEMENTS` numbers.

    Parameters
    ----------
    hidden : int
        Width of node latents and token encodings (divisible by ``heads``).
    heads : int
    """

    #: Gathered key/value numbers held at once (rows * k * hidden); larger graphs go in row chunks.
    CHUNK_ELEMENTS = 1 << 23

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__(hidden, heads, distance_bias=True)

    def forward(self, h: Tensor, z: Tensor, ctx: LocalContext) -> Tensor:
        """Per-node boundary summary.

        Parameters
        ----------
        h : Tensor, shape (N, hidden)
            Node latents (the queries).
        z : Tensor, shape (B, T, hidden)
            Token encodings (keys and values).
        ctx : LocalContext

        Returns
        -------
        Tensor, shape (N, hidden)
            Zeros for nodes without a token in their graph.
        """
        n, width = h.shape
        heads, dh = self.heads, width // self.heads
        flat = z.reshape(-1, width)
        kv = torch.cat([self.key(flat), self.value(flat)], dim=1)  # (B T, 2 hidden)
        q = (self.query(self.norm(h)) / math.sqrt(dh)).reshape(n, 1, heads, dh)
        k = ctx.neighbours.shape[1]
        slope = self.slope.reshape(1, 1, -1)
        rows = max(1, self.CHUNK_ELEMENTS // max(1, 2 * k * width))
        parts = []
        # elementwise products and sums over the k neighbours: many tiny batched matmuls are far slower on CPU
        for lo in range(0, n, rows):
            hi = min(n, lo + rows)
            gathered = kv.index_select(0, ctx.neighbours[lo:hi].reshape(-1)).reshape(hi - lo, k, 2, heads, dh)
            keys, values = gathered[:, :, 0], gathered[:, :, 1]  # (r, k, H, dh)
            logits = (keys * q[lo:hi]).sum(-1) - slope * ctx.log_distance[lo:hi, :, None]  # (r, k, H)
            valid = ctx.valid[lo:hi, :, None]
            logits = logits.masked_fill(~valid, float("-inf"))
            # a node without any token gets a finite row (all zeros) and a zeroed result
            logits = torch.where(valid.any(dim=1, keepdim=True), logits, torch.zeros_like(logits))
            weights = torch.softmax(logits, dim=1)
            parts.append((weights.unsqueeze(-1) * values).sum(1).reshape(hi - lo, width))
        out = self.out(torch.cat(parts, dim=0) if len(parts) != 1 else parts[0])
        return out * ctx.valid[:, :1].to(out.dtype)


#: Regularisation length (mesh units) of the layer-potential kernels near a token.
POTENTIAL_EPS = 1.0e-2
#: Node-token pairs handled at once by :func:`layer_potentials`; larger graphs go in row chunks.
POTENTIAL_CHUNK = 1 << 22


def layer_potentials(data, tokens: Tensor, padding: Tensor, dim: int) -> Tensor:
    """Free-space layer potentials of the token values at every node.

    With the Laplace Green's function ``G(r) = -log(r) / (2 pi)`` (2D) or
    ``1 / (4 pi r)`` (3D), the token values ``v_j`` at positions ``xi_j`` with
    outward normals ``n_j`` give, at each node ``x``,

    * the single-layer (or, for tokens spread over the domain, Newtonian)
      potential ``S(x) = mean_j G(|x - xi_j|) v_j``, and
    * the double-layer potential ``D(x) = mean_j dG/dn_j(x - xi_j) v_j``
      (zero for tokens without a normal),

    the terms of Green's representation formula
    ``u = int G f + oint G du/dn - oint dG/dn u`` that the data determine:
    ``S`` of a Neumann flux and ``D`` of Dirichlet values are its boundary
    terms, ``S`` of source tokens its volume term. A mean over the tokens stands
    for the integral (uniform quadrature weights), and distances are
    regularised by :data:`POTENTIAL_EPS`, so these are features with the right
    shape, not the exact potentials; the network learns the rest.

    Parameters
    ----------
    data : Data or Batch
    tokens : Tensor, shape (B, T, 2 d + 1 + C)
        ``[position, value (C), normal, Dirichlet flag]`` (see
        :func:`graphops.models.features.boundary_tokens`).
    padding : Tensor, shape (B, T), bool
    dim : int

    Returns
    -------
    Tensor, shape (N, 2 C)
        ``[S (C), D (C)]`` per node; zeros for a graph without tokens.
    """
    from torch_geometric.utils import to_dense_batch

    batch, num_graphs = graph_index(data)
    channels = tokens.shape[-1] - 2 * dim - 1
    xi = tokens[..., :dim]
    values = tokens[..., dim : dim + channels] * (~padding).unsqueeze(-1).to(tokens.dtype)  # (B, T, C)
    normals = tokens[..., dim + channels : 2 * dim + channels]
    count = (~padding).sum(dim=1).clamp(min=1).to(tokens.dtype).reshape(-1, 1, 1)
    pos, node_mask = to_dense_batch(data.pos.to(tokens.dtype), batch, batch_size=num_graphs)  # (B, M, d)
    rows = max(1, POTENTIAL_CHUNK // max(1, num_graphs * tokens.shape[1]))
    eps2 = POTENTIAL_EPS ** 2
    parts = []
    for lo in range(0, pos.shape[1], rows):
        diff = pos[:, lo : lo + rows, None, :] - xi[:, None]  # (B, r, T, d)
        r2 = (diff * diff).sum(-1) + eps2
        if dim == 2:
            single = -0.25 / math.pi * torch.log(r2)
            double = (diff * normals[:, None]).sum(-1) / (2.0 * math.pi * r2)
        else:
            single = 1.0 / (4.0 * math.pi * r2.sqrt())
            double = (diff * normals[:, None]).sum(-1) / (4.0 * math.pi * r2 * r2.sqrt())
        parts.append(torch.cat([single @ values, double @ values], dim=-1) / count)  # (B, r, 2 C)
    return torch.cat(parts, dim=1)[node_mask]


class BENOBranch(nn.Module):
    """One BENO branch: boundary encoder plus a conditioned encode-process-decode network."""

    def __init__(
        self, dim: int, hidden: int, layers: int, out_channels: int, mlp_layers: int, aggr: str,
        boundary_heads: int, boundary_layers: int, dropout: float, boundary_attention: str = "cross",
        distance_bias: bool = True, in_channels: int = 1, boundary_channels: int = 1, potentials: bool = False,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.potentials = potentials
        self.boundary = BoundaryEncoder(token_size(dim, boundary_channels), hidden, boundary_heads, boundary_layers,
                                        dropout)
        attends = boundary_attention != "pool"
        self.net = EncodeProcessDecode(
            node_feature_size(dim, False, in_channels) + (2 * boundary_channels if potentials else 0), dim + 1, hidden,
            layers, out_channels,
            cond_dim=2 * hidden if attends else hidden, aggr=aggr, mlp_layers=mlp_layers,
        )
        if boundary_attention == "cross":
            self.cross = nn.ModuleList(BoundaryCrossAttention(hidden, boundary_heads, distance_bias) for _ in range(layers))
        elif boundary_attention == "local":
            self.cross = nn.ModuleList(LocalBoundaryAttention(hidden, boundary_heads) for _ in range(layers))
        else:
            self.cross = None

    def forward(self, data, f: Tensor, tokens: Tensor, padding: Tensor, ctx=None) -> Tensor:
        """Predict this branch's part of the solution.

        Parameters
        ----------
        data : Data or Batch
        f : Tensor, shape (N, 1)
            Source term seen by the nodes.
        tokens : Tensor, shape (B, T, token_dim)
            Boundary tokens (with the boundary values this branch sees).
        padding : Tensor, shape (B, T), bool
        ctx : CrossContext or LocalContext, optional
            Needed with ``"cross"`` (a CrossContext) or ``"local"`` (a LocalContext) attention.

        Returns
        -------
        Tensor, shape (N, out_channels)
        """
        batch, _ = graph_index(data)
        z, pooled = self.boundary.encode(tokens, padding)
        cond = pooled[batch]
        x = node_features(data, f)
        if self.potentials:
            x = torch.cat([x, layer_potentials(data, tokens, padding, self.dim)], dim=1)
        edge_attr = data.edge_attr.to(x.dtype)
        if self.cross is None:
            return self.net(x, edge_attr, data.edge_index, cond)
        if ctx is None:
            raise ValueError("a boundary-attention branch needs its context (CrossContext or LocalContext)")
        net = self.net
        h = net.node_encoder(x)
        e = net.edge_encoder(edge_attr)
        for block, cross in zip(net.processor, self.cross):
            h, e = block(h, e, data.edge_index, torch.cat([cond, cross(h, z, ctx)], dim=1))
        return net.decoder(h)


@register_model("beno")
class BENO(nn.Module):
    """Boundary-embedded neural operator for elliptic PDEs on meshes, 2D and 3D.

    Parameters
    ----------
    dim : int
        Spatial dimension of the meshes (2 or 3).
    hidden : int
        Latent width of both branches and of the boundary Transformer.
    layers : int
        Message-passing layers per branch.
    out_channels : int
        Solution components per node.
    mlp_layers : int
        Linear layers per MLP.
    aggr : {"mean", "sum"}
        Neighbour aggregation (BENO uses mean).
    boundary_heads : int
        Attention heads of the boundary Transformer.
    boundary_layers : int
        Transformer encoder layers.
    max_boundary_tokens : int
        Boundary nodes per graph fed to the Transformer (T); more are
        subsampled: by farthest-point sampling with ``"local"`` attention,
        evenly by node index otherwise.
    dropout : float
        Dropout inside the Transformer.
    boundary_attention : {"local", "cross", "pool"}
        How the boundary encoding enters the node updates: ``"pool"`` the
        mean-pooled vector only (the paper); ``"cross"`` (default) also a per-node
        attention summary over all the encoded boundary tokens (O(N T));
        ``"local"`` the same summary over each node's
        ``boundary_neighbours`` nearest tokens (O(N k); see the module
        docstring and ``docs/benchmarks/beno.md``).
    cross_distance_bias : bool
        With ``boundary_attention="cross"``: add the learned log-distance bias
        of :class:`BoundaryCrossAttention` to the attention logits (``"local"``
        always has it).
    in_channels, boundary_channels : int
        Channels of the input fields ``f`` and boundary values ``g`` (1 for
        the built-in problems; an imported dataset's manifest gives them).
    boundary_neighbours : int
        With ``boundary_attention="local"``: tokens each node attends to (k).
    source_tokens : bool
        Branch 1 (the source branch) reads tokens of ``f`` at up to
        ``max_boundary_tokens`` nodes of the whole domain (evenly by node index;
        ``[position, f, outward normal (zero inside), Dirichlet flag]``) instead
        of the boundary tokens with ``g = 0``: its Transformer and attention then
        see the source everywhere, a learned kernel integral of ``f`` like the
        Green's-function term it stands for, rather than only within its
        ``layers`` message-passing hops. With ``"cross"`` or ``"pool"`` only.
    potentials : bool
        (Recommended with ``source_tokens`` for Neumann or source-dominated
        data; both are off by default, see ``docs/models/beno.md``.)
        Each branch's nodes also get the free-space single- and double-layer
        potentials of its tokens' values (:func:`layer_potentials`): the
        boundary terms of Green's representation formula for ``g`` (branch 2)
        and, with ``source_tokens``, the Newtonian potential of ``f`` (branch 1).
    """

    task = "fields"  # what it learns: see graphops.tasks
    #: Arguments added after checkpoints existed, with the value that rebuilds an older checkpoint's model
    #: (see :func:`graphops.models.registry.saved_config`; the trainer refuses to continue a run across a
    #: default that differs from these).
    config_added = {"source_tokens": False, "potentials": False}

    def __init__(
        self,
        dim: int = 2,
        hidden: int = 32,
        layers: int = 4,
        out_channels: int = 1,
        mlp_layers: int = 2,
        aggr: str = "mean",
        boundary_heads: int = 2,
        boundary_layers: int = 2,
        max_boundary_tokens: int = 512,
        dropout: float = 0.0,
        boundary_attention: str = "cross",
        cross_distance_bias: bool = True,
        in_channels: int = 1,
        boundary_channels: int = 1,
        boundary_neighbours: int = 16,
        source_tokens: bool = False,
        potentials: bool = False,
    ) -> None:
        super().__init__()
        check_choice("beno", "dim", dim, (2, 3))
        check_choice("beno", "boundary_attention", boundary_attention, BOUNDARY_ATTENTION)
        check_choice("beno", "aggr", aggr, AGGREGATIONS)
        check_positive(
            "beno", hidden=hidden, layers=layers, out_channels=out_channels, mlp_layers=mlp_layers,
            boundary_heads=boundary_heads, boundary_layers=boundary_layers, max_boundary_tokens=max_boundary_tokens,
            boundary_neighbours=boundary_neighbours,
        )
        if hidden % boundary_heads:
            raise ConfigError(f"model 'beno': hidden={hidden} must be divisible by boundary_heads={boundary_heads}")
        if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ConfigError(f"model 'beno': dropout must be in [0, 1), got {dropout!r}")
        self.dim = dim
        self.max_boundary_tokens = max_boundary_tokens
        self.boundary_attention = boundary_attention
        self.cross_distance_bias = bool(cross_distance_bias)
        self.channels = check_channels("beno", in_channels, boundary_channels)
        self.boundary_neighbours = boundary_neighbours
        if source_tokens and boundary_attention == "local":
            raise ConfigError("model 'beno': source_tokens works with boundary_attention 'cross' or 'pool', not 'local'")
        self.source_tokens = bool(source_tokens)
        args = (dim, hidden, layers, out_channels, mlp_layers, aggr, boundary_heads, boundary_layers, float(dropout),
                boundary_attention, bool(cross_distance_bias), in_channels)
        # the source branch's tokens carry f (in_channels) when they are source tokens
        self.potentials = bool(potentials)
        self.branch1 = BENOBranch(*args, in_channels if self.source_tokens else boundary_channels,
                                  potentials=self.potentials)
        self.branch2 = BENOBranch(*args, boundary_channels, potentials=self.potentials)

    def geometry_context(self, data) -> Optional[LocalContext]:
        """What the forward pass needs from the geometry alone (not from ``f`` or ``g``).

        With ``"local"`` attention: the token choice and each node's nearest
        tokens (:func:`local_context`); None for the other variants (they build
        what they need in the forward pass). Compute it once per mesh and pass
        it to :meth:`forward_branches` / :meth:`forward` for every query.

        Parameters
        ----------
        data : Data or Batch

        Returns
        -------
        LocalContext or None
        """
        if self.boundary_attention != "local":
            return None
        check_inputs(data, self.dim, "beno", ("pos", "boundary_mask"))
        return local_context(data, self.max_boundary_tokens, self.boundary_neighbours)

    def forward_branches(self, data, context: Optional[LocalContext] = None) -> Tuple[Tensor, Tensor]:
        """The two parts of the solution.

        Parameters
        ----------
        data : Data or Batch
            With the fields of :data:`graphops.models.features.INPUT_FIELDS`.
        context : LocalContext, optional
            From :meth:`geometry_context` on the same graph (computed here when None).

        Returns
        -------
        u1 : Tensor, shape (N, out_channels)
            Source branch (sees f, and boundary tokens with g = 0 or, with
            ``source_tokens``, tokens of f over the domain).
        u2 : Tensor, shape (N, out_channels)
            Boundary branch (sees f = 0, boundary tokens with the real g).
        """
        check_inputs(data, self.dim, "beno", channels=self.channels)
        f = node_field(data, "f")
        g = node_field(data, "g")
        zeros = torch.zeros_like(f)
        slots = None
        if self.boundary_attention == "local":
            ctx = self.geometry_context(data) if context is None else context
            if ctx.valid.shape[0] != f.shape[0]:
                raise DataError(f"model 'beno': the geometry context is for {ctx.valid.shape[0]} nodes, "
                                f"the graph has {f.shape[0]}")
            slots = ctx.slots
        tokens2, padding = boundary_tokens(data, g, self.max_boundary_tokens, slots)
        if self.source_tokens:
            source_slots = boundary_token_slots(data, self.max_boundary_tokens, everywhere=True)
            tokens1, padding1 = boundary_tokens(data, f, self.max_boundary_tokens, source_slots)
        else:
            tokens1, padding1 = boundary_tokens(data, torch.zeros_like(g), self.max_boundary_tokens, slots)
        if self.boundary_attention == "pool":
            ctx = ctx1 = None
        elif self.boundary_attention == "cross":
            ctx = cross_context(data, padding, tokens2[..., : self.dim], self.cross_distance_bias)
            ctx1 = cross_context(data, padding1, tokens1[..., : self.dim], self.cross_distance_bias) \
                if self.source_tokens else ctx
        else:
            ctx1 = ctx
        u1 = self.branch1(data, f, tokens1, padding1, ctx1)
        u2 = self.branch2(data, zeros, tokens2, padding, ctx)
        return u1, u2

    def forward(self, data, context: Optional[LocalContext] = None) -> Tensor:
        """Predict the solution at every node.

        Parameters
        ----------
        data : Data or Batch
        context : LocalContext, optional
            From :meth:`geometry_context` (see :meth:`forward_branches`).

        Returns
        -------
        Tensor, shape (N, out_channels)
            ``u1 + u2``.
        """
        u1, u2 = self.forward_branches(data, context)
        return u1 + u2
