"""The console's words for the register's codes (roles, request types and states, …), translated where shown."""

from __future__ import annotations

from datetime import datetime

from personvern.domain.breaches import Breach, Status
from personvern.web.i18n import N_

ROLES = {
    "ceo": N_("CEO"),
    "staff": N_("Staff"),
    "marketing": N_("Marketing"),
    "auditor": N_("Auditor"),
}

# Each kind of request by its name and the article that gives the right.
REQUEST_TYPES = {
    "access": N_("Access (Art. 15)"),
    "portability": N_("Data portability (Art. 20)"),
    "rectification": N_("Rectification (Art. 16)"),
    "erasure": N_("Erasure (Art. 17)"),
    "restriction": N_("Restriction of processing (Art. 18)"),
    "objection": N_("Objection (Art. 21)"),
}
REQUEST_STATES = {
    "received": N_("received, not verified"),
    "verified": N_("identity verified"),
    "in_progress": N_("in progress"),
    "completed": N_("fulfilled"),
    "rejected": N_("rejected"),
}
# How a recipient's part in a request is confirmed, and where it stands (issue 15).
CONFIRM_BY = {
    "outbox": N_("the delivery from the outbox"),
    "task": N_("a task for the CEO"),
    "nothing": N_("nothing: it holds nothing after delivery"),
}
CONFIRMATION_STATES = {
    "pending": N_("waiting"),
    "confirmed": N_("confirmed"),
    "not_needed": N_("not needed"),
    "dead": N_("the delivery was given up on: retry it in the outbox, or do it by hand"),
}
CHANNELS = {
    "email": N_("e-mail"),
    "phone": N_("phone"),
    "letter": N_("letter"),
    "web": N_("web"),
    "in_person": N_("in person"),
}
VERIFICATIONS = {
    "bankid": N_("BankID"),
    "id_document": N_("identity document"),
    "known_email": N_("reply from the e-mail address we hold"),
    "known_phone": N_("code sent to the phone number we hold"),
    "in_person": N_("in person"),
    "signed_letter": N_("signed letter"),
    "otp_sms": N_("one-time code by SMS to the number given on the privacy page"),
    "otp_email": N_("one-time code by e-mail to the address given on the privacy page"),
}
CONSENT_STATES = {
    "in_force": N_("in force"),
    "void": N_("void (objected to since)"),
    "withdrawn": N_("withdrawn"),
    "restricted": N_("paused: processing restricted"),
    "never_given": N_("never given"),
}
CONSENT_ACTIONS = {"given": N_("given"), "withdrawn": N_("withdrawn")}
CONSENT_METHODS = {
    "web": N_("web"),
    "phone": N_("phone"),
    "paper": N_("paper"),
    "import": N_("import"),
    "sms_reply": N_("SMS reply"),
}
BLOCKS = {"objection": N_("Objection (Art. 21)"), "restriction": N_("Restriction (Art. 18)")}
RELATIONSHIPS = {"order": N_("order"), "contract": N_("contract")}
ACTIONS = {"archive": N_("archived"), "erase": N_("erased")}
BREACH_STATES = {
    "due": N_("the authority must be told"),
    "overdue": N_("overdue: the authority was not told within 72 hours"),
    "notified": N_("the authority is told"),
    "closed": N_("closed: final notification given"),
    "not_required": N_("not notified: unlikely to result in a risk"),
}
RISKS = {
    "unlikely": N_("unlikely to result in a risk (documented, not notified)"),
    "likely": N_("a risk (tell the authority within 72 hours)"),
    "high": N_("a high risk (tell the people affected too, Art. 34)"),
}
PHASES = {"initial": N_("initial"), "follow_up": N_("follow-up"), "final": N_("final")}
OUTBOX_KINDS = {"sms": N_("SMS")}


def breach_clock(breach: Breach, now: datetime) -> dict[str, object]:
    """Where a breach stands against the 72 hours of Art. 33(1): the status, and whole hours and minutes."""
    status = breach.status(now)
    if status is Status.DUE:
        delta = breach.deadline - now
    elif status is Status.OVERDUE:
        delta = now - breach.deadline
    else:
        return {"status": status.value, "hours": None, "minutes": None}
    minutes = int(delta.total_seconds() // 60)
    return {"status": status.value, "hours": minutes // 60, "minutes": minutes % 60}
