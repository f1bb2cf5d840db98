"""The published IEEE power-flow results the feeder tests compare against, typed once.

Source of every number below: the IEEE PES Distribution System Analysis
Subcommittee test feeder reports (W. H. Kersting, "Radial distribution test
feeders", IEEE PES Winter Meeting 2001; the "IEEE 13 Node Test Feeder" and "IEEE 34
Node Test Feeder" documents with their "Power-Flow Results"): the "Voltage Profile"
table (p.u. magnitude line-to-neutral per phase A-N / B-N / C-N), the regulator taps
and the "System Input" of the radial flow summary. ``None`` marks a phase the node
does not have. Node names are the models': the IEEE 13 row "XFXFM1" is node 634;
the IEEE 34 rows "RG10" / "RG11" (the regulators' outputs) are "814r" / "852r" (as in
OpenDSS' ieee34Mod1.dss).

Used by tests/test_published_profiles.py (the balanced models) and
tests/test_three_phase.py (the three-phase ones).
"""

from __future__ import annotations

PhaseVm = tuple[float | None, float | None, float | None]

# IEEE 13 Node Test Feeder, Power-Flow Results, voltage profile (p.u.), phases a, b, c.
IEEE13_PUBLISHED: dict[str, PhaseVm] = {
    "650": (1.0000, 1.0000, 1.0000),
    "RG60": (1.0625, 1.0500, 1.0687),
    "632": (1.0210, 1.0420, 1.0174),
    "633": (1.0180, 1.0401, 1.0148),
    "634": (0.9940, 1.0218, 0.9960),  # "XFXFM1"
    "645": (None, 1.0329, 1.0155),
    "646": (None, 1.0311, 1.0134),
    "671": (0.9900, 1.0529, 0.9778),
    "680": (0.9900, 1.0529, 0.9778),
    "684": (0.9881, None, 0.9758),
    "611": (None, None, 0.9738),
    "652": (0.9825, None, None),
    "692": (0.9900, 1.0529, 0.9777),
    "675": (0.9835, 1.0553, 0.9758),
}
# Radial flow summary, System Input (at 650, below the substation): kW, kvar.
IEEE13_INPUT_KW_KVAR = (3577.183, 1724.650)

# IEEE 34 Node Test Feeder, Power-Flow Results, voltage profile (p.u.), phases a, b, c.
IEEE34_PUBLISHED: dict[str, PhaseVm] = {
    "800": (1.0500, 1.0500, 1.0500),
    "802": (1.0475, 1.0484, 1.0484),
    "806": (1.0457, 1.0474, 1.0474),
    "808": (1.0136, 1.0296, 1.0289),
    "810": (None, 1.0294, None),
    "812": (0.9763, 1.0100, 1.0069),
    "814": (0.9467, 0.9945, 0.9893),
    "814r": (1.0177, 1.0255, 1.0203),  # "RG10"
    "850": (1.0176, 1.0255, 1.0203),
    "816": (1.0172, 1.0253, 1.0200),
    "818": (1.0163, None, None),
    "820": (0.9926, None, None),
    "822": (0.9895, None, None),
    "824": (1.0082, 1.0158, 1.0116),
    "826": (None, 1.0156, None),
    "828": (1.0074, 1.0151, 1.0109),
    "830": (0.9894, 0.9982, 0.9938),
    "854": (0.9890, 0.9978, 0.9934),
    "852": (0.9581, 0.9680, 0.9637),
    "852r": (1.0359, 1.0345, 1.0360),  # "RG11"
    "832": (1.0359, 1.0345, 1.0360),
    "858": (1.0336, 1.0322, 1.0338),
    "834": (1.0309, 1.0295, 1.0313),
    "842": (1.0309, 1.0294, 1.0313),
    "844": (1.0307, 1.0291, 1.0311),
    "846": (1.0309, 1.0291, 1.0313),
    "848": (1.0310, 1.0291, 1.0314),
    "860": (1.0305, 1.0291, 1.0310),
    "836": (1.0303, 1.0287, 1.0308),
    "840": (1.0303, 1.0287, 1.0308),
    "862": (1.0303, 1.0287, 1.0308),
    "838": (None, 1.0285, None),
    "864": (1.0336, None, None),
    "888": (0.9997, 0.9983, 1.0000),
    "890": (0.9167, 0.9235, 0.9177),
    "856": (None, 0.9977, None),
}
# Radial flow summary, System Input (at 800): kW, kvar.
IEEE34_INPUT_KW_KVAR = (2042.869, 290.259)

# Regulator taps of the published solutions, phases a, b, c (also OpenDSS
# IEEE13Nodeckt.dss "Taps=[1.0 1.0625] / 1.0500 / 1.06875"); each consistent with its
# table: RG60 / 650 = 1.0625 = 1 + 10 x 0.625 %, RG10 / 814 = 1.0177 / 0.9467 = 1.075
# = 1 + 12 x 0.625 %, ...
PUBLISHED_TAPS: dict[str, dict[str, tuple[int, int, int]]] = {
    "ieee13": {"reg1": (10, 8, 11)},
    "ieee34": {"reg1": (12, 5, 5), "reg2": (13, 11, 12)},
}
PUBLISHED: dict[str, dict[str, PhaseVm]] = {"ieee13": IEEE13_PUBLISHED,
                                             "ieee34": IEEE34_PUBLISHED}
PUBLISHED_INPUT: dict[str, tuple[float, float]] = {"ieee13": IEEE13_INPUT_KW_KVAR,
                                                   "ieee34": IEEE34_INPUT_KW_KVAR}


def published_nodes(name: str) -> dict[str, float]:
    """{"<bus>.<phase>": published vm_pu} for every bus-phase in feeder ``name``'s table."""
    return {f"{bus}.{ph}": vm for bus, row in PUBLISHED[name].items()
            for ph, vm in zip("abc", row, strict=True) if vm is not None}
