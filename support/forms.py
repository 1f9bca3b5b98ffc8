"""Reading the message forms of the member's pages and of the console: the text, the optional
picture, and (a new conversation) the page it was written from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import msgspec
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from storage import STORAGE
from support.attachments import PictureUpload, PrivatePictures
from support.services import MAX_BODY, MAX_PAGE
from web.api import line, read_fields, text

# A textarea sends its text as typed, newlines as CRLF and any spaces around it: the service
# counts the message (services.clean_body: a newline as one character, the spaces around it
# dropped, 1 to MAX_BODY), so the form counts nothing tighter. Its own bound only stops a
# flood, far above any message (and the request's body is bounded before it: web.limits).
SENT_BODY = 64 * MAX_BODY


class MessageFields(msgspec.Struct, kw_only=True):
    body: Annotated[str, text(SENT_BODY)]
    page: Annotated[str, line(MAX_PAGE)] = ""


@dataclass(frozen=True)
class MessageForm:
    body: str
    page: str
    picture: PictureUpload | None
    email_me: bool  # the member's box "also email me the answer" (ticked: "yes")


def shelf(request: Request) -> PrivatePictures:
    """Where this app makes and keeps conversation pictures: its picture pool, and its
    storage's support/ folder (outside the public /media folder)."""
    return PrivatePictures(request.app.state.pictures, STORAGE.get())


def typed(form: FormData) -> dict[str, str]:
    """What was typed in the text fields, to read them and to show the form again. A field
    that is not text (a file part sent under a text field's name) is as if it were missing:
    never its file object's repr, kept as a message."""
    return {key: value for key in ("body", "page") if isinstance(value := form.get(key), str)}


async def read_message_form(request: Request, form: FormData) -> MessageForm:
    """The fields of a message form, bounded (ValidationError naming each bad one), its
    picture when one was chosen (an empty file field is none), and the member's mail box
    (a box left empty is not sent: False)."""
    try:
        values = typed(form)
        fields = read_fields({k: v for k, v in values.items() if v or k == "body"}, MessageFields)
        upload = form.get("picture")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
        email_me = form.get("email_me") == "yes"
    finally:
        await form.close()  # every file part, the picture's and any other, refused or not
    picture = PictureUpload(data, shelf(request)) if data else None
    return MessageForm(fields.body, fields.page, picture, email_me)
