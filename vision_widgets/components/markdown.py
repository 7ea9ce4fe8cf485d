"""Markdown from an untrusted author (an LLM's answer) rendered to HTML that can do nothing.

ipywidgets' ``HTML`` widget sets ``innerHTML``, so whatever reaches it runs in the app's page, next
to every widget of the kernel. An LLM's answer is untrusted twice over: the model can be steered by
text it was given (a feature or model name chosen by someone else), and the endpoint itself may be
anyone's. Two layers, each enough alone for the obvious attacks:

1. **markdown-it-py with raw HTML off**: ``<script>`` or ``<img onerror=…>`` written in the answer
   comes out as escaped text, shown to the reader as what it is;
2. **nh3 (ammonia) with a strict allow-list** on the produced HTML: only the tags Markdown makes
   (no ``script``/``style``/``iframe``/``img``/``form``), no attribute but a link's ``href``/``title``
   and a table cell's ``colspan``/``rowspan``, no ``style``/``class``/``on*``, and links only to
   absolute ``http``, ``https`` and ``mailto`` addresses (``javascript:``, ``data:`` and relative or
   scheme-relative links such as ``/vision/api/…`` or ``//host`` lose their ``href``; their text
   stays), opened in a new tab with ``rel="noopener noreferrer nofollow"``. A relative link would
   point into this app, where the reader is logged in.

Images are not allowed at all: an image URL is fetched by the browser the moment it is shown, which
would let an answer send what it knows to any server (a prompt-injected "![](https://x/?q=…)").
"""
from __future__ import annotations

import ipywidgets as w
import nh3
from markdown_it import MarkdownIt

#: The tags Markdown produces that an answer may use (headings, paragraphs, lists, emphasis, code,
#: quotes, rules, tables, links).
TAGS = frozenset({
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "del", "s",
    "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "table", "thead", "tbody", "tr", "th", "td",
})
ATTRIBUTES = {"a": {"href", "title"}, "th": {"colspan", "rowspan"}, "td": {"colspan", "rowspan"},
              "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})

_PARSER = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"])


def _image_as_text(renderer, tokens, idx, options, env) -> str:
    """An image is shown as its alt text: never fetched (see the module's docstring)."""
    return renderer.renderInline(tokens[idx].children or [], options, env)


_PARSER.add_render_rule("image", _image_as_text)


def _absolute_links_only(tag: str, attribute: str, value: str) -> str | None:
    """nh3's schemes list lets relative URLs through: keep an ``href`` only with an allowed scheme."""
    if tag == "a" and attribute == "href":
        scheme, colon, _ = value.strip().partition(":")
        return value if colon and scheme.lower() in URL_SCHEMES and not scheme.startswith("/") else None
    return value


def sanitise(html: str) -> str:
    """``html`` cut down to the allow-list: the last guard before an ``HTML`` widget."""
    return nh3.clean(
        html,
        tags=set(TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
        attribute_filter=_absolute_links_only,
    )


def render(text: str) -> str:
    """Markdown ``text`` as sanitised HTML (raw HTML in ``text`` is shown as text, never parsed)."""
    return sanitise(_PARSER.render(text or ""))


class MarkdownView(w.HTML):
    """An ``HTML`` widget that only ever shows rendered, sanitised Markdown (``show(text)``)."""

    def __init__(self, text: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_class("vision-markdown")
        self.markdown = ""
        self.show(text)

    def show(self, text: str) -> None:
        """Replace what is shown by ``text`` rendered."""
        self.value = render(text)
        self.markdown = text
