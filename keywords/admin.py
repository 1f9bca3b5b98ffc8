"""The console's keyword pages (Capability.FEED): the auto-replies (/admin/keywords), with a box
to try a word as a member would; a rule written or changed on a form of a few keyword rows and
reply rows that works without JavaScript (/admin/keywords/new, /admin/keywords/{id}); and what
members wanted (/admin/keywords/misses): the words nothing answered, each a button away from
a rule. The JSON API (keywords.api) is their twin over the same services."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts.roles import Capability
from community.feed.errors import UnknownKeyword
from errors import DomainError
from keywords import misses, rules, services, tasks
from keywords.matching import rule_book
from keywords.models import KEYWORD_MAX
from keywords.rule_form import RuleForm, form_values, read_rule_form, reply_options
from keywords.schemas import MissesQuery
from web.api import Query, line, read_query
from web.auth import staff_member, staff_only
from web.csrf import read_form
from web.errors import form_refused, in_reader_language
from web.rendering import flash, gettext_for, redirect_after_post, render


class TryQuery(Query):
    """The rules page: `word`, a word to try as a member would type it."""

    word: Annotated[str, line(100)] = ""


class NewRuleQuery(Query):
    """The new rule's form: `keyword` fills its first keyword (from the misses page)."""

    keyword: Annotated[str, line(100)] = ""


@staff_only(Capability.FEED)
async def rules_page(request: Request) -> Response:
    word = read_query(request, TryQuery).word
    tried: dict[str, Any] = {}
    if word.strip():
        # As the admin would see it, and counted nowhere: no lookup, hit or miss.
        try:
            tried["answer"] = await services.answer(
                word,
                now=datetime.now(UTC),
                reader=staff_member(request),
                memories=services.Memories.of(request.app.state.memory),
                count=False,
            )
        except UnknownKeyword as exc:
            tried["hint"] = exc.details.get("hint")
    await tasks.flush_counts(request.app.state.memory.keywords)  # this worker's hits, at least
    records = await rules.all_rules()
    named = [f"{r.kind.value}:{r.target_id}" for rec in records for r in rec.replies if r.target_id]
    return await render(
        request,
        "keywords/rules.html",
        {
            "rules": records,
            "names": (await reply_options(named)).names(),
            "word": word,
            "tried": tried,
        },
    )


async def _form_page(
    request: Request,
    *,
    form: RuleForm,
    rule_id: int | None = None,
    refusal: DomainError | None = None,
) -> Response:
    context = {
        "form": form,
        "rule_id": rule_id,
        "options": await reply_options(form.targets()),
        "keyword_max": KEYWORD_MAX,
    }
    if refusal is not None:
        if not form.errors:
            form.errors["form"] = in_reader_language(request, refusal)
        return await form_refused(request, "keywords/rule_form.html", context, refusal)
    return await render(request, "keywords/rule_form.html", context)


@staff_only(Capability.FEED)
async def new_rule(request: Request) -> Response:
    """The form; ?keyword= (from the misses page) fills its first keyword."""
    keyword = " ".join(read_query(request, NewRuleQuery).keyword.split())[:KEYWORD_MAX]
    return await _form_page(request, form=RuleForm.empty(keyword))


@staff_only(Capability.FEED)
async def edit_rule(request: Request) -> Response:
    record = await rules.get_rule(request.path_params["id"])
    return await _form_page(request, form=form_values(record), rule_id=record.id)


@staff_only(Capability.FEED)
async def save_rule(request: Request) -> Response:
    rule_id = request.path_params.get("id")
    values = await read_form(request)  # the CSRF check comes first, as on every form
    if rule_id is not None:
        await rules.get_rule(rule_id)  # 404 before the rule's fields are checked
    form = read_rule_form(values)
    memory = request.app.state.memory.keywords
    try:
        given = form.inputs()
        if rule_id is None:
            rule = await rules.create_rule(
                actor=staff_member(request), **given, now=datetime.now(UTC), memory=memory
            )
        else:
            rule = await rules.update_rule(
                rule_id, actor=staff_member(request), **given, now=datetime.now(UTC), memory=memory
            )
    except DomainError as exc:
        form.refused(exc)
        return await _form_page(request, form=form, rule_id=rule_id, refusal=exc)
    _ = gettext_for(request)
    flash(
        request,
        _("The auto-reply was saved.") if rule_id is None else _("The auto-reply was changed."),
        "success",
    )
    return redirect_after_post(request, links.path("keywords.admin.rules") + f"#rule-{rule.id}")


@staff_only(Capability.FEED)
async def delete_rule(request: Request) -> Response:
    await read_form(request)
    await rules.delete_rule(
        request.path_params["id"],
        actor=staff_member(request),
        now=datetime.now(UTC),
        memory=request.app.state.memory.keywords,
    )
    flash(request, gettext_for(request)("The auto-reply was deleted."), "success")
    return redirect_after_post(request, links.path("keywords.admin.rules"))


@staff_only(Capability.FEED)
async def misses_page(request: Request) -> Response:
    days = read_query(request, MissesQuery).days
    now = datetime.now(UTC)
    await tasks.flush_counts(request.app.state.memory.keywords)  # this worker's, at least
    found = await misses.missed(
        days=days, now=now, book=await rule_book(request.app.state.memory.keywords, now)
    )
    return await render(
        request,
        "keywords/misses.html",
        {
            "misses": found,
            "days": days,
            "keyword_max": KEYWORD_MAX,
            "kept_a_day": misses.KEYWORDS_A_DAY,
        },
    )


def routes() -> list[BaseRoute]:
    """The keyword pages' routes, built when the app factory asks (after `{id:id}` is known)."""
    rule = "/admin/keywords/{id:id}"
    return [
        Route("/admin/keywords", rules_page, methods=["GET"], name="keywords.admin.rules"),
        Route("/admin/keywords", save_rule, methods=["POST"], name="keywords.admin.create_rule"),
        Route("/admin/keywords/new", new_rule, methods=["GET"], name="keywords.admin.new_rule"),
        Route("/admin/keywords/misses", misses_page, methods=["GET"], name="keywords.admin.misses"),
        Route(rule, edit_rule, methods=["GET"], name="keywords.admin.rule"),
        Route(rule, save_rule, methods=["POST"], name="keywords.admin.save_rule"),
        Route(f"{rule}/delete", delete_rule, methods=["POST"], name="keywords.admin.delete_rule"),
    ]
