"""A deal's headline terms, as ``gigawatt deals`` lists them: parties, commitment, capacity, investments."""

from __future__ import annotations

from typing import Any

__all__ = ["deal_terms"]


def deal_terms(scn) -> dict[str, Any]:
    r"""The headline terms of a scenario's deal, in SI units.

    Parameters
    ----------
    scn : Scenario

    Returns
    -------
    dict
        ``name``, ``title``, ``buyer``, ``provider``, ``commitment_usd``,
        ``commitment_start``, ``term_s``, ``capacity_cap_w``, ``binding``,
        ``chips`` (the roadmap), and three investment figures [USD]:
        ``investment_usd``, the expected investment into the buyer
        (each included tranche's amount x its probability);
        ``contingent_investment_usd``, tranches left out of the ledger
        (``include: false``); ``buyer_prepaid_usd``, what the buyer pays in.

    Notes
    -----
    The expected investment is :math:`\sum_k a_k p_k` over the included
    tranches from the provider, the same expectation the ledger books.
    """
    d = scn.deal
    into_lab = [i for i in d.investments if i.from_party != "buyer"]
    return {
        "name": scn.name, "title": scn.title, "buyer": d.buyer, "provider": d.provider,
        "commitment_usd": d.commitment.total_usd, "commitment_start": d.commitment.start,
        "term_s": d.commitment.term_s, "capacity_cap_w": d.capacity_cap_w,
        "investment_usd": sum(i.amount_usd * i.probability for i in into_lab if i.include),
        "contingent_investment_usd": sum(i.amount_usd for i in into_lab if not i.include),
        "buyer_prepaid_usd": sum(i.amount_usd for i in d.investments if i.from_party == "buyer" and i.include),
        "binding": d.binding,
        "chips": [e.chip for e in scn.roadmap],
    }
