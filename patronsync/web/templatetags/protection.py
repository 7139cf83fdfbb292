"""How long a library edit of a user's protected field holds, as the user page says it.

The rule is the user's profile's (`profiles`), which the user store does not know: the page
asks here, above both.
"""

from __future__ import annotations

from typing import Any

from django import template

from patronsync.patrons.swap import PROTECTION_STICKY
from patronsync.profiles.selectors import profile_protection_mode

register = template.Library()

HELD = "Changed in the library: held until the SIS repeats its last value"
HELD_STICKY = "Changed in the library: held until Restore"


@register.simple_tag
def protection_of(patron: Any) -> dict[str, Any]:
    """`sticky` (the profile's sticky protection: held until Restore) and the `held` label."""
    sticky = (
        profile_protection_mode(institution=patron.institution, code=patron.external_id)
        == PROTECTION_STICKY
    )
    return {"sticky": sticky, "held": HELD_STICKY if sticky else HELD}
