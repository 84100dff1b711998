"""Money as opp handles it: parsed from what a person types, stored as whole minor units.

Amounts are ``Decimal`` in Python and an integer count of minor units (cents, yen, fils) in storage, so
no figure ever passes through a float and every stored number is exact. Each currency's scale comes
from the ISO 4217 table in :mod:`opp.core.money.currencies`; an amount finer than its currency allows is
refused rather than silently rounded, because a typo such as ``12.345`` should be seen, not absorbed.
Figures opp derives in Python (forecasts, averages, a billable line's amount and tax) are rounded here,
under :data:`ROUNDING`; the SQL that computes them in the database (:mod:`opp.core.money.figures`, the
store's conversions) follows the same rule, and tests check that the two agree.
"""

from __future__ import annotations

import decimal
import re
from decimal import Decimal

from opp.core.errors import Invalid
from opp.core.money.currencies import MINOR_UNITS

__all__ = [
    "MAX_MINOR",
    "ROUNDING",
    "forecast_minor",
    "format_money",
    "from_minor",
    "minor_unit",
    "normalize_currency",
    "parse_amount",
    "parse_minor",
    "parse_probability",
    "round_minor",
    "round_to_minor",
    "to_minor",
]

MAX_MINOR = 10**15
"""The largest count of minor units a value may hold.

Small enough that value x probability x 2 (the forecast's integer arithmetic, and any SQL that
mirrors it) always fits a signed 64-bit integer: 10**15 * 100 * 2 = 2 * 10**17 < 2**63.
"""

ROUNDING = decimal.ROUND_HALF_UP
"""The one rounding rule for money opp derives (forecasts, conversions, averages, billable lines).

Every derived money figure is rounded once, to its currency's minor unit, half away from zero
(commercial rounding, as a spreadsheet's ROUND does), per deal before any sum, so a total always
equals the sum of the figures shown beside it. Amounts people type are never rounded: they are
refused when finer than the currency allows.
"""

_SUFFIXES = {"k": 3, "m": 6}
_AMOUNT = re.compile(r"(?P<int>[0-9]+(?:_[0-9]+)*)(?:\.(?P<frac>[0-9]+(?:_[0-9]+)*))?(?P<suffix>[kKmM])?")
_EXPONENT = re.compile(r"[0-9_.]*[0-9][eE][+-]?[0-9]+[kKmM]?")
_NON_FINITE = frozenset({"nan", "snan", "inf", "infinity"})
_AMOUNT_HINT = "write an amount such as 50000, 50000.50, 50_000, 50k or 1.2m"
_PROBABILITY = re.compile(r"[0-9]+")


def normalize_currency(text: str) -> str:
    """Return the canonical code for ``text`` so ``usd`` and `` USD `` are stored alike."""
    code = text.strip().upper()
    if code not in MINOR_UNITS:
        raise Invalid(
            f"unknown currency {text.strip()!r}",
            hint="use a three-letter ISO 4217 code such as USD, EUR, NOK",
        )
    return code


def minor_unit(currency: str) -> int:
    """Return how many decimals ``currency`` has (JPY 0, USD 2, KWD 3), the scale of its storage."""
    return MINOR_UNITS[normalize_currency(currency)]


def _decimals_hint(code: str) -> str:
    """Say how precise ``code`` amounts may be, for hints on refused amounts."""
    places = MINOR_UNITS[code]
    if places == 0:
        return f"{code} has no decimals: write a whole amount"
    return f"{code} has {places} decimal{'s' if places != 1 else ''}"


def _largest(code: str) -> str:
    """The largest amount ``code`` may hold, formatted, for hints on too-large amounts."""
    return f"the largest {code} amount is {format_money(from_minor(MAX_MINOR, code))}"


def _scaled_minor(digits: str, exponent: int, places: int) -> int | None:
    """Return ``digits * 10**exponent`` in minor units, or None if it is finer than ``places``.

    Works on the digit text so a thousand-digit input is judged without building a huge integer;
    anything above MAX_MINOR comes back as MAX_MINOR + 1.
    """
    significant = digits.lstrip("0").rstrip("0")
    if not significant:
        return 0
    trailing_zeros = len(digits) - len(digits.rstrip("0"))
    shift = exponent + places + trailing_zeros
    if shift < 0:
        return None
    if len(significant) + shift > len(str(MAX_MINOR)):
        return MAX_MINOR + 1
    scale: int = 10**shift
    return int(significant) * scale


def parse_amount(text: str, currency: str) -> Decimal:
    """Parse a typed amount (``50000``, ``50_000.50``, ``50k``, ``1.2m``) exactly, or refuse it.

    The result is quantized to the currency's decimals (``Decimal('50000.00')`` in USD) so that it
    round-trips through storage unchanged.
    """
    code = normalize_currency(currency)
    return from_minor(parse_minor(text, code), code)


def _shown(typed: str) -> str:
    """The text as typed, quoted, cut short when it is too long for a one-line message."""
    if len(typed) <= 40:
        return repr(typed)
    return f"{typed[:24]!r}… ({len(typed):,} characters)"


def parse_minor(text: str, currency: str) -> int:
    """:func:`parse_amount` as the count of minor units storage holds (bulk imports skip the Decimal)."""
    code = normalize_currency(currency)
    places = MINOR_UNITS[code]
    typed = text.strip()
    if not typed:
        raise Invalid("value must not be empty", hint=_AMOUNT_HINT)
    if typed.startswith("-"):
        raise Invalid(f"value must not be negative: {_shown(typed)}", hint="a value is 0 or more")
    if "," in typed:
        raise Invalid(
            f"value {_shown(typed)} contains a comma",
            hint="write 50000 or 50_000 (no thousands commas; the decimal mark is a dot)",
        )
    match = _AMOUNT.fullmatch(typed)
    if match is None:
        if _EXPONENT.fullmatch(typed):
            raise Invalid(
                f"value {_shown(typed)} uses exponent notation",
                hint="write the digits out (100000) or use k and m (100k, 1.2m)",
            )
        if typed.lstrip("+").lower() in _NON_FINITE:
            raise Invalid(f"value {_shown(typed)} is not a finite number", hint=_AMOUNT_HINT)
        raise Invalid(f"value {_shown(typed)} is not a number", hint=_AMOUNT_HINT)
    whole = match["int"].replace("_", "")
    fraction = (match["frac"] or "").replace("_", "")
    suffix = match["suffix"]
    exponent = -len(fraction) + (_SUFFIXES[suffix.lower()] if suffix else 0)
    minor = _scaled_minor(whole + fraction, exponent, places)
    if minor is None:
        raise Invalid(
            f"value {_shown(typed)} has more decimals than {code} allows", hint=_decimals_hint(code)
        )
    if minor > MAX_MINOR:
        raise Invalid(f"value too large: {_shown(typed)}", hint=_largest(code))
    return minor


def to_minor(amount: Decimal, currency: str) -> int:
    """Convert ``amount`` to the integer count of minor units that storage holds, exactly.

    Refuses rather than rounds: an amount finer than the currency, negative, not finite or above
    MAX_MINOR would otherwise be stored as something other than what was meant.
    """
    code = normalize_currency(currency)
    if not amount.is_finite():
        raise Invalid(f"amount {str(amount)!r} is not a finite number", hint=_AMOUNT_HINT)
    sign, digit_tuple, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite, so never 'n', 'N' or 'F'
    digits = "".join(map(str, digit_tuple))
    if sign and digits.strip("0"):
        raise Invalid(f"amount must not be negative: {str(amount)!r}", hint="a value is 0 or more")
    minor = _scaled_minor(digits, exponent, MINOR_UNITS[code])
    if minor is None:
        raise Invalid(
            f"amount {str(amount)!r} has more decimals than {code} allows",
            hint=_decimals_hint(code),
        )
    if minor > MAX_MINOR:
        raise Invalid(f"amount too large: {_shown(str(amount))}", hint=_largest(code))
    return minor


def from_minor(minor: int, currency: str) -> Decimal:
    """Turn stored minor units back into a Decimal carrying the currency's decimals (1800 EUR -> 18.00).

    Built from the integer's text, so it is exact at any size (no context precision applies).
    """
    # Stored codes are canonical already: looked up directly, as a listing does this for every deal.
    places = MINOR_UNITS.get(currency)
    if places is None:
        places = minor_unit(currency)
    return Decimal(f"{int(minor)}E-{places}")


def round_to_minor(amount: Decimal, currency: str) -> Decimal:
    """Round a derived figure once to the currency's minor unit under ROUNDING (half away from zero)."""
    places = minor_unit(currency)
    if not amount.is_finite():
        raise Invalid(f"amount {str(amount)!r} is not a finite number", hint=_AMOUNT_HINT)
    sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite
    # The same digits counted in minor units (exact, unlike scaleb, which rounds to the context).
    return from_minor(round_minor(Decimal((sign, digits, exponent + places))), currency)


def round_minor(exact_minor: Decimal) -> int:
    """Round a derived count of minor units (a line's quantity x unit price, its tax) to a whole one
    under ROUNDING (half away from zero), for figures kept in minor units rather than in a currency."""
    if not exact_minor.is_finite():
        raise Invalid(f"amount {str(exact_minor)!r} is not a finite number", hint=_AMOUNT_HINT)
    # Enough precision that quantize never fails for lack of digits, whatever the amount's size.
    context = decimal.Context(prec=max(28, exact_minor.adjusted() + 2), rounding=ROUNDING)
    return int(exact_minor.quantize(Decimal(1), context=context))


def forecast_minor(value_minor: int, probability: int) -> int:
    """Return value x probability / 100 in minor units, rounded half up, in exact integer arithmetic.

    Integer-only so the Python result and the same formula in SQL agree to the unit:
    ``(2*v*p + 100) // 200`` is round-half-up of ``v*p/100`` for non-negative inputs.
    """
    if value_minor < 0 or not 0 <= probability <= 100:
        raise Invalid(
            f"forecast needs a value of 0 or more and a probability from 0 to 100, "
            f"not {value_minor!r} and {probability!r}"
        )
    return (2 * value_minor * probability + 100) // 200


def parse_probability(text: str) -> int:
    """Parse a win probability (``40``, ``40%``, and as other systems write it ``40.0%``, ``40.00``) as
    a whole percentage from 0 to 100; a fraction part other than zeros is refused, never rounded."""
    typed = text.strip()
    number = typed[:-1].rstrip() if typed.endswith("%") else typed
    whole, point, fraction = number.partition(".")
    if point and whole and fraction and not fraction.strip("0"):
        number = whole
    # Leading zeros dropped before int() so an absurdly long input cannot hit int's digit limit.
    significant = number.lstrip("0") or "0"
    if _PROBABILITY.fullmatch(number) is None or len(significant) > 3 or int(significant) > 100:
        raise Invalid(
            f"probability must be a whole number from 0 to 100, not {typed!r}",
            hint="write a percentage such as 40 or 40%",
        )
    return int(significant)


def format_money(amount: Decimal) -> str:
    """Format for tables: thousands separators and the amount's own decimals, no symbol."""
    return f"{amount:,f}"
