"""Market roles (DOMAIN.md "Actors and market roles")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MarketRole:
    code: str
    name: str
    group: str
    # Roles a participant may ask for when registering. The special users are created by the
    # central operator only.
    self_requestable: bool = True


ROLES: dict[str, MarketRole] = {
    r.code: r
    for r in [
        MarketRole("FSP", "Flexibility Service Provider", "Flexibility Service Providers"),
        MarketRole(
            "AGGREGATOR", "Aggregator (incl. Virtual Lead Party)", "Flexibility Service Providers"
        ),
        MarketRole("ASSET_OWNER", "Asset Owner", "Flexibility Service Providers"),
        MarketRole("SUPPLIER", "Electricity Supplier", "Flexibility Service Providers"),
        MarketRole(
            "OEM", "Manufacturer / installer / device platform", "Flexibility Service Providers"
        ),
        MarketRole("DNO", "Distribution Network Operator", "System Operators"),
        MarketRole("IDNO", "Independent Distribution Network Operator", "System Operators"),
        MarketRole("NESO", "National Energy System Operator", "System Operators"),
        MarketRole("TO", "Transmission Owner", "System Operators"),
        MarketRole("MARKET_OPERATOR", "Flexibility market platform", "Market Operators"),
        MarketRole(
            "PLATFORM", "Third-party platform acting for clients", "Flexibility Service Providers"
        ),
        MarketRole(
            "MARKET_FACILITATOR",
            "Central operator (FlexReg)",
            "Special Users",
            self_requestable=False,
        ),
        MarketRole("REGULATOR", "Regulator or auditor", "Special Users", self_requestable=False),
    ]
}

ROLE_CODES: tuple[str, ...] = tuple(ROLES)
ALL_ROLES: frozenset[str] = frozenset(ROLES)
SPECIAL_ROLES: frozenset[str] = frozenset({"MARKET_FACILITATOR", "REGULATOR"})
MARKET_ROLES: frozenset[str] = ALL_ROLES - SPECIAL_ROLES
# Roles open to private individuals (a household trading its own battery, say).
INDIVIDUAL_ROLES: frozenset[str] = frozenset({"ASSET_OWNER", "FSP"})
