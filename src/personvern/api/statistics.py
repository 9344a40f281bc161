"""/api/v1/statistics: requests, breaches, consents and cookie choices of a year, for the CEO and the authority."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from personvern.api.security import Ctx
from personvern.domain.statistics import FIRST_YEAR, Statistics
from personvern.services.statistics import statistics

router = APIRouter(prefix="/statistics", tags=["statistics"])

Month = Annotated[str, Field(description="YYYY-MM on the controller's calendar", examples=["2026-01"])]


class Row(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class RequestMonthOut(Row):
    month: Month = Field(description="The month of receipt")
    type: str
    received: int
    completed: int
    rejected: int = Field(description="Refused (Art. 12(4))")
    extended: int = Field(description="Given two months more (Art. 12(3))")
    open: int
    overdue: int = Field(description="Open past their deadline today")
    answered_late: int = Field(description="Completed or rejected after their deadline")


class AnswerTimesOut(Row):
    type: str
    received: int
    answered: int = Field(description="Completed or rejected")
    median_days: float | None = Field(description="Calendar days from receipt to answer; null with no answer")
    slowest_days: int | None


class BreachYearOut(Row):
    year: int = Field(description="The year of discovery")
    breaches: int
    notified_authority: int
    notified_late: int = Field(description="First told the authority more than 72 hours after discovery")
    notified_subjects: int
    not_required: int = Field(description="Unlikely to result in a risk, not notified: documented only")
    overdue: int = Field(description="Not told, the 72 hours past")


class ConsentMonthOut(Row):
    month: Month
    purpose: str
    channel: str
    method: str = Field(description="web, phone, paper, import, sms_reply")
    given: int
    withdrawn: int


class CookieMonthOut(Row):
    month: Month
    category: str
    granted: int
    refused: int


class PeriodOut(BaseModel):
    from_: int = Field(alias="from")
    until: int


class StatisticsOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    controller: str
    period: PeriodOut
    time_zone: str = Field(description="Months and years are counted on this clock")
    made_at: datetime
    requests: list[RequestMonthOut]
    answer_times: list[AnswerTimesOut]
    breaches: list[BreachYearOut]
    consents: list[ConsentMonthOut]
    cookie_choices: list[CookieMonthOut]

    @classmethod
    def of(cls, s: Statistics, controller: str) -> StatisticsOut:
        return cls(
            controller=controller,
            period=PeriodOut(**{"from": s.period.first, "until": s.period.last}),
            time_zone=s.zone,
            made_at=s.made_at,
            requests=[RequestMonthOut.model_validate(r) for r in s.requests],
            answer_times=[AnswerTimesOut.model_validate(r) for r in s.answer_times],
            breaches=[BreachYearOut.model_validate(r) for r in s.breaches],
            consents=[ConsentMonthOut.model_validate(r) for r in s.consents],
            cookie_choices=[CookieMonthOut.model_validate(r) for r in s.cookies],
        )


@router.get(
    "",
    summary="Privacy statistics of a year (the CEO's): requests, answer times, breaches, consents, cookie choices",
    response_model_by_alias=True,
)
def read(
    ctx: Ctx,
    year: Annotated[int | None, Query(ge=FIRST_YEAR, le=9999, description="The year (default: this year)")] = None,
) -> StatisticsOut:
    return StatisticsOut.of(statistics(ctx, year), ctx.policy.controller.name)
