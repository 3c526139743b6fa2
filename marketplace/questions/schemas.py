"""Request and response bodies of pre-sale questions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import Meta, Struct

QuestionText = Annotated[str, Meta(min_length=1, max_length=2000)]
AnswerText = Annotated[str, Meta(min_length=1, max_length=4000)]


class QuestionIn(Struct, forbid_unknown_fields=True):
    body: QuestionText


class AnswerIn(Struct, forbid_unknown_fields=True):
    body: AnswerText
    public: bool = False  # show the question and this answer on the product page


class VisibilityIn(Struct, forbid_unknown_fields=True):
    public: bool


class QuestionOut(Struct):
    """A question as its asker and the product page see it: never who asked."""

    id: int
    product_id: int
    product_title: str
    body: str
    answer: str | None
    answered_at: datetime | None
    is_public: bool
    created_at: datetime


class VendorQuestionOut(QuestionOut):
    """A question as the shop it was asked of sees it: also who asked, by display name."""

    buyer_id: int
    buyer_name: str
