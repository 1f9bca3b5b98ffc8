"""What a window promises on its page: its benefits (short lines) and FAQ, with their limits,
and the plain-text form the admin writes them in."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from errors import ValidationError

MAX_BENEFITS = 12
MAX_BENEFIT_LENGTH = 120
MAX_QUESTIONS = 12
MAX_QUESTION_LENGTH = 120
MAX_ANSWER_LENGTH = 1000

# Characters a page cannot show (C0/C1 controls, U+FFFE/U+FFFF); an answer may hold newlines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ufffe\uffff]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
# "Q:" / "Q：" / "问：" starts a question in the admin's text, "A:" / "答：" its answer.
_QUESTION = re.compile(r"^\s*(?:Q|问)\s*[:：]\s*", re.IGNORECASE)
_ANSWER = re.compile(r"^\s*(?:A|答)\s*[:：]\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Question:
    question: str
    answer: str

    def as_json(self) -> dict[str, str]:
        return {"question": self.question, "answer": self.answer}


def check_benefits(lines: Iterable[str]) -> list[str]:
    """The benefits as stored: each one line of 1 to MAX_BENEFIT_LENGTH characters (spaces
    inside folded), at most MAX_BENEFITS. Raises ValidationError("benefits")."""
    clean = [" ".join(str(line).split()) for line in lines]
    if len(clean) > MAX_BENEFITS:
        raise ValidationError("benefits", f"must have at most {MAX_BENEFITS} entries")
    for line in clean:
        if not line or _CONTROL.search(line):
            raise ValidationError("benefits", "must not be blank or hold control characters")
        if len(line) > MAX_BENEFIT_LENGTH:
            raise ValidationError(
                "benefits", f"each line must be at most {MAX_BENEFIT_LENGTH} characters"
            )
    return clean


def check_faq(entries: Sequence[Question]) -> list[Question]:
    """The FAQ as stored: at most MAX_QUESTIONS, each a one-line question of 1 to
    MAX_QUESTION_LENGTH characters and an answer of 1 to MAX_ANSWER_LENGTH (newlines kept).
    Raises ValidationError("faq")."""
    if len(entries) > MAX_QUESTIONS:
        raise ValidationError("faq", f"must have at most {MAX_QUESTIONS} entries")
    clean = []
    for entry in entries:
        question = " ".join(entry.question.split())
        answer = "\n".join(line.rstrip() for line in entry.answer.strip().splitlines())
        if (
            not question
            or not answer
            or _CONTROL.search(question)
            or _CONTROL_IN_TEXT.search(answer)
        ):
            raise ValidationError("faq", "each question needs a question and an answer")
        if len(question) > MAX_QUESTION_LENGTH:
            raise ValidationError(
                "faq", f"each question must be at most {MAX_QUESTION_LENGTH} characters"
            )
        if len(answer) > MAX_ANSWER_LENGTH:
            raise ValidationError(
                "faq", f"each answer must be at most {MAX_ANSWER_LENGTH} characters"
            )
        clean.append(Question(question, answer))
    return clean


def faq_of(stored: Iterable[dict[str, str]]) -> list[Question]:
    """A window's stored FAQ (EnrollmentWindow.faq) as questions."""
    return [Question(entry["question"], entry["answer"]) for entry in stored]


def benefits_from_text(text: str) -> list[str]:
    """The admin's textarea: one benefit per line, blank lines skipped."""
    return [line for line in text.splitlines() if line.strip()]


def faq_from_text(text: str) -> list[Question]:
    """The admin's textarea: each question on a line starting "Q:" (or 问：), its answer on
    the lines after, the first starting "A:" (or 答：). Raises ValidationError("faq") for
    text outside that shape."""
    entries: list[tuple[str, list[str]]] = []
    in_answer = False
    for line in text.splitlines():
        if _QUESTION.match(line):
            entries.append((_QUESTION.sub("", line, count=1), []))
            in_answer = False
        elif _ANSWER.match(line) and entries and not in_answer:
            entries[-1][1].append(_ANSWER.sub("", line, count=1))
            in_answer = True
        elif in_answer:
            entries[-1][1].append(line)
        elif line.strip():
            raise ValidationError("faq", "start each question with “Q:” and its answer with “A:”")
    return [Question(question, "\n".join(answer)) for question, answer in entries]


def faq_to_text(entries: Iterable[Question]) -> str:
    """The FAQ as the admin's textarea shows it (faq_from_text reads it back)."""
    return "\n\n".join(f"Q: {entry.question}\nA: {entry.answer}" for entry in entries)
