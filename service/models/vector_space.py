"""Refuse to mix vector spaces: a store's vectors are only comparable with the embedder that made them.

The store checks the vectors' dimension, but two different 384-dimensional models pass that check and
their vectors have nothing to do with each other: every search would return noise, silently. So the
store records the vectors of a few fixed probe sentences when it is first used, and each start embeds
them again and compares. The same model on another backend (torch fp32, int8 ONNX, a newer export)
agrees at a mean cosine of about 0.99; an unrelated model lands far below. A fine-tune of the same model
does not: one epoch on news headlines (``models/train_embedder.py``, issue 17's trial) still agreed with
the packaged model at a mean of 0.974 (0.966 against the int8 export; lowest probe 0.954), close enough to
pass a loose bound and far enough to move every neighbour list. Measured on the probes below: packaged
model, int8 ONNX against fp32 torch, mean 0.993 and lowest 0.989. Hence two bounds, the mean and the
lowest probe, between those figures.
"""

from __future__ import annotations

import logging

from contra.errors import StoreError
from contra.index import ClaimStore
from contra.service.models.embedder import Embedder, cosine_agreement

LOG = logging.getLogger(__name__)

#: Mean cosine between the probes' recorded and current vectors below which the spaces differ.
MIN_SAME_SPACE = 0.985
#: The lowest cosine any single probe may have.
MIN_SAME_SPACE_PROBE = 0.975

PROBES: tuple[str, ...] = (
    "Consumer prices rose 3.2% in the year to January, the statistics office said on Wednesday.",
    "Ukrainian commanders said on April 29 that their units still held positions inside Kursk Oblast.",
    "The central bank kept its key interest rate unchanged on Thursday.",
    "The vaccine was 94% effective at preventing severe illness in a trial of 30,000 adults.",
    "Turnout reached 61 percent, the electoral commission said.",
    "The striker scored twice in the second half to give the visitors a 3-1 win.",
    "Officials denied the report.",
    "Researchers said the telescope had detected water vapour in the planet's atmosphere.",
)


def check_vector_space(store: ClaimStore, embedder: Embedder) -> None:
    """Record the probes on a store's first use; afterwards raise ``StoreError`` when ``embedder``
    makes vectors of another space than the stored ones."""
    current = embedder.embed(list(PROBES))
    reference = store.vector_reference()
    if reference is None:
        if store.max_claim_id():
            # A store from before the probes were recorded: its vectors cannot be checked any more.
            LOG.warning("claim store %s has no recorded vector space; adopting %s's", store.path, embedder.name)
        store.set_vector_reference(embedder.name, current)
        return
    made_by, recorded = reference
    agreement, lowest = cosine_agreement(recorded, current)
    if agreement < MIN_SAME_SPACE or lowest < MIN_SAME_SPACE_PROBE:
        raise StoreError(
            f"claim store {store.path} holds vectors made by {made_by!r}, and the configured embedder "
            f"{embedder.name!r} makes vectors of another space (mean cosine {agreement:.3f}, lowest {lowest:.3f} on "
            f"{len(PROBES)} probe sentences; the same model gives >= {MIN_SAME_SPACE} and >= {MIN_SAME_SPACE_PROBE}: "
            "a fine-tuned or other model does not); configure the embedder the "
            "store was built with (CONTRA_EMBEDDER), or use a new data directory (CONTRA_DATA_DIR)"
        )
    LOG.info("vector space of %s agrees with %s (mean cosine %.4f)", store.path, embedder.name, agreement)
