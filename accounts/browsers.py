"""What a person calls the browser behind a session ("Chrome 131 on Windows 10"), read from its
stored user agent by ua-parser: its bundled rules (ua-parser-builtins) are kept up to date by
that project, so we write no user-agent regexes of our own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from ua_parser import parse

from accounts.sessions import OpenSession

# ua-parser's family names, as people say them.
_SAID_AS = {
    "WeChat Browser": "WeChat",
    "Mobile Safari": "Safari",
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Firefox Mobile": "Firefox",
    "Mac OS X": "macOS",
}
# Systems whose user agent carries a frozen version (every Mac says 10.15): name only.
_NO_VERSION = frozenset({"macOS", "Linux", "Ubuntu", "Chrome OS"})


@dataclass(frozen=True)
class Browser:
    """A user agent as a person reads it: "Chrome 131", "Windows 10"; "" where unknown."""

    browser: str
    system: str


def _browser_version(major: str | None, minor: str | None) -> str:
    # Chrome, Firefox and Edge count releases in the major (131); the rest (WeChat 8.0,
    # Safari 17.4) say something in the minor too.
    if not major:
        return ""
    if minor and major.isdigit() and int(major) < 20:
        return f"{major}.{minor}"
    return major


@lru_cache(maxsize=1024)
def browser_of(user_agent: str) -> Browser:
    """The browser and system a user agent names (cached: the same few come back often)."""
    found = parse(user_agent[:500])
    browser = system = ""
    if found.user_agent is not None and found.user_agent.family != "Other":
        family = _SAID_AS.get(found.user_agent.family, found.user_agent.family)
        version = _browser_version(found.user_agent.major, found.user_agent.minor)
        browser = f"{family} {version}".strip()
    if found.os is not None and found.os.family != "Other":
        family = _SAID_AS.get(found.os.family, found.os.family)
        version = "" if family in _NO_VERSION else found.os.major or ""
        system = f"{family} {version}".strip()
    elif found.device is not None and found.device.family != "Other":
        system = found.device.family
    return Browser(browser=browser, system=system)


def device_name(session: OpenSession, gettext: Callable[[str], str]) -> str:
    """How the account page and the API name a way into the account: "Chrome 131 on Windows
    10", "WeChat 8.0 on iOS 17", "Unknown browser", or an API token by its name."""
    if session.kind == "token":
        if session.user_agent:  # the token's name, after a colon of the reader's language
            return gettext("API token: %(name)s") % {"name": session.user_agent}
        return gettext("API token")
    named = browser_of(session.user_agent)
    if not named.browser:
        return gettext("Unknown browser")
    if not named.system:
        return named.browser
    return gettext("%(browser)s on %(system)s") % {
        "browser": named.browser,
        "system": named.system,
    }
