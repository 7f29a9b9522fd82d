"""The shape of each content file, as pydantic models. Validation errors are mapped to file:line by the loader."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=60)]
Line = Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]

COLUMN_THEMES = (
    "micro-aggressions",
    "boundaries",
    "speaking-up",
    "inclusion",
    "workload",
    "addressing-a-colleague",
    "social-safety",
    "bystander",
    "feedback",
    "remote-work",
)
REMINDER_TOPICS = (
    "respect",
    "harassment",
    "sexual-intimidation",
    "discrimination",
    "aggression",
    "bullying",
    "integrity",
    "confidentiality",
    "speaking-up",
    "where-to-go",
)
COLUMN_BODY_MAX = 3500
REMINDER_BODY_MAX = 900


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bilingual(Strict):
    nl: Line
    en: Line


class LongBilingual(Strict):
    nl: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    en: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class ColumnMeta(Strict):
    id: Slug
    lang: Literal["nl", "en"]
    title: Annotated[str, StringConstraints(min_length=3, max_length=150)]
    summary: Annotated[str, StringConstraints(min_length=10, max_length=280)]
    theme: Literal[COLUMN_THEMES]  # type: ignore[valid-type]
    reading_minutes: Annotated[int, Field(ge=1, le=15)]


class ReminderMeta(Strict):
    id: Slug
    lang: Literal["nl", "en"]
    title: Annotated[str, StringConstraints(min_length=3, max_length=150)]
    topic: Literal[REMINDER_TOPICS]  # type: ignore[valid-type]


class OptionSpec(Strict):
    id: Slug
    favourable: bool
    label: Bilingual


class QuestionSpec(Strict):
    id: Slug
    kind: Literal["likert", "choice"]
    text: Bilingual
    reverse: bool = False
    options: list[OptionSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _options_fit_kind(self) -> QuestionSpec:
        if self.kind == "choice" and not 2 <= len(self.options) <= 6:
            raise ValueError("a choice question needs 2 to 6 options")
        if self.kind == "likert" and self.options:
            raise ValueError("a likert question takes no options (the scale gives them)")
        if self.kind == "choice" and self.reverse:
            raise ValueError(
                "reverse scoring applies to likert questions only; mark options favourable instead"
            )
        if len({o.id for o in self.options}) != len(self.options):
            raise ValueError("option ids must be unique within a question")
        return self

    @field_validator("text")
    @classmethod
    def _short_enough(cls, value: Bilingual) -> Bilingual:
        if max(len(value.nl), len(value.en)) > 200:
            raise ValueError("a pulse question is answered with one click: keep it under 200 characters")
        return value


class ScaleSpec(Strict):
    nl: Annotated[list[Line], Field(min_length=5, max_length=5)]
    en: Annotated[list[Line], Field(min_length=5, max_length=5)]


class PulseSetSpec(Strict):
    id: Slug
    name: Bilingual
    description: LongBilingual
    window_days: Annotated[int, Field(ge=1, le=30)] = 3
    scale: ScaleSpec
    source: str | None = None
    questions: Annotated[list[QuestionSpec], Field(min_length=1, max_length=20)]

    @model_validator(mode="after")
    def _unique_questions(self) -> PulseSetSpec:
        if len({q.id for q in self.questions}) != len(self.questions):
            raise ValueError("question ids must be unique within a pulse set")
        return self


class SocialMapEntrySpec(Strict):
    id: Slug
    kind: Literal["internal", "external"]
    name: Bilingual
    description: LongBilingual
    phone: Annotated[str, StringConstraints(pattern=r"^[0-9+() -]{3,20}$")] | None = None
    url: Annotated[str, StringConstraints(pattern=r"^https://\S+$")] | None = None
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    hours: Bilingual | None = None


class SocialMapSpec(Strict):
    entries: Annotated[list[SocialMapEntrySpec], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_entries(self) -> SocialMapSpec:
        if len({e.id for e in self.entries}) != len(self.entries):
            raise ValueError("entry ids must be unique")
        return self


class TaxonomyItemSpec(Strict):
    id: Slug
    label: Bilingual
    description: LongBilingual | None = None


class TaxonomySpec(Strict):
    categories: Annotated[list[TaxonomyItemSpec], Field(min_length=1)]
    contact_types: Annotated[list[TaxonomyItemSpec], Field(min_length=1)]
    follow_ups: Annotated[list[TaxonomyItemSpec], Field(min_length=1)]
